/* An in-process NBD server over a Unix socket that serves a vd_image, so
 * that libguestfs (whose qemu cannot read our VHD chains) reaches any image
 * format, and writes land where the image library puts them (a --into
 * child). */
#ifndef DRIVERS_INJECT_NBD_BRIDGE_H
#define DRIVERS_INJECT_NBD_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "formats/image.h"

struct nbd_bridge;

/* The protocol side, without sockets or images, so that a fuzz harness
 * drives exactly the code that faces the client. Nothing the client sends
 * is trusted. */
#define NBD_IHAVEOPT 0x49484156454F5054ull
#define NBD_REQUEST_MAGIC 0x25609513u
#define NBD_CMD_READ 0
#define NBD_CMD_WRITE 1
#define NBD_CMD_DISC 2
#define NBD_CMD_FLUSH 3
#define NBD_CMD_TRIM 4
#define NBD_CMD_WRITE_ZEROES 6
#define NBD_OPTION_HEADER 16
#define NBD_REQUEST_HEADER 28
#define NBD_MAX_OPTION 4096u
#define NBD_MAX_REQUEST (32u << 20)

struct nbd_option {
    uint32_t option, length;
};

struct nbd_request {
    uint16_t flags, type;
    uint8_t handle[8];
    uint64_t offset;
    uint32_t length;
};

/* An option header: 0, or -1 to hang up (bad magic, data over
 * NBD_MAX_OPTION). */
int nbd_parse_option(const uint8_t h[NBD_OPTION_HEADER], struct nbd_option *o);
/* NBD_OPT_GO's data (name and info requests): 0 when well formed, else the
 * NBD_REP_ERR_ reply to send. */
uint32_t nbd_check_go(const uint8_t *data, uint32_t len);
/* A request header against an export of SIZE bytes: 0 to execute it (its
 * range then lies inside the export and is at most NBD_MAX_REQUEST bytes),
 * a positive errno to reply with, or -1 to hang up (bad magic, DISC, a
 * WRITE whose payload cannot be taken). */
int nbd_parse_request(const uint8_t rq[NBD_REQUEST_HEADER], uint64_t size, bool writable,
                      struct nbd_request *r);

/* One connection: I/O callbacks and the export. recv and send move exactly
 * LEN bytes or return -1; execute runs a request nbd_parse_request
 * accepted (BUF holds a WRITE's payload, receives a READ's data) and
 * returns 0 or an errno for the reply. */
struct nbd_session {
    void *opaque;
    int (*recv)(void *opaque, void *buf, size_t len);
    int (*send)(void *opaque, const void *buf, size_t len);
    uint32_t (*execute)(void *opaque, const struct nbd_request *r, uint8_t *buf);
    uint64_t size;
    bool writable;
};

/* Handshake (fixed newstyle; OPT_GO or EXPORT_NAME) then requests with
 * simple replies, until DISC, a protocol error or the peer going away. */
void nbd_session_run(struct nbd_session *s);

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
