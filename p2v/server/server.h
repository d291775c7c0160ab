/* p2v serve: the receiver on the conversion host. */
#ifndef P2V_SERVER_SERVER_H
#define P2V_SERVER_SERVER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "formats/image.h"
#include "p2v/proto/auth.h"
#include "p2v/proto/proto.h"

/* One disk of a machine being received. */
struct srv_disk {
    uint64_t size;
    uint32_t sector_size;
    uint64_t received;      /* every chunk below this has been processed */
    uint64_t durable;       /* ... and is fsync'd and in the journal */
    bool verified;          /* the whole-disk SHA-256 matched */
    uint8_t final[32];      /* that digest, once verified */
    struct p2v_digest dig;  /* running digest up to `received` */
    struct p2v_digest dig_durable; /* ... up to `durable`, as journaled */
    struct vd_image *img;
    uint64_t written_end;   /* the image may hold data below this (not journaled:
                             * a reopened image counts as written throughout) */
};

/* DIR/NAME/: images, manifest.xml, state (the journal) and log. */
struct srv_session {
    char name[P2V_MAX_NAME + 1];
    char dir[PATH_MAX];
    uint8_t id[P2V_SESSION_ID_SIZE];
    char format[16];
    bool complete;
    bool no_digest;         /* the agent asked for chunk checksums only */
    int ndisks;
    struct srv_disk disks[P2V_MAX_DISKS];
};

int p2v_serve_main(int argc, char **argv);

/* state.c: the journal DIR/NAME/state, replaced atomically (write a
 * temporary file, fsync, rename, fsync the directory). A missing file is
 * -ENOENT; a damaged one -EUCLEAN with *errp set; one of protocol 1
 * -ENOTSUP with *errp and s->complete set. */
int srv_state_load(struct srv_session *s, struct vd_error **errp);
int srv_state_save(const struct srv_session *s, struct vd_error **errp);
/* The image file of disk I: DIR/NAME/diskI.vhd (or .raw). */
void srv_image_path(const struct srv_session *s, int i, char *out, size_t len);
/* Writes DIR/NAME/FILE atomically. */
int srv_write_file(const char *dir, const char *file, const void *data, size_t len,
                   struct vd_error **errp);

#endif
