/* The guest's screen while it runs: a VNC (RFB) server on the VGA taking
 * keyboard and mouse input into the i8042, and the --screenshot and
 * --screen-dump files refreshed every second. Serviced from a machine
 * timer: never a busy wait, never a blocking call. */
#ifndef VMM_VNC_H
#define VMM_VNC_H

#include "common/error.h"

struct machine;
struct vnc;

struct vnc_config {
    const char *listen;         /* ":N" (127.0.0.1:5900+N), "unix:PATH", or NULL: no server */
    const char *screenshot;     /* PNG refreshed while running, or NULL */
    const char *screen_dump;    /* text refreshed while running, or NULL */
};

/* Checks a --vnc argument; 0 or -EINVAL with *errp set. */
int vnc_parse(const char *listen, struct vd_error **errp);
/* Starts serving machine M (which must have a VGA for a server). */
int vnc_start(struct vnc **out, const struct vnc_config *cfg, struct machine *m,
              struct vd_error **errp);
void vnc_stop(struct vnc *v);

#endif
