/* An in-process NBD server over a Unix socket that serves a vd_image, so
 * that libguestfs (whose qemu cannot read our VHD chains) reaches any image
 * format, and writes land where the image library puts them (a --into
 * child). */
#ifndef DRIVERS_INJECT_NBD_BRIDGE_H
#define DRIVERS_INJECT_NBD_BRIDGE_H

#include <stdbool.h>

#include "common/error.h"
#include "formats/image.h"

struct nbd_bridge;

/* Starts serving IMG; WRITABLE is what the export advertises (writes still
 * fail while the served image is read-only). */
int nbd_bridge_start(struct vd_image *img, bool writable, struct nbd_bridge **bp,
                     struct vd_error **errp);
/* The socket path, for "unix:PATH". */
const char *nbd_bridge_socket(const struct nbd_bridge *b);
/* Serves IMG from the next request on (same content, now writable). */
void nbd_bridge_switch(struct nbd_bridge *b, struct vd_image *img);
/* Stops the thread (after the client disconnected) and removes the socket. */
void nbd_bridge_stop(struct nbd_bridge *b);

#endif
