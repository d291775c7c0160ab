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
#define NBD_IHAVEOPT 0x49484156454F5054ull
#define NBD_REPLY_MAGIC 0x3e889045565a9ull
#define NBD_REQUEST_MAGIC 0x25609513u
#define NBD_SIMPLE_REPLY_MAGIC 0x67446698u
#define NBD_OPT_EXPORT_NAME 1
#define NBD_OPT_ABORT 2
#define NBD_OPT_GO 7
#define NBD_REP_ACK 1
#define NBD_REP_INFO 3
#define NBD_REP_ERR_UNSUP 0x80000001u
#define NBD_FLAG_HAS_FLAGS 1
#define NBD_FLAG_READ_ONLY 2
#define NBD_FLAG_SEND_FLUSH 4
#define NBD_FLAG_SEND_TRIM 32
#define NBD_FLAG_SEND_WRITE_ZEROES 64
#define NBD_CMD_READ 0
#define NBD_CMD_WRITE 1
#define NBD_CMD_DISC 2
#define NBD_CMD_FLUSH 3
#define NBD_CMD_TRIM 4
#define NBD_CMD_WRITE_ZEROES 6
#define MAX_REQUEST (32u << 20)
#define MAX_OPTION 4096

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

static int read_full(int fd, void *buf, size_t len)
{
    return transfer(fd, buf, len, false);
}

static int write_full(int fd, const void *buf, size_t len)
{
    return transfer(fd, (void *)(uintptr_t)buf, len, true);
}

static int option_reply(int fd, uint32_t option, uint32_t type, const void *data, uint32_t len)
{
    uint8_t h[20];
    put_be64(h, NBD_REPLY_MAGIC);
    put_be32(h + 8, option);
    put_be32(h + 12, type);
    put_be32(h + 16, len);
    return write_full(fd, h, sizeof(h)) < 0 || (len && write_full(fd, data, len) < 0) ? -1 : 0;
}

static uint16_t export_flags(const struct nbd_bridge *b)
{
    return NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES |
           (b->writable ? 0 : NBD_FLAG_READ_ONLY);
}

/* Handshake; returns 0 when the client enters transmission. */
static int handshake(struct nbd_bridge *b, int fd)
{
    uint8_t hello[18];
    put_be64(hello, NBD_MAGIC);
    put_be64(hello + 8, NBD_IHAVEOPT);
    put_be16(hello + 16, 1 | 2);    /* FIXED_NEWSTYLE | NO_ZEROES */
    uint8_t cflags[4];
    if (write_full(fd, hello, sizeof(hello)) < 0 || read_full(fd, cflags, 4) < 0)
        return -1;
    bool no_zeroes = get_be32(cflags) & 2;
    for (;;) {
        uint8_t oh[16];
        if (read_full(fd, oh, sizeof(oh)) < 0 || get_be64(oh) != NBD_IHAVEOPT)
            return -1;
        uint32_t option = get_be32(oh + 8), len = get_be32(oh + 12);
        if (len > MAX_OPTION)
            return -1;
        uint8_t data[MAX_OPTION];
        if (len && read_full(fd, data, len) < 0)
            return -1;
        if (option == NBD_OPT_EXPORT_NAME) {
            uint8_t r[10 + 124];
            memset(r, 0, sizeof(r));
            put_be64(r, b->size);
            put_be16(r + 8, export_flags(b));
            return write_full(fd, r, no_zeroes ? 10 : sizeof(r));
        }
        if (option == NBD_OPT_GO) {
            uint8_t info[12];
            put_be16(info, 0);      /* NBD_INFO_EXPORT */
            put_be64(info + 2, b->size);
            put_be16(info + 10, export_flags(b));
            if (option_reply(fd, option, NBD_REP_INFO, info, sizeof(info)) < 0 ||
                option_reply(fd, option, NBD_REP_ACK, NULL, 0) < 0)
                return -1;
            return 0;
        }
        if (option == NBD_OPT_ABORT) {
            option_reply(fd, option, NBD_REP_ACK, NULL, 0);
            return -1;
        }
        if (option_reply(fd, option, NBD_REP_ERR_UNSUP, NULL, 0) < 0)
            return -1;
    }
}

static void serve(struct nbd_bridge *b, int fd)
{
    if (handshake(b, fd) < 0)
        return;
    uint8_t *buf = malloc(MAX_REQUEST);
    if (!buf)
        return;
    for (;;) {
        uint8_t rq[28];
        if (read_full(fd, rq, sizeof(rq)) < 0 || get_be32(rq) != NBD_REQUEST_MAGIC)
            break;
        uint16_t type = get_be16(rq + 6);
        uint64_t off = get_be64(rq + 16);
        uint32_t len = get_be32(rq + 24);
        uint32_t error = 0;
        if (type == NBD_CMD_DISC)
            break;
        bool bad = len > MAX_REQUEST || off > b->size || len > b->size - off;
        if (type == NBD_CMD_WRITE && (bad || read_full(fd, buf, len) < 0))
            break;  /* cannot resynchronise after a bad write length */
        pthread_mutex_lock(&b->lock);
        struct vd_image *img = b->img;
        if (bad)
            error = EINVAL;
        else if (type == NBD_CMD_READ)
            error = vd_image_pread(img, buf, len, off, NULL) < 0 ? EIO : 0;
        else if ((type == NBD_CMD_WRITE || type == NBD_CMD_WRITE_ZEROES) && !b->writable)
            error = EPERM;
        else if (type == NBD_CMD_WRITE)
            error = vd_image_pwrite(img, buf, len, off, NULL) < 0 ? EIO : 0;
        else if (type == NBD_CMD_WRITE_ZEROES)
            error = vd_image_write_zeroes(img, len, off, NULL) < 0 ? EIO : 0;
        else if (type == NBD_CMD_FLUSH)
            error = b->writable && vd_image_flush(img, NULL) < 0 ? EIO : 0;
        else if (type != NBD_CMD_TRIM)
            error = EINVAL;
        pthread_mutex_unlock(&b->lock);
        uint8_t rep[16];
        put_be32(rep, NBD_SIMPLE_REPLY_MAGIC);
        put_be32(rep + 4, error);
        memcpy(rep + 8, rq + 8, 8);
        if (write_full(fd, rep, sizeof(rep)) < 0 ||
            (type == NBD_CMD_READ && !error && write_full(fd, buf, len) < 0))
            break;
    }
    free(buf);
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
