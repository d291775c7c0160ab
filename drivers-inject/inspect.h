/* Guest inspection: fills ctx->g, mounts the system volume read-only
 * (ctx->vol), loads SYSTEM and SOFTWARE, and adds the image's own driver
 * cabinets to ctx->packs. */
#ifndef DRIVERS_INJECT_INSPECT_H
#define DRIVERS_INJECT_INSPECT_H

#include "drivers-inject/inject.h"

int inspect_guest(struct inject *ctx, struct vd_error **errp);
/* Fills ctx->g.net_drivers: the drivers the guest has for the NICs that
 * hypervisors emulate (net-drivers.c). Called by the inspection. */
void inspect_net_drivers(struct inject *ctx);

#endif
