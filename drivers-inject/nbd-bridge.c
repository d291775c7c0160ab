/* A minimal NBD server (fixed newstyle handshake, OPT_GO/EXPORT_NAME,
 * READ/WRITE/FLUSH/TRIM/WRITE_ZEROES/DISC, simple replies) on a Unix
 * socket, in a thread, serving a vd_image: how libguestfs' qemu reads and
 * writes VHD chains (and --into children) through our image library. One
 * client at a time; nothing in a request is trusted (lengths and offsets
 * are checked against the export). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/endian.h"
#include "drivers-inject/nbd-bridge.h"

#define NBD_MAGIC 0x4e42444d41474943ull      /* "NBDMAGIC" */
#define NBD_REPLY_MAGIC 0x3e889045565a9ull
#define NBD_SIMPLE_REPLY_MAGIC 0x67446698u
#define NBD_OPT_EXPORT_NAME 1
#define NBD_OPT_ABORT 2
#define NBD_OPT_GO 7
#define NBD_REP_ACK 1
#define NBD_REP_INFO 3
#define NBD_REP_ERR_UNSUP 0x80000001u
#define NBD_REP_ERR_INVALID 0x80000003u
#define NBD_FLAG_FIXED_NEWSTYLE 1
#define NBD_FLAG_NO_ZEROES 2
#define NBD_FLAG_HAS_FLAGS 1
#define NBD_FLAG_READ_ONLY 2
#define NBD_FLAG_SEND_FLUSH 4
#define NBD_FLAG_SEND_TRIM 32
#define NBD_FLAG_SEND_WRITE_ZEROES 64

struct nbd_bridge {
    char dir[64];
    char path[96];
    int listen_fd;
    pthread_t thread;
    pthread_mutex_t lock;
    struct vd_image *img;
    bool writable;
    bool stop;
    uint64_t size;
};

/* Moves exactly LEN bytes (a short transfer is the peer going away). */
static int transfer(int fd, void *buf, size_t len, bool out)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = out ? write(fd, p, len) : read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int nbd_parse_option(const uint8_t h[NBD_OPTION_HEADER], struct nbd_option *o)
{
    if (get_be64(h) != NBD_IHAVEOPT)
        return -1;
    o->option = get_be32(h + 8);
    o->length = get_be32(h + 12);
    return o->length > NBD_MAX_OPTION ? -1 : 0;
}

uint32_t nbd_check_go(const uint8_t *data, uint32_t len)
{
    /* u32 name length, name, u16 number of info requests, u16 each. */
    if (len < 6)
        return NBD_REP_ERR_INVALID;
    uint32_t name_len = get_be32(data);
    if (name_len > len - 6)
        return NBD_REP_ERR_INVALID;
    uint32_t n_info = get_be16(data + 4 + name_len);
    return len - 6 - name_len == 2 * n_info ? 0 : NBD_REP_ERR_INVALID;
}

int nbd_parse_request(const uint8_t rq[NBD_REQUEST_HEADER], uint64_t size, bool writable,
                      struct nbd_request *r)
{
    if (get_be32(rq) != NBD_REQUEST_MAGIC)
        return -1;
    r->flags = get_be16(rq + 4);
    r->type = get_be16(rq + 6);
    memcpy(r->handle, rq + 8, 8);
    r->offset = get_be64(rq + 16);
    r->length = get_be32(rq + 24);
    if (r->type == NBD_CMD_DISC)
        return -1;
    bool in_export = r->length <= NBD_MAX_REQUEST && r->offset <= size && r->length <= size - r->offset;
    if (r->type == NBD_CMD_WRITE && !in_export)
        return -1;  /* its payload cannot be skipped safely: hang up */
    switch (r->type) {
    case NBD_CMD_READ:
    case NBD_CMD_TRIM:
        return in_export ? 0 : EINVAL;
    case NBD_CMD_WRITE:
    case NBD_CMD_WRITE_ZEROES:
        return !in_export ? EINVAL : !writable ? EPERM : 0;
    case NBD_CMD_FLUSH:
        return 0;
    default:
        return EINVAL;
    }
}

static int option_reply(struct nbd_session *s, uint32_t option, uint32_t type, const void *data,
                        uint32_t len)
{
    uint8_t h[20];
    put_be64(h, NBD_REPLY_MAGIC);
    put_be32(h + 8, option);
    put_be32(h + 12, type);
    put_be32(h + 16, len);
    return s->send(s->opaque, h, sizeof(h)) < 0 || (len && s->send(s->opaque, data, len) < 0) ? -1 : 0;
}

static uint16_t export_flags(const struct nbd_session *s)
{
    return NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES |
           (s->writable ? 0 : NBD_FLAG_READ_ONLY);
}

/* Handshake; returns 0 when the client enters transmission. */
static int handshake(struct nbd_session *s)
{
    uint8_t hello[18];
    put_be64(hello, NBD_MAGIC);
    put_be64(hello + 8, NBD_IHAVEOPT);
    put_be16(hello + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
    uint8_t cflags[4];
    if (s->send(s->opaque, hello, sizeof(hello)) < 0 || s->recv(s->opaque, cflags, 4) < 0)
        return -1;
    uint32_t client_flags = get_be32(cflags);
    if (client_flags & ~(uint32_t)(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES))
        return -1;  /* the protocol says: flags we do not know end the session */
    bool no_zeroes = client_flags & NBD_FLAG_NO_ZEROES;
    for (;;) {
        uint8_t oh[NBD_OPTION_HEADER];
        struct nbd_option o;
        if (s->recv(s->opaque, oh, sizeof(oh)) < 0 || nbd_parse_option(oh, &o) < 0)
            return -1;
        uint8_t data[NBD_MAX_OPTION];
        if (o.length && s->recv(s->opaque, data, o.length) < 0)
            return -1;
        if (o.option == NBD_OPT_EXPORT_NAME) {
            uint8_t r[10 + 124];
            memset(r, 0, sizeof(r));
            put_be64(r, s->size);
            put_be16(r + 8, export_flags(s));
            return s->send(s->opaque, r, no_zeroes ? 10 : sizeof(r));
        }
        if (o.option == NBD_OPT_GO) {
            uint32_t err = nbd_check_go(data, o.length);
            if (err) {
                if (option_reply(s, o.option, err, NULL, 0) < 0)
                    return -1;
                continue;
            }
            uint8_t info[12];
            put_be16(info, 0);      /* NBD_INFO_EXPORT */
            put_be64(info + 2, s->size);
            put_be16(info + 10, export_flags(s));
            if (option_reply(s, o.option, NBD_REP_INFO, info, sizeof(info)) < 0 ||
                option_reply(s, o.option, NBD_REP_ACK, NULL, 0) < 0)
                return -1;
            return 0;
        }
        if (o.option == NBD_OPT_ABORT) {
            option_reply(s, o.option, NBD_REP_ACK, NULL, 0);
            return -1;
        }
        if (option_reply(s, o.option, NBD_REP_ERR_UNSUP, NULL, 0) < 0)
            return -1;
    }
}

void nbd_session_run(struct nbd_session *s)
{
    if (handshake(s) < 0)
        return;
    uint8_t *buf = malloc(s->size < NBD_MAX_REQUEST ? (size_t)s->size + 1 : NBD_MAX_REQUEST);
    if (!buf)
        return;
    for (;;) {
        uint8_t rq[NBD_REQUEST_HEADER];
        struct nbd_request r;
        if (s->recv(s->opaque, rq, sizeof(rq)) < 0)
            break;
        int verdict = nbd_parse_request(rq, s->size, s->writable, &r);
        if (verdict < 0 || (r.type == NBD_CMD_WRITE && s->recv(s->opaque, buf, r.length) < 0))
            break;
        uint32_t error = verdict ? (uint32_t)verdict : s->execute(s->opaque, &r, buf);
        uint8_t rep[16];
        put_be32(rep, NBD_SIMPLE_REPLY_MAGIC);
        put_be32(rep + 4, error);
        memcpy(rep + 8, r.handle, 8);
        if (s->send(s->opaque, rep, sizeof(rep)) < 0 ||
            (r.type == NBD_CMD_READ && !error && s->send(s->opaque, buf, r.length) < 0))
            break;
    }
    free(buf);
}

/* One client connection of the bridge. */
struct bridge_conn {
    int fd;
    struct nbd_bridge *b;
};

static int socket_recv(void *opaque, void *buf, size_t len)
{
    return transfer(((struct bridge_conn *)opaque)->fd, buf, len, false);
}

static int socket_send(void *opaque, const void *buf, size_t len)
{
    return transfer(((struct bridge_conn *)opaque)->fd, (void *)(uintptr_t)buf, len, true);
}

/* A checked request on the served image (switched under the lock). */
static uint32_t bridge_execute(void *opaque, const struct nbd_request *r, uint8_t *buf)
{
    struct nbd_bridge *b = ((struct bridge_conn *)opaque)->b;
    uint32_t error = 0;
    pthread_mutex_lock(&b->lock);
    struct vd_image *img = b->img;
    if (r->type == NBD_CMD_READ)
        error = vd_image_pread(img, buf, r->length, r->offset, NULL) < 0 ? EIO : 0;
    else if (r->type == NBD_CMD_WRITE)
        error = vd_image_pwrite(img, buf, r->length, r->offset, NULL) < 0 ? EIO : 0;
    else if (r->type == NBD_CMD_WRITE_ZEROES)
        error = vd_image_write_zeroes(img, r->length, r->offset, NULL) < 0 ? EIO : 0;
    else if (r->type == NBD_CMD_FLUSH)
        error = b->writable && vd_image_flush(img, NULL) < 0 ? EIO : 0;
    pthread_mutex_unlock(&b->lock);
    return error;
}

static void serve(struct nbd_bridge *b, int fd)
{
    struct bridge_conn conn = { .fd = fd, .b = b };
    pthread_mutex_lock(&b->lock);
    struct nbd_session s = {
        .opaque = &conn, .recv = socket_recv, .send = socket_send, .execute = bridge_execute,
        .size = b->size, .writable = b->writable,
    };
    pthread_mutex_unlock(&b->lock);
    nbd_session_run(&s);
}

static void *bridge_main(void *arg)
{
    struct nbd_bridge *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->lock);
        bool stop = b->stop;
        pthread_mutex_unlock(&b->lock);
        if (stop)
            break;
        struct pollfd p = { .fd = b->listen_fd, .events = POLLIN };
        if (poll(&p, 1, 200) <= 0)
            continue;
        int fd = accept(b->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        serve(b, fd);
        close(fd);
    }
    return NULL;
}

int nbd_bridge_start(struct vd_image *img, bool writable, struct nbd_bridge **bp, struct vd_error **errp)
{
    struct nbd_bridge *b = calloc(1, sizeof(*b));
    if (!b)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    const char *tmpdir = getenv("TMPDIR");
    snprintf(b->dir, sizeof(b->dir), "%.40s/p2vkit-nbd-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(b->dir)) {
        int e = -errno;
        free(b);
        return vd_error_set_errno(errp, e, "cannot create a socket directory");
    }
    snprintf(b->path, sizeof(b->path), "%s/sock", b->dir);
    b->img = img;
    b->writable = writable;
    b->size = vd_image_size(img);
    pthread_mutex_init(&b->lock, NULL);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", b->path);
    b->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ret = 0;
    if (b->listen_fd < 0 || bind(b->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(b->listen_fd, 4) < 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot listen", b->path);
    if (ret == 0 && (errno = pthread_create(&b->thread, NULL, bridge_main, b)) != 0)
        ret = vd_error_set_errno(errp, -errno, "cannot start the NBD bridge thread");
    if (ret < 0) {
        if (b->listen_fd >= 0)
            close(b->listen_fd);
        unlink(b->path);
        rmdir(b->dir);
        pthread_mutex_destroy(&b->lock);
        free(b);
        return ret;
    }
    *bp = b;
    return 0;
}

const char *nbd_bridge_socket(const struct nbd_bridge *b)
{
    return b->path;
}

void nbd_bridge_switch(struct nbd_bridge *b, struct vd_image *img)
{
    pthread_mutex_lock(&b->lock);
    b->img = img;
    b->size = vd_image_size(img);
    pthread_mutex_unlock(&b->lock);
}

void nbd_bridge_stop(struct nbd_bridge *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->lock);
    b->stop = true;
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->thread, NULL);
    close(b->listen_fd);
    unlink(b->path);
    rmdir(b->dir);
    pthread_mutex_destroy(&b->lock);
    free(b);
}
