/* boot.ini helpers shared by the fixups that edit it. */
#ifndef DRIVERS_INJECT_BOOTINI_H
#define DRIVERS_INJECT_BOOTINI_H

#include "drivers-inject/inject.h"

/* Fills g->boot_default and g->boot_entries from g->boot_ini. */
void boot_ini_parse(struct guest *g);
/* Stages TEXT as the new boot.ini and makes it the one later fixups read. */
int boot_ini_stage(struct inject *ctx, const char *text, struct vd_error **errp);
/* The ARC path of an [operating systems] line (the text before '='). */
void boot_ini_arc(const char *line, char *out, size_t len);

#endif
