/* p2v serve: accepts agents (one thread each), authenticates them with the
 * shared token, writes each machine's disks into DIR/NAME/ through the
 * image library, verifies every chunk and each disk's digest, and keeps a
 * journal so that either side may die and the capture resumes. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <openssl/crypto.h>

#define XC(s) ((const xmlChar *)(s))
#include <xxhash.h>
#include <zstd.h>

#include "p2v/proto/conn.h"
#include "p2v/server/server.h"

#define MAX_CONNECTIONS 64
/* Before authentication a peer is a stranger: at most this many of them
 * at once (the other slots stay for authenticated sessions), at most
 * PREAUTH_PER_ADDR from one address, each for at most --auth-timeout
 * seconds in all, TLS handshake included. */
#define MAX_PREAUTH 16
/* Room for connections cut but not gone yet (their threads are waking up),
 * so that one cut to make room does not block the one it made room for. */
#define PREAUTH_ENTRIES (2 * MAX_PREAUTH)
#define PREAUTH_PER_ADDR 4
#define AUTH_TIMEOUT_DEFAULT_S 10
#define SYNC_EVERY_CHUNKS 32
#define MAX_RESENDS 5
#define HANDSHAKE_TIMEOUT_MS 30000
#define IDLE_LIMIT_S 120
#define WRITE_QUEUE 8

/* Set by SIGINT/SIGTERM: the one piece of process-wide state a signal
 * handler can touch (a lock-free atomic: connection threads read it).
 * Everything else hangs off struct server. */
static atomic_int stop_requested;

struct server {
    const char *dir;
    const char *format;
    bool once, force;
    struct p2v_token tok;
    SSL_CTX *tls;
    int log_fd;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int running;                            /* connection threads */
    int completed, failed;                  /* captures finished */
    char active[MAX_CONNECTIONS][P2V_MAX_NAME + 1];
    /* Unauthenticated connections, watched by the accepting thread, which
     * shuts down the socket of one past its deadline or evicted (that ends
     * any read or TLS handshake its thread is blocked in). Under lock. */
    struct preauth {
        int fd;                             /* a dup of the socket, or -1: free */
        char addr[64];                      /* the peer's numeric address */
        struct timespec since, deadline;    /* CLOCK_MONOTONIC */
        bool hello;                         /* a well-formed HELLO came */
        const char *cut;                    /* why its socket was shut down, or NULL */
    } preauth[PREAUTH_ENTRIES];
    int auth_timeout_s;
    time_t refusal_logged;                  /* refusals at accept: one log line a second */
    unsigned refusals_unlogged;
};

#define MAX_VERIFIERS 4

/* A received chunk on its way to the image: queued by the connection
 * thread, checked by a verifier, written in order by the writer. */
enum wslot_state { WSLOT_QUEUED, WSLOT_CHECKED };

struct wslot {
    enum wslot_state state;
    int disk;
    uint64_t offset;
    uint32_t len;
    enum p2v_chunk_encoding encoding;
    uint64_t checksum;
    uint8_t *frame;             /* the received frame (P2V_HEADER_SIZE + P2V_MAX_BODY) */
    const uint8_t *payload;     /* in frame */
    uint32_t payload_len;
    uint8_t *plain;             /* a decompressed chunk (zstd sessions) */
    const uint8_t *data;        /* the content: payload, plain or zeros */
    const char *bad;            /* why the check failed, or NULL */
    uint8_t leaf[32];
};

/* Per connection: verifier threads check chunks (decompress, leaf SHA-256
 * or XXH3) in parallel; the writer thread takes them in order, asks for a
 * bad one again (through the connection thread, which alone talks to the
 * agent), writes, feeds the disk digests and makes durable points, while
 * the connection thread receives the next chunks. While the writer runs it
 * owns the disks' received, durable and digest fields; the connection
 * thread touches them only after writer_drain(). */
struct writer {
    pthread_t thread, verifier[MAX_VERIFIERS];
    ZSTD_DCtx *dctx[MAX_VERIFIERS];
    int nverifiers, started;
    bool stop;
    pthread_mutex_t lock;
    /* one per kind of waiter, so that each change wakes only who needs it */
    pthread_cond_t queued;      /* for the verifiers: a chunk to check */
    pthread_cond_t checked;     /* for the writer: a chunk checked */
    pthread_cond_t freed;       /* for the connection thread: a slot written */
    struct wslot q[WRITE_QUEUE];
    unsigned head, claimed, tail;   /* next to fill, to check, to write */
    /* the writer's own state */
    int nak_disk;               /* dropping chunks until this one comes again */
    uint64_t nak_offset;
    int resends;
    uint64_t dropped;
    /* for the connection thread */
    int fail_code;              /* the writer failed: code and why */
    char why[220];
    int ack_disk;               /* a durable point to acknowledge, or -1 */
    uint64_t ack_offset;
    int req_disk;               /* a chunk to ask for again, or -1 */
    uint64_t req_offset;
    const char *req_why;
};

struct conn_ctx {
    struct server *srv;
    int fd;
    struct p2v_conn *c;
    struct srv_session *sess;
    int sess_log;
    uint8_t *zeros;             /* one all-zero chunk */
    struct writer w;
    uint64_t accepted[P2V_MAX_DISKS];   /* chunks below this are queued or written */
    bool claimed;
    int preauth;                /* its entry in srv->preauth, or -1 */
    bool authed;                /* the agent proved it knows the token */
    bool started;               /* ... and its capture started or resumed */
    char end_why[P2V_MAX_ERROR_TEXT + 16];  /* what ended an unfinished capture */
    bool zstd;                  /* the session negotiated zstd chunks */
    /* the chunk asked for again, while later ones are dropped */
    int nak_disk;
    uint64_t nak_offset;
    unsigned since_sync;
    time_t last_sync;
    uint64_t chunks, raw_bytes, dropped;
};

static void on_signal(int sig)
{
    stop_requested = 1;
}

static void write_log(int fd, const char *text)
{
    char line[1400];
    time_t now = time(NULL);
    struct tm tm;
    if (fd < 0)
        return;
    gmtime_r(&now, &tm);
    size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n - 1, "%s", text);
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    if (write(fd, line, n) < 0) {
        /* the log is best effort */
    }
}

/* Server-wide log (DIR/serve.log), and the machine's own (DIR/NAME/log). */
static void slog(struct conn_ctx *cc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void slog(struct conn_ctx *cc, const char *fmt, ...)
{
    char msg[1100], full[1300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(full, sizeof(full), "%s [%s] %s", p2v_conn_peer(cc->c),
             cc->sess ? cc->sess->name : "-", msg);
    write_log(cc->srv->log_fd, full);
    write_log(cc->sess_log, full);
}

static void server_log(struct server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void server_log(struct server *s, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    write_log(s->log_fd, msg);
}

/* The operator's terminal: where the server listens, and each capture's
 * start, end and verdict (the logs hold the details). Only authenticated
 * agents reach it, so no stranger can flood it. */
static void tell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void tell(const char *fmt, ...)
{
    char msg[1200], stamp[16];
    time_t now = time(NULL);
    struct tm tm;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
    fprintf(stderr, "p2v serve: %s %s\n", stamp, msg);
}

/* Refuses the peer: one logged reason, one ERROR message. */
static int refuse(struct conn_ctx *cc, enum p2v_error_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(struct conn_ctx *cc, enum p2v_error_code code, const char *fmt, ...)
{
    char msg[P2V_MAX_ERROR_TEXT + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    slog(cc, "refused: %s", msg);
    snprintf(cc->end_why, sizeof(cc->end_why), "refused: %s", msg);
    if (cc->authed && !cc->started)     /* later: said when the capture ends */
        tell("%s from %s: %s", cc->sess ? cc->sess->name : "agent", p2v_conn_peer(cc->c), cc->end_why);
    p2v_conn_send_error(cc->c, code, msg);
    return -EPROTO;
}

static bool claim_name(struct server *s, const char *name)
{
    bool ok = true;
    int free_slot = -1;
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < MAX_CONNECTIONS; i++) {
        if (!s->active[i][0] && free_slot < 0)
            free_slot = i;
        if (s->active[i][0] && !strcmp(s->active[i], name))
            ok = false;
    }
    if (ok && free_slot >= 0)
        snprintf(s->active[free_slot], sizeof(s->active[0]), "%s", name);
    pthread_mutex_unlock(&s->lock);
    return ok && free_slot >= 0;
}

static void release_name(struct server *s, const char *name)
{
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < MAX_CONNECTIONS; i++)
        if (!strcmp(s->active[i], name))
            s->active[i][0] = 0;
    pthread_mutex_unlock(&s->lock);
}

/* ---- the unauthenticated phase ---- */

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void peer_address(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0 ||
        getnameinfo((struct sockaddr *)&ss, sl, buf, (socklen_t)len, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(buf, len, "?");
}

/* Cuts entry I: its thread's blocked read or handshake fails at once. */
static void preauth_cut(struct server *s, int i, const char *why)
{
    if (!s->preauth[i].cut) {
        s->preauth[i].cut = why;
        shutdown(s->preauth[i].fd, SHUT_RDWR);
    }
}

/* An entry for the accepted socket FD, which keeps a duplicate of it, so
 * that the connection thread may close its own whenever it likes (index,
 * or -1: refused). One address over its cap is refused (it only competes
 * with itself); over the total, the oldest entry that has not even sent a
 * HELLO (a silent or dribbling peer) gives way, so that many addresses
 * cannot lock an agent out either; when none does, the new connection is
 * refused. Under lock. */
static int preauth_add(struct server *s, int fd, const char *addr, const char **why)
{
    int free_slot = -1, same = 0, total = 0, oldest_any = -1;
    for (int i = 0; i < PREAUTH_ENTRIES; i++) {
        struct preauth *p = &s->preauth[i];
        if (p->fd < 0) {
            if (free_slot < 0)
                free_slot = i;
            continue;
        }
        if (p->cut)
            continue;       /* on its way out: counts no more */
        total++;
        same += !strcmp(p->addr, addr);
        if (!p->hello && (oldest_any < 0 || ts_before(&p->since, &s->preauth[oldest_any].since)))
            oldest_any = i;
    }
    *why = "too many unauthenticated connections from its address";
    if (same >= PREAUTH_PER_ADDR)
        return -1;
    *why = "too many unauthenticated connections";
    if (total >= MAX_PREAUTH) {
        if (oldest_any < 0)
            return -1;
        preauth_cut(s, oldest_any, "too many unauthenticated connections");
    }
    if (free_slot < 0)
        return -1;          /* cut ones still hold their entries: refused until they go */
    struct preauth *p = &s->preauth[free_slot];
    p->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    *why = "out of file descriptors";
    if (p->fd < 0)
        return -1;
    snprintf(p->addr, sizeof(p->addr), "%s", addr);
    clock_gettime(CLOCK_MONOTONIC, &p->since);
    p->deadline = p->since;
    p->deadline.tv_sec += s->auth_timeout_s;
    p->hello = false;
    p->cut = NULL;
    return free_slot;
}

/* The connection authenticated or ended: no longer watched. */
static void preauth_done(struct conn_ctx *cc)
{
    if (cc->preauth < 0)
        return;
    pthread_mutex_lock(&cc->srv->lock);
    close(cc->srv->preauth[cc->preauth].fd);
    cc->srv->preauth[cc->preauth].fd = -1;
    pthread_mutex_unlock(&cc->srv->lock);
    cc->preauth = -1;
}

static void preauth_hello(struct conn_ctx *cc)
{
    pthread_mutex_lock(&cc->srv->lock);
    cc->srv->preauth[cc->preauth].hello = true;
    pthread_mutex_unlock(&cc->srv->lock);
}

/* Why the unauthenticated connection was cut, or NULL. */
static const char *preauth_cut_why(struct conn_ctx *cc)
{
    if (cc->preauth < 0)
        return NULL;
    pthread_mutex_lock(&cc->srv->lock);
    const char *why = cc->srv->preauth[cc->preauth].cut;
    pthread_mutex_unlock(&cc->srv->lock);
    return why;
}

/* Milliseconds left before the connection's deadline (at least 1). */
static int preauth_left_ms(struct conn_ctx *cc)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&cc->srv->lock);
    struct timespec d = cc->srv->preauth[cc->preauth].deadline;
    pthread_mutex_unlock(&cc->srv->lock);
    long long ms = (long long)(d.tv_sec - now.tv_sec) * 1000 + (d.tv_nsec - now.tv_nsec) / 1000000;
    return ms < 1 ? 1 : ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* The accepting thread's round: cuts connections past their deadline. */
static void preauth_sweep(struct server *s)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < PREAUTH_ENTRIES; i++)
        if (s->preauth[i].fd >= 0 && !ts_before(&now, &s->preauth[i].deadline))
            preauth_cut(s, i, "not authenticated in time");
    pthread_mutex_unlock(&s->lock);
}

/* A connection refused at accept: logged, at most one line a second (a
 * flood would fill the disk otherwise), with the count left out. */
static void refused_at_accept(struct server *s, const char *addr, const char *why)
{
    time_t now = time(NULL);
    if (now == s->refusal_logged) {
        s->refusals_unlogged++;
        return;
    }
    if (s->refusals_unlogged)
        server_log(s, "connection from %s refused: %s (and %u more refused in the second before)",
                   addr, why, s->refusals_unlogged);
    else
        server_log(s, "connection from %s refused: %s", addr, why);
    s->refusal_logged = now;
    s->refusals_unlogged = 0;
}

/* Makes every processed chunk durable: image data first, then the journal
 * that points past it. */
static int make_durable(struct conn_ctx *cc, struct vd_error **errp)
{
    struct srv_session *s = cc->sess;
    bool changed = false;
    for (int i = 0; i < s->ndisks; i++) {
        struct srv_disk *d = &s->disks[i];
        if (d->received == d->durable || !d->img)
            continue;
        int ret = vd_image_flush(d->img, errp);
        if (ret < 0)
            return ret;
        d->durable = d->received;
        d->dig_durable = d->dig;
        changed = true;
    }
    cc->since_sync = 0;
    cc->last_sync = time(NULL);
    return changed ? srv_state_save(s, errp) : 0;
}

static void close_images(struct srv_session *s)
{
    for (int i = 0; i < s->ndisks; i++) {
        if (s->disks[i].img)
            vd_image_close(s->disks[i].img, NULL);
        s->disks[i].img = NULL;
    }
}

/* The size of disk I's image: a VHD holds whole 512-byte sectors, so a
 * disk whose size is not a multiple of 512 (an image file, a device of an
 * odd size) gets its last sector padded with zeros; the manifest and the
 * digest keep the disk's true size. */
static uint64_t image_size(const struct srv_session *s, int i)
{
    uint64_t size = s->disks[i].size;
    return strcmp(s->format, "vhd") ? size : (size + 511) / 512 * 512;
}

static void remove_images(struct srv_session *s)
{
    close_images(s);
    for (int i = 0; i < s->ndisks; i++) {
        char path[PATH_MAX + 32];
        srv_image_path(s, i, path, sizeof(path));
        unlink(path);
    }
}

static int open_images(struct conn_ctx *cc, bool create, struct vd_error **errp)
{
    struct srv_session *s = cc->sess;
    for (int i = 0; i < s->ndisks; i++) {
        char path[PATH_MAX + 32];
        srv_image_path(s, i, path, sizeof(path));
        if (create) {
            unlink(path);
            const char *opts = vd_format_target_options(s->format);
            int ret = vd_image_create(path, s->format, image_size(s, i), opts, NULL, errp);
            if (ret < 0)
                return ret;
            if (image_size(s, i) != s->disks[i].size)
                slog(cc, "disk %d: %llu bytes, not whole 512-byte sectors: the image's last sector "
                     "is padded with %llu zero bytes (the manifest keeps the true size)", i,
                     (unsigned long long)s->disks[i].size,
                     (unsigned long long)(image_size(s, i) - s->disks[i].size));
        }
        /* Direct: the chunks go from the receive buffers to the disk, not
         * through the page cache (the conversion host reads the images
         * later, once; caching gigabytes of them helps no one). */
        int ret = vd_image_open(path, s->format, VD_OPEN_WRITE | VD_OPEN_DIRECT,
                                &s->disks[i].img, errp);
        if (ret < 0)
            return ret;
        s->disks[i].written_end = create ? 0 : s->disks[i].size;
        if (vd_image_size(s->disks[i].img) != image_size(s, i))
            return vd_error_set(errp, -EUCLEAN, "%s: %llu bytes, but the journal says %llu", path,
                                (unsigned long long)vd_image_size(s->disks[i].img),
                                (unsigned long long)image_size(s, i));
    }
    return 0;
}

/* Opens or creates DIR/NAME for the SESSION message M. */
static int start_session(struct conn_ctx *cc, const struct p2v_msg *m)
{
    struct server *srv = cc->srv;
    struct srv_session *s = calloc(1, sizeof(*s));
    struct vd_error *err = NULL;
    if (!s)
        return refuse(cc, P2V_ERR_IO, "out of memory");
    cc->sess = s;
    snprintf(s->name, sizeof(s->name), "%s", m->u.session.name);
    snprintf(s->dir, sizeof(s->dir), "%s/%s", srv->dir, s->name);
    if (mkdir(s->dir, 0755) < 0 && errno != EEXIST)
        return refuse(cc, P2V_ERR_IO, "cannot create the machine directory: %s", strerror(errno));
    char logpath[PATH_MAX + 8];
    snprintf(logpath, sizeof(logpath), "%s/log", s->dir);
    cc->sess_log = open(logpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

    int ret = srv_state_load(s, &err);
    bool no_digest = m->u.session.caps & P2V_CAP_NO_DIGEST;
    bool same = ret == 0 && !memcmp(s->id, m->u.session.id, sizeof(s->id)) &&
                s->ndisks == m->u.session.ndisks && s->no_digest == no_digest;
    for (int i = 0; same && i < s->ndisks; i++)
        same = s->disks[i].size == m->u.session.disks[i].size;
    bool old_complete = ret == -ENOTSUP && s->complete;
    if (ret == -EUCLEAN || ret == -ENOTSUP) {
        slog(cc, "%s; %s", err->msg, old_complete && !srv->force ? "kept" : "starting over");
        vd_error_clear(&err);
    }
    if ((ret == 0 || old_complete) && s->complete && !same && !srv->force)
        return refuse(cc, P2V_ERR_REFUSED,
                      "%s holds a complete capture; the server must run with --force to overwrite it",
                      s->dir);
    if (same && strcmp(s->format, srv->format) == 0) {
        ret = open_images(cc, false, &err);
        if (ret < 0) {
            slog(cc, "cannot reopen the images: %s", err->msg);
            vd_error_free(err);
            return refuse(cc, P2V_ERR_IO, "the server cannot reopen the images");
        }
        for (int i = 0; i < s->ndisks; i++)
            slog(cc, "resuming disk %d at offset %llu of %llu%s", i,
                 (unsigned long long)s->disks[i].durable, (unsigned long long)s->disks[i].size,
                 s->disks[i].verified ? " (verified)" : "");
        return 0;
    }
    if (ret == 0)
        slog(cc, "discarding the %s capture of an earlier session", s->complete ? "complete" : "unfinished");
    /* A new session. */
    char id[33];
    memset(s->disks, 0, sizeof(s->disks));
    s->complete = false;
    s->no_digest = no_digest;
    s->ndisks = m->u.session.ndisks;
    snprintf(s->format, sizeof(s->format), "%s", srv->format);
    if (p2v_random(s->id, sizeof(s->id), &err) < 0) {
        vd_error_free(err);
        return refuse(cc, P2V_ERR_IO, "no random numbers");
    }
    for (int i = 0; i < s->ndisks; i++) {
        s->disks[i].size = m->u.session.disks[i].size;
        s->disks[i].sector_size = m->u.session.disks[i].sector_size;
        p2v_digest_init(&s->disks[i].dig, s->disks[i].size);
        s->disks[i].dig_durable = s->disks[i].dig;
    }
    ret = open_images(cc, true, &err);
    if (ret == 0)
        ret = srv_state_save(s, &err);
    if (ret < 0) {
        slog(cc, "cannot create the images: %s", err->msg);
        remove_images(s);   /* nothing half-made left behind */
        ret = refuse(cc, P2V_ERR_IO, "the server cannot create the images: %s", err->msg);
        vd_error_free(err);
        return ret;
    }
    p2v_hex(s->id, sizeof(s->id), id);
    slog(cc, "new session %s: %d disk(s), %s", id, s->ndisks, s->format);
    return 0;
}

/* Logs why an unauthenticated peer is dropped: the accepting thread cut
 * it (its deadline, or too many strangers), or what it sent or did not. */
static void preauth_log(struct conn_ctx *cc, int ret, const struct vd_error *err, const char *want)
{
    const char *cut = preauth_cut_why(cc);
    if ((cut && !strcmp(cut, "not authenticated in time")) || (ret == -ETIMEDOUT && !err))
        slog(cc, "refused: not authenticated within %d s", cc->srv->auth_timeout_s);
    else if (cut)
        slog(cc, "refused: %s", cut);
    else if (ret < 0)
        slog(cc, "refused: %s", err ? err->msg : "nothing in time");
    else
        slog(cc, "refused: expected %s", want);
}

static int handshake(struct conn_ctx *cc, struct p2v_msg *m)
{
    struct vd_error *err = NULL;
    int ret = p2v_conn_recv(cc->c, m, preauth_left_ms(cc), &err);
    if (ret < 0 || m->type != P2V_MSG_HELLO) {
        preauth_log(cc, ret, err, "HELLO");
        vd_error_free(err);
        if (ret != -ECONNRESET && !preauth_cut_why(cc))
            p2v_conn_send_error(cc->c, P2V_ERR_PROTOCOL, "expected HELLO");
        return -EPROTO;
    }
    preauth_hello(cc);
    if (m->u.hello.version != P2V_PROTO_VERSION)
        return refuse(cc, P2V_ERR_PROTOCOL, "protocol version %u is not supported (this server speaks %u)",
                      m->u.hello.version, P2V_PROTO_VERSION);
    uint8_t agent_nonce[P2V_NONCE_SIZE], nonce[P2V_NONCE_SIZE], want[P2V_MAC_SIZE];
    memcpy(agent_nonce, m->u.hello.nonce, sizeof(agent_nonce));
    if (p2v_random(nonce, sizeof(nonce), NULL) < 0)
        return refuse(cc, P2V_ERR_IO, "no random numbers");
    struct p2v_msg ch = { .type = P2V_MSG_CHALLENGE };
    ch.u.challenge.version = P2V_PROTO_VERSION;
    ch.u.challenge.caps = P2V_CAP_ZSTD;
    memcpy(ch.u.challenge.nonce, nonce, sizeof(nonce));
    if (p2v_conn_send(cc->c, &ch, NULL) < 0)
        return -ECONNRESET;
    ret = p2v_conn_recv(cc->c, m, preauth_left_ms(cc), &err);
    if (ret < 0 || m->type != P2V_MSG_AUTH) {
        preauth_log(cc, ret, err, "AUTH");
        vd_error_free(err);
        return -EPROTO;
    }
    p2v_proof(&cc->srv->tok, "agent", nonce, agent_nonce, want);
    if (!p2v_mac_equal(want, m->u.auth.proof))
        return refuse(cc, P2V_ERR_AUTH, "authentication failed (wrong token)");
    cc->authed = true;
    preauth_done(cc);       /* a known agent now: no deadline, its own slot */
    struct p2v_msg ok = { .type = P2V_MSG_AUTH_OK };
    p2v_proof(&cc->srv->tok, "server", agent_nonce, nonce, ok.u.auth_ok.proof);
    if (p2v_conn_send(cc->c, &ok, NULL) < 0)
        return -ECONNRESET;
    ret = p2v_conn_recv(cc->c, m, HANDSHAKE_TIMEOUT_MS, &err);
    if (ret < 0 || m->type != P2V_MSG_SESSION) {
        slog(cc, "refused: %s", ret < 0 ? (err ? err->msg : "no SESSION in time") : "expected SESSION");
        if (ret != -ECONNRESET)
            p2v_conn_send_error(cc->c, P2V_ERR_PROTOCOL, ret < 0 && err ? err->msg : "expected SESSION");
        vd_error_free(err);
        return -EPROTO;
    }
    if (!p2v_name_valid(m->u.session.name))
        return refuse(cc, P2V_ERR_REFUSED, "invalid machine name (path separators or other characters not in [A-Za-z0-9._-])");
    for (int i = 0; i < m->u.session.ndisks; i++) {
        const struct p2v_disk_desc *d = &m->u.session.disks[i];
        if (d->size == 0 || d->size > (64ull << 40) ||
            (d->sector_size != 512 && d->sector_size != 4096))
            return refuse(cc, P2V_ERR_REFUSED, "disk %d: size %llu or sector size %u out of range", i,
                          (unsigned long long)d->size, d->sector_size);
    }
    if (!claim_name(cc->srv, m->u.session.name))
        return refuse(cc, P2V_ERR_BUSY, "'%s' is being captured by another connection",
                      m->u.session.name);
    cc->claimed = true;
    cc->zstd = m->u.session.caps & P2V_CAP_ZSTD;
    ret = start_session(cc, m);
    if (ret < 0)
        return ret;
    slog(cc, "agent authenticated, compression %s, digest %s", cc->zstd ? "zstd" : "none",
         cc->sess->no_digest ? "none" : "sha256");
    uint64_t total = 0, durable = 0;
    for (int i = 0; i < cc->sess->ndisks; i++) {
        total += cc->sess->disks[i].size;
        durable += cc->sess->disks[i].durable;
    }
    cc->started = true;
    if (durable)
        tell("%s from %s: capture resumed at %llu of %llu bytes, into %s", cc->sess->name,
             p2v_conn_peer(cc->c), (unsigned long long)durable, (unsigned long long)total, cc->sess->dir);
    else
        tell("%s from %s: capture started, %d disk(s), %llu bytes, into %s", cc->sess->name,
             p2v_conn_peer(cc->c), cc->sess->ndisks, (unsigned long long)total, cc->sess->dir);
    ok = (struct p2v_msg){ .type = P2V_MSG_SESSION_OK };
    memcpy(ok.u.session_ok.id, cc->sess->id, sizeof(ok.u.session_ok.id));
    ok.u.session_ok.ndisks = (uint8_t)cc->sess->ndisks;
    for (int i = 0; i < cc->sess->ndisks; i++)
        ok.u.session_ok.resume[i] = cc->sess->disks[i].durable;
    return p2v_conn_send(cc->c, &ok, NULL) < 0 ? -ECONNRESET : 0;
}

static int on_manifest(struct conn_ctx *cc, const struct p2v_msg *m)
{
    xmlDocPtr doc = xmlReadMemory((const char *)m->u.manifest.xml, (int)m->u.manifest.len,
                                  "manifest.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR |
                                  XML_PARSE_NOWARNING);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    bool ok = root && !xmlStrcmp(root->name, XC("p2v-manifest"));
    xmlFreeDoc(doc);
    if (!ok)
        return refuse(cc, P2V_ERR_PROTOCOL, "the manifest is not a well-formed p2v-manifest document");
    struct vd_error *err = NULL;
    if (srv_write_file(cc->sess->dir, "manifest.xml", m->u.manifest.xml, m->u.manifest.len, &err) < 0) {
        slog(cc, "%s", err->msg);
        vd_error_free(err);
        return refuse(cc, P2V_ERR_IO, "the server cannot write the manifest");
    }
    return 0;
}

/* Asks the agent for a chunk again; later chunks are dropped until it comes. */
static int send_nak(struct conn_ctx *cc, int disk, uint64_t offset, const char *why)
{
    slog(cc, "disk %d offset %llu: %s; asked for it again", disk, (unsigned long long)offset, why);
    cc->nak_disk = disk;
    cc->nak_offset = offset;
    cc->accepted[disk] = offset;
    struct p2v_msg m = { .type = P2V_MSG_NAK };
    m.u.nak.disk = (uint8_t)disk;
    m.u.nak.offset = offset;
    return p2v_conn_send(cc->c, &m, NULL) < 0 ? -ECONNRESET : 0;
}

/* ---- the verifiers and the writer ---- */

static void writer_fail(struct conn_ctx *cc, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void writer_fail(struct conn_ctx *cc, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&cc->w.lock);
    vsnprintf(cc->w.why, sizeof(cc->w.why), fmt, ap);
    cc->w.fail_code = code;
    pthread_mutex_unlock(&cc->w.lock);
    va_end(ap);
}

/* Decompression and the checksum: the chunk's leaf (docs/protocol.md),
 * or XXH3-64 without the digest. */
static void verify_chunk(struct conn_ctx *cc, ZSTD_DCtx *dctx, struct wslot *q)
{
    struct srv_disk *d = &cc->sess->disks[q->disk];
    q->bad = NULL;
    q->data = q->encoding == P2V_ENC_RAW ? q->payload : cc->zeros;
    if (q->encoding == P2V_ENC_ZSTD) {
        size_t n = ZSTD_decompressDCtx(dctx, q->plain, q->len, q->payload, q->payload_len);
        if (ZSTD_isError(n) || n != q->len) {
            q->bad = "chunk does not decompress";
            return;
        }
        q->data = q->plain;
    }
    uint64_t sum;
    if (cc->sess->no_digest) {
        sum = XXH3_64bits(q->data, q->len);
    } else {
        if (q->encoding == P2V_ENC_ZERO)
            memcpy(q->leaf, p2v_digest_zero_leaf(&d->dig, q->offset), 32);
        else
            p2v_leaf(q->data, q->len, q->leaf);
        sum = p2v_leaf_checksum(q->leaf);
    }
    if (sum != q->checksum)
        q->bad = "checksum mismatch";
}

struct verifier_arg {
    struct conn_ctx *cc;
    int index;
};

static void *verifier_main(void *arg)
{
    struct conn_ctx *cc = ((struct verifier_arg *)arg)->cc;
    ZSTD_DCtx *dctx = cc->w.dctx[((struct verifier_arg *)arg)->index];
    struct writer *w = &cc->w;
    free(arg);
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->stop && w->claimed == w->head)
            pthread_cond_wait(&w->queued, &w->lock);
        if (w->claimed == w->head)
            break;
        struct wslot *q = &w->q[w->claimed++ % WRITE_QUEUE];
        pthread_mutex_unlock(&w->lock);
        verify_chunk(cc, dctx, q);
        pthread_mutex_lock(&w->lock);
        q->state = WSLOT_CHECKED;
        pthread_cond_signal(&w->checked);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void write_chunk(struct conn_ctx *cc, const struct wslot *q)
{
    struct srv_session *s = cc->sess;
    struct srv_disk *d = &s->disks[q->disk];
    struct vd_error *err = NULL;
    /* Whole chunks: an image allocates in blocks of 1-2 MiB anyway (VHD),
     * and all-zero chunks are never written, so they stay unallocated;
     * where the image may hold older data (a disk sent again after a
     * digest mismatch, a resumed session) they are zeroed (punched). */
    bool zero = q->encoding == P2V_ENC_ZERO || p2v_all_zero(q->data, q->len);
    int ret = 0;
    if (!zero)
        ret = vd_image_pwrite(d->img, q->data, q->len, q->offset, &err);
    else if (q->offset < d->written_end)
        ret = vd_image_write_zeroes(d->img, q->len, q->offset, &err);
    if (!zero && ret == 0 && q->offset + q->len > d->written_end)
        d->written_end = q->offset + q->len;
    if (ret < 0) {
        slog(cc, "%s", err->msg);
        vd_error_free(err);
        writer_fail(cc, P2V_ERR_IO, "the server cannot write disk %d", q->disk);
        return;
    }
    if (!s->no_digest)
        p2v_digest_chunk(&d->dig, q->offset, q->leaf);
    d->received = q->offset + q->len;
    cc->chunks++;
    cc->raw_bytes += q->len;
    /* A durable point every 32 chunks or every second, whichever first. */
    if (++cc->since_sync >= SYNC_EVERY_CHUNKS || time(NULL) != cc->last_sync) {
        if (make_durable(cc, &err) < 0) {
            slog(cc, "%s", err->msg);
            vd_error_free(err);
            writer_fail(cc, P2V_ERR_IO, "the server cannot sync its images");
            return;
        }
        pthread_mutex_lock(&cc->w.lock);
        cc->w.ack_disk = q->disk;
        cc->w.ack_offset = d->durable;
        pthread_mutex_unlock(&cc->w.lock);
    }
}

/* One checked chunk, in order: drop it (a NAK is out), ask for it again,
 * or write it. */
static void take_chunk(struct conn_ctx *cc, const struct wslot *q)
{
    struct writer *w = &cc->w;
    if (w->nak_disk >= 0 && (q->disk != w->nak_disk || q->offset != w->nak_offset)) {
        w->dropped++;       /* queued before the NAK went out */
        return;
    }
    if (q->bad) {
        if (++w->resends > MAX_RESENDS) {
            writer_fail(cc, P2V_ERR_PROTOCOL, "disk %d offset %llu: %s %d times; giving up",
                        q->disk, (unsigned long long)q->offset, q->bad, MAX_RESENDS);
            return;
        }
        w->nak_disk = q->disk;
        w->nak_offset = q->offset;
        pthread_mutex_lock(&w->lock);
        w->req_disk = q->disk;
        w->req_offset = q->offset;
        w->req_why = q->bad;
        pthread_mutex_unlock(&w->lock);
        return;
    }
    w->nak_disk = -1;
    w->resends = 0;
    write_chunk(cc, q);
}

static void *writer_main(void *arg)
{
    struct conn_ctx *cc = arg;
    struct writer *w = &cc->w;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        struct wslot *q = &w->q[w->tail % WRITE_QUEUE];
        while (!(w->tail != w->head && q->state == WSLOT_CHECKED) && !(w->stop && w->tail == w->head))
            pthread_cond_wait(&w->checked, &w->lock);
        if (w->tail == w->head)
            break;      /* stopped, and everything queued is written */
        bool failed = w->fail_code != 0;
        pthread_mutex_unlock(&w->lock);
        if (!failed)
            take_chunk(cc, q);
        pthread_mutex_lock(&w->lock);
        w->tail++;
        pthread_cond_broadcast(&w->freed);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static int writer_init(struct conn_ctx *cc)
{
    struct writer *w = &cc->w;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    w->ack_disk = w->req_disk = w->nak_disk = -1;
    w->nverifiers = ncpu < 1 ? 1 : ncpu > MAX_VERIFIERS ? MAX_VERIFIERS : (int)ncpu;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->queued, NULL);
    pthread_cond_init(&w->checked, NULL);
    pthread_cond_init(&w->freed, NULL);
    for (int i = 0; i < WRITE_QUEUE; i++)
        if (!(w->q[i].frame = p2v_frame_alloc()))
            return -ENOMEM;
    return 0;
}

/* Buffers and contexts for decompression, once the session asks for zstd. */
static int writer_init_zstd(struct conn_ctx *cc)
{
    struct writer *w = &cc->w;
    for (int i = 0; i < WRITE_QUEUE; i++)
        if (!(w->q[i].plain = aligned_alloc(VD_DIRECT_ALIGN, P2V_CHUNK_SIZE)))
            return -ENOMEM;
    for (int i = 0; i < w->nverifiers; i++)
        if (!(w->dctx[i] = ZSTD_createDCtx()))
            return -ENOMEM;
    return 0;
}

/* Writes what is queued and ends the threads. */
static void writer_stop(struct conn_ctx *cc)
{
    struct writer *w = &cc->w;
    if (!w->started)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->queued);
    pthread_cond_broadcast(&w->checked);
    pthread_mutex_unlock(&w->lock);
    for (int i = 1; i < w->started; i++)
        pthread_join(w->verifier[i - 1], NULL);
    pthread_join(w->thread, NULL);
    w->started = 0;
}

static int writer_start(struct conn_ctx *cc)
{
    struct writer *w = &cc->w;
    if (pthread_create(&w->thread, NULL, writer_main, cc) != 0)
        return -EAGAIN;
    w->started = 1;
    for (int i = 0; i < w->nverifiers; i++) {
        struct verifier_arg *va = malloc(sizeof(*va));
        if (va)
            *va = (struct verifier_arg){ cc, i };
        if (!va || pthread_create(&w->verifier[i], NULL, verifier_main, va) != 0) {
            free(va);
            writer_stop(cc);
            return -EAGAIN;
        }
        w->started++;
    }
    return 0;
}

static void writer_free(struct conn_ctx *cc)
{
    for (int i = 0; i < WRITE_QUEUE; i++) {
        p2v_frame_free(cc->w.q[i].frame);
        free(cc->w.q[i].plain);
    }
    for (int i = 0; i < MAX_VERIFIERS; i++)
        ZSTD_freeDCtx(cc->w.dctx[i]);
    pthread_mutex_destroy(&cc->w.lock);
    pthread_cond_destroy(&cc->w.queued);
    pthread_cond_destroy(&cc->w.checked);
    pthread_cond_destroy(&cc->w.freed);
}

/* Waits until everything queued is written (the writer then idles). */
static void writer_drain(struct conn_ctx *cc)
{
    struct writer *w = &cc->w;
    pthread_mutex_lock(&w->lock);
    while (w->tail != w->head)
        pthread_cond_wait(&w->freed, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

/* Passes on what the writer has for the agent: a failure (refused), a
 * chunk to ask for again (NAK), a durable point (ACK). */
static int writer_report(struct conn_ctx *cc)
{
    struct writer *w = &cc->w;
    char why[sizeof(w->why)];
    pthread_mutex_lock(&w->lock);
    int code = w->fail_code, disk = w->ack_disk, req = w->req_disk;
    uint64_t offset = w->ack_offset, req_offset = w->req_offset;
    const char *req_why = w->req_why;
    memcpy(why, w->why, sizeof(why));
    w->ack_disk = w->req_disk = -1;
    pthread_mutex_unlock(&w->lock);
    if (code)
        return refuse(cc, code, "%s", why);
    if (req >= 0 && send_nak(cc, req, req_offset, req_why) < 0)
        return -ECONNRESET;
    if (disk < 0)
        return 0;
    struct p2v_msg ack = { .type = P2V_MSG_ACK };
    ack.u.ack.disk = (uint8_t)disk;
    ack.u.ack.offset = offset;
    return p2v_conn_send(cc->c, &ack, NULL) < 0 ? -ECONNRESET : 0;
}

/* Checks a chunk's place and length and queues it for the verifiers. */
static int on_chunk(struct conn_ctx *cc, const struct p2v_msg *m)
{
    struct srv_session *s = cc->sess;
    const struct p2v_chunk *ch = &m->u.chunk;
    if (ch->disk >= s->ndisks)
        return refuse(cc, P2V_ERR_PROTOCOL, "chunk for disk %u of %d", ch->disk, s->ndisks);
    struct srv_disk *d = &s->disks[ch->disk];
    if (cc->nak_disk >= 0 && (ch->disk != cc->nak_disk || ch->offset != cc->nak_offset)) {
        cc->dropped++;      /* sent before the agent saw our NAK */
        return 0;
    }
    if (d->verified)
        return refuse(cc, P2V_ERR_PROTOCOL, "chunk for disk %u, which is complete", ch->disk);
    if (ch->offset % P2V_CHUNK_SIZE || ch->offset >= d->size)
        return refuse(cc, P2V_ERR_PROTOCOL, "disk %u: chunk offset %llu outside the disk or not chunk-aligned",
                      ch->disk, (unsigned long long)ch->offset);
    uint64_t want = d->size - ch->offset < P2V_CHUNK_SIZE ? d->size - ch->offset : P2V_CHUNK_SIZE;
    if (ch->raw_len != want)
        return refuse(cc, P2V_ERR_PROTOCOL, "disk %u offset %llu: chunk length %u, expected %llu",
                      ch->disk, (unsigned long long)ch->offset, ch->raw_len, (unsigned long long)want);
    if (ch->offset < cc->accepted[ch->disk])
        return refuse(cc, P2V_ERR_PROTOCOL, "disk %u offset %llu: chunk already received",
                      ch->disk, (unsigned long long)ch->offset);
    if (ch->encoding == P2V_ENC_ZSTD && !cc->zstd)
        return refuse(cc, P2V_ERR_PROTOCOL, "disk %u offset %llu: zstd chunk, but zstd was not negotiated",
                      ch->disk, (unsigned long long)ch->offset);
    struct writer *w = &cc->w;
    pthread_mutex_lock(&w->lock);
    while (w->head - w->tail == WRITE_QUEUE)
        pthread_cond_wait(&w->freed, &w->lock);
    struct wslot *q = &w->q[w->head % WRITE_QUEUE];
    pthread_mutex_unlock(&w->lock);
    q->disk = ch->disk;
    q->offset = ch->offset;
    q->len = ch->raw_len;
    q->encoding = ch->encoding;
    q->checksum = ch->checksum;
    q->payload = ch->payload;
    q->payload_len = ch->payload_len;
    if (ch->encoding != P2V_ENC_ZERO)
        q->frame = p2v_conn_swap_buffer(cc->c, q->frame);   /* the payload is in it */
    cc->nak_disk = -1;
    cc->accepted[ch->disk] = ch->offset + ch->raw_len;
    pthread_mutex_lock(&w->lock);
    q->state = WSLOT_QUEUED;
    w->head++;
    pthread_cond_signal(&w->queued);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

static int on_disk_end(struct conn_ctx *cc, const struct p2v_msg *m)
{
    struct srv_session *s = cc->sess;
    uint8_t di = m->u.disk_end.disk;
    if (cc->nak_disk >= 0)
        return 0;           /* the agent will send the chunk again, then this */
    if (di >= s->ndisks)
        return refuse(cc, P2V_ERR_PROTOCOL, "DISK_END for disk %u of %d", di, s->ndisks);
    writer_drain(cc);
    int ret = writer_report(cc);
    if (ret < 0 || cc->nak_disk >= 0)
        return ret;         /* a NAK went out: the agent sends that chunk again, then this */
    struct srv_disk *d = &s->disks[di];
    struct vd_error *err = NULL;
    uint8_t ours[32];
    char a_hex[65], o_hex[65];
    bool ok;
    if (d->verified) {
        ok = !memcmp(d->final, m->u.disk_end.sha256, 32);
        memcpy(ours, d->final, 32);
    } else {
        d->received = d->size;
        /* Without a digest, every chunk's checksum held: that is all. */
        if (s->no_digest)
            memset(ours, 0, sizeof(ours));
        else
            p2v_digest_final(&d->dig, ours);
        ok = !memcmp(ours, m->u.disk_end.sha256, 32);
        if (ok) {
            d->verified = true;
            memcpy(d->final, ours, 32);
        }
    }
    p2v_hex(ours, 32, o_hex);
    p2v_hex(m->u.disk_end.sha256, 32, a_hex);
    if (!ok) {
        slog(cc, "disk %u: SHA-256 mismatch (agent %s, server %s); the disk will be sent again", di, a_hex, o_hex);
        tell("%s: disk %u FAILED its SHA-256 check; the agent sends it again", s->name, di);
        d->received = d->durable = cc->accepted[di] = 0;
        p2v_digest_init(&d->dig, d->size);
        d->dig_durable = d->dig;
        cc->since_sync = 0;
        if (srv_state_save(s, &err) < 0) {
            slog(cc, "%s", err->msg);
            vd_error_free(err);
        }
        pthread_mutex_lock(&cc->srv->lock);
        cc->srv->failed++;
        pthread_cond_broadcast(&cc->srv->changed);
        pthread_mutex_unlock(&cc->srv->lock);
    } else {
        if (make_durable(cc, &err) < 0 || srv_state_save(s, &err) < 0) {
            slog(cc, "%s", err->msg);
            vd_error_free(err);
            return refuse(cc, P2V_ERR_IO, "the server cannot sync disk %u", di);
        }
        slog(cc, "disk %u complete: %llu bytes, %u bad sectors, SHA-256 %s", di,
             (unsigned long long)d->size, m->u.disk_end.bad_sectors,
             s->no_digest ? "not computed (--digest none: chunk checksums only)" : o_hex);
    }
    struct p2v_msg done = { .type = P2V_MSG_DISK_DONE };
    done.u.disk_done.disk = di;
    done.u.disk_done.ok = ok;
    return p2v_conn_send(cc->c, &done, NULL) < 0 ? -ECONNRESET : 0;
}

static int on_finish(struct conn_ctx *cc)
{
    struct srv_session *s = cc->sess;
    struct vd_error *err = NULL;
    writer_drain(cc);
    for (int i = 0; i < s->ndisks; i++)
        if (!s->disks[i].verified)
            return refuse(cc, P2V_ERR_PROTOCOL, "FINISH before disk %d was verified", i);
    close_images(s);
    s->complete = true;
    if (srv_state_save(s, &err) < 0) {
        slog(cc, "%s", err->msg);
        vd_error_free(err);
        return refuse(cc, P2V_ERR_IO, "the server cannot record completion");
    }
    slog(cc, "capture complete; received %llu chunks (%llu bytes) on this connection, %llu dropped after a NAK",
         (unsigned long long)cc->chunks, (unsigned long long)cc->raw_bytes, (unsigned long long)(cc->dropped + cc->w.dropped));
    tell("%s: capture complete, %d disk(s) verified (%s), in %s", s->name, s->ndisks,
         s->no_digest ? "chunk checksums" : "SHA-256", s->dir);
    struct p2v_msg ok = { .type = P2V_MSG_FINISH_OK };
    p2v_conn_send(cc->c, &ok, NULL);
    pthread_mutex_lock(&cc->srv->lock);
    cc->srv->completed++;
    pthread_cond_broadcast(&cc->srv->changed);
    pthread_mutex_unlock(&cc->srv->lock);
    return 1;   /* done: close */
}

static void serve_connection(struct conn_ctx *cc)
{
    struct vd_error *err = NULL;
    struct p2v_msg m;
    if (p2v_conn_accept(cc->fd, cc->srv->tls, &cc->c, &err) < 0) {
        const char *cut = preauth_cut_why(cc);
        if (cut && !strcmp(cut, "not authenticated in time"))
            server_log(cc->srv, "connection refused: no TLS handshake within %d s", cc->srv->auth_timeout_s);
        else
            server_log(cc->srv, "connection refused: %s", cut ? cut : err->msg);
        vd_error_free(err);
        return;
    }
    if (handshake(cc, &m) < 0)
        return;
    for (int i = 0; i < cc->sess->ndisks; i++)
        cc->accepted[i] = cc->sess->disks[i].durable;
    int idle = 0, ret = 0;
    if ((cc->zstd && writer_init_zstd(cc) < 0) || writer_start(cc) < 0) {
        refuse(cc, P2V_ERR_IO, "the server is out of memory or threads");
        return;
    }
    while (ret == 0) {
        if (stop_requested) {
            slog(cc, "server stopping");
            snprintf(cc->end_why, sizeof(cc->end_why), "the server is stopping");
            p2v_conn_send_error(cc->c, P2V_ERR_IO, "the server is stopping; resume later");
            break;
        }
        ret = writer_report(cc);
        if (ret < 0)
            break;
        ret = p2v_conn_recv(cc->c, &m, 1000, &err);
        if (ret == -ETIMEDOUT && !err) {
            ret = 0;
            if (++idle > IDLE_LIMIT_S) {
                slog(cc, "agent silent for %d s; closing", IDLE_LIMIT_S);
                snprintf(cc->end_why, sizeof(cc->end_why), "agent silent for %d s", IDLE_LIMIT_S);
                break;
            }
            continue;
        }
        idle = 0;
        if (ret < 0) {
            if (ret == -ECONNRESET) {
                slog(cc, "connection lost: %s", err ? err->msg : "closed");
                snprintf(cc->end_why, sizeof(cc->end_why), "connection lost");
            } else
                refuse(cc, P2V_ERR_PROTOCOL, "%s", err ? err->msg : "receive failed");
            vd_error_clear(&err);
            break;
        }
        switch (m.type) {
        case P2V_MSG_CHUNK: ret = on_chunk(cc, &m); break;
        case P2V_MSG_MANIFEST: ret = on_manifest(cc, &m); break;
        case P2V_MSG_DISK_END: ret = on_disk_end(cc, &m); break;
        case P2V_MSG_FINISH: ret = on_finish(cc); break;
        default:
            ret = refuse(cc, P2V_ERR_PROTOCOL, "unexpected %s message", p2v_msg_name(m.type));
        }
    }
    /* Whatever ended the connection, what was received is kept. */
    writer_stop(cc);
    if (cc->sess && !cc->sess->complete && make_durable(cc, &err) < 0) {
        slog(cc, "%s", err->msg);
        vd_error_clear(&err);
    }
    if (cc->sess && !cc->sess->complete) {
        slog(cc, "received %llu chunks (%llu bytes) on this connection, %llu dropped after a NAK",
             (unsigned long long)cc->chunks, (unsigned long long)cc->raw_bytes,
             (unsigned long long)(cc->dropped + cc->w.dropped));
        uint64_t total = 0, durable = 0;
        for (int i = 0; i < cc->sess->ndisks; i++) {
            slog(cc, "disk %d durable up to offset %llu", i, (unsigned long long)cc->sess->disks[i].durable);
            total += cc->sess->disks[i].size;
            durable += cc->sess->disks[i].durable;
        }
        if (cc->started)
            tell("%s: capture interrupted (%s) at %llu of %llu bytes; it resumes when the agent reconnects",
                 cc->sess->name, cc->end_why[0] ? cc->end_why : "ended", (unsigned long long)durable,
                 (unsigned long long)total);
    }
}

static void *connection_thread(void *arg)
{
    struct conn_ctx *cc = arg;
    struct server *srv = cc->srv;
    cc->sess_log = -1;
    cc->nak_disk = -1;
    cc->last_sync = time(NULL);
    cc->zeros = calloc(1, P2V_CHUNK_SIZE);
    if (writer_init(cc) == 0 && cc->zeros)
        serve_connection(cc);
    else
        close(cc->fd);
    preauth_done(cc);
    if (cc->sess) {
        close_images(cc->sess);
        if (cc->claimed)
            release_name(srv, cc->sess->name);
        free(cc->sess);
    }
    if (cc->sess_log >= 0)
        close(cc->sess_log);
    p2v_conn_close(cc->c);
    writer_free(cc);
    free(cc->zeros);
    free(cc);
    /* This thread's OpenSSL state (its random generator, its error queue)
     * is freed now, not at thread exit, which main does not wait for. */
    OPENSSL_thread_stop();
    pthread_mutex_lock(&srv->lock);
    srv->running--;
    pthread_cond_broadcast(&srv->changed);
    pthread_mutex_unlock(&srv->lock);
    return NULL;
}

static void usage(FILE *f)
{
    char formats[128];
    vd_format_list_caps(VD_FORMAT_TARGET, false, formats, sizeof(formats));
    fprintf(f,
"Usage: p2v serve --listen ADDR:PORT --dir DIR --token-file FILE [options]\n"
"Receives captures from `p2v capture` agents, several at once. Each machine\n"
"lands in DIR/NAME/: manifest.xml, disk0.FMT, disk1.FMT, ..., state, log.\n"
"\n"
"  --listen ADDR:PORT     where to listen (e.g. 0.0.0.0:7711)\n"
"  --dir DIR              where machines land (must exist)\n"
"  --token-file FILE      the shared token (one line, at least 16 bytes)\n"
"  -O, --output-format FMT  image format: %s (default %s)\n"
"  --once                 exit after one capture completes (status 0) or\n"
"                         fails its digest check (status 1)\n"
"  --force                replace a complete capture of the same name\n"
"  --tls --cert FILE --key FILE  TLS 1.3 with this certificate (PEM)\n"
"  --auth-timeout SECONDS the time a connection has to authenticate, TLS\n"
"                         handshake included (default 10); at most 16\n"
"                         unauthenticated connections at once, 4 from one\n"
"                         address\n"
"  -h, --help             this text\n"
"stderr says where it listens and each capture's start, end and verdict;\n"
"the details are in DIR/serve.log (and DIR/NAME/log per machine).\n"
"Exit status: 0 stopped or --once succeeded, 1 failed, 2 usage error.\n",
            formats, vd_format_default());
}

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "p2v serve: %s%s%s; see p2v serve --help\n", msg, arg ? ": " : "", arg ? arg : "");
    return 2;
}

int p2v_serve_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "listen", required_argument, NULL, 'l' },
        { "dir", required_argument, NULL, 'd' },
        { "token-file", required_argument, NULL, 't' },
        { "output-format", required_argument, NULL, 'O' },
        { "once", no_argument, NULL, '1' },
        { "force", no_argument, NULL, 'f' },
        { "tls", no_argument, NULL, 'T' },
        { "cert", required_argument, NULL, 'c' },
        { "key", required_argument, NULL, 'k' },
        { "auth-timeout", required_argument, NULL, 'A' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    struct server srv = { .format = vd_format_default(), .log_fd = -1,
                          .auth_timeout_s = AUTH_TIMEOUT_DEFAULT_S };
    for (int i = 0; i < PREAUTH_ENTRIES; i++)
        srv.preauth[i].fd = -1;
    const char *listen_addr = NULL, *token_file = NULL, *cert = NULL, *key = NULL;
    bool tls = false;
    int opt;
    optind = 1;
    opterr = 0;     /* our own one-line messages */
    while ((opt = getopt_long(argc, argv, ":O:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'l': listen_addr = optarg; break;
        case 'd': srv.dir = optarg; break;
        case 't': token_file = optarg; break;
        case 'O': srv.format = optarg; break;
        case '1': srv.once = true; break;
        case 'f': srv.force = true; break;
        case 'T': tls = true; break;
        case 'c': cert = optarg; break;
        case 'k': key = optarg; break;
        case 'A': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || v < 1 || v > 600)
                return usage_error("--auth-timeout takes 1 to 600 seconds", optarg);
            srv.auth_timeout_s = (int)v;
            break;
        }
        case 'h': usage(stdout); return 0;
        case ':': return usage_error("missing argument for", argv[optind - 1]);
        default: return usage_error("unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument", argv[optind]);
    if (!listen_addr || !srv.dir || !token_file)
        return usage_error("--listen, --dir and --token-file are required", NULL);
    struct vd_error *aerr = NULL;
    if (p2v_addr_check(listen_addr, true, &aerr) < 0) {
        int r = usage_error(aerr->msg, NULL);
        vd_error_free(aerr);
        return r;
    }
    if (!vd_format_known(srv.format))
        return usage_error("unknown -O format", srv.format);
    if (tls != (cert && key) || (!tls && (cert || key)))
        return usage_error("--tls needs both --cert and --key (and they need --tls)", NULL);

    struct vd_error *err = NULL;
    int lfd = -1, rc = 1;
    struct stat st;
    if (!vd_format_can(srv.format, VD_FORMAT_TARGET)) {
        char formats[128];
        vd_format_list_caps(VD_FORMAT_TARGET, false, formats, sizeof(formats));
        fprintf(stderr, "p2v serve: %s images %s; -O takes %s\n", srv.format,
                vd_format_can(srv.format, VD_FORMAT_READ) ? "cannot be written as a capture target"
                                                           : "are not supported yet", formats);
        return 1;
    }
    if (stat(srv.dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "p2v serve: %s: not a directory\n", srv.dir);
        return 1;
    }
    if (p2v_token_read(token_file, &srv.tok, &err) < 0)
        goto report;
    if (tls && p2v_tls_server_ctx(cert, key, &srv.tls, &err) < 0)
        goto report;
    char logpath[PATH_MAX];
    snprintf(logpath, sizeof(logpath), "%s/serve.log", srv.dir);
    srv.log_fd = open(logpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (srv.log_fd < 0) {
        vd_error_set_errno(&err, -errno, "%s", logpath);
        goto report;
    }
    if (p2v_listen(listen_addr, &lfd, &err) < 0)
        goto report;
    pthread_mutex_init(&srv.lock, NULL);
    pthread_cond_init(&srv.changed, NULL);
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    char bound[NI_MAXHOST + NI_MAXSERV + 4];
    p2v_local_address(lfd, bound, sizeof(bound));
    server_log(&srv, "listening on %s, writing %s images to %s%s", bound, srv.format, srv.dir,
               tls ? " (TLS 1.3)" : "");
    tell("listening on %s%s, writing %s images to %s (log: %s)", bound, tls ? " (TLS 1.3)" : "",
         srv.format, srv.dir, logpath);

    rc = 0;
    while (!stop_requested) {
        pthread_mutex_lock(&srv.lock);
        bool done = srv.once && (srv.completed || srv.failed);
        pthread_mutex_unlock(&srv.lock);
        if (done)
            break;
        preauth_sweep(&srv);
        struct pollfd pfd = { .fd = lfd, .events = POLLIN };
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        char addr[64];
        peer_address(fd, addr, sizeof(addr));
        const char *why = NULL;
        int slot = -1;
        pthread_mutex_lock(&srv.lock);
        if (srv.running >= MAX_CONNECTIONS)
            why = "too many connections";
        else if ((slot = preauth_add(&srv, fd, addr, &why)) >= 0) {
            why = NULL;
            srv.running++;
        }
        pthread_mutex_unlock(&srv.lock);
        struct conn_ctx *cc = why ? NULL : calloc(1, sizeof(*cc));
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (cc) {
            cc->srv = &srv;
            cc->fd = fd;
            cc->preauth = slot;
        }
        if (!cc || pthread_create(&th, &attr, connection_thread, cc) != 0) {
            refused_at_accept(&srv, addr, why ? why : "out of resources");
            if (!srv.tls) {     /* the reason, for an agent, if the socket takes it now */
                struct p2v_msg e = { .type = P2V_MSG_ERROR };
                uint8_t frame[P2V_ENCODE_BUF];
                const uint8_t *tail;
                size_t tail_len;
                e.u.error.code = P2V_ERR_REFUSED;
                snprintf(e.u.error.text, sizeof(e.u.error.text), "%s", why ? why : "out of resources");
                size_t n = p2v_msg_encode(&e, frame, &tail, &tail_len);
                if (send(fd, frame, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
                    /* best effort: the close says the rest */
                }
            }
            close(fd);
            if (!why) {
                pthread_mutex_lock(&srv.lock);
                close(srv.preauth[slot].fd);
                srv.preauth[slot].fd = -1;
                srv.running--;
                pthread_mutex_unlock(&srv.lock);
            }
            free(cc);
        }
        pthread_attr_destroy(&attr);
    }
    close(lfd);
    /* Let connections finish their durable point; they poll stop_requested
     * every second, and --once waits for agents still at work. */
    if (srv.once)
        stop_requested = 1;
    pthread_mutex_lock(&srv.lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    while (srv.running > 0 &&
           pthread_cond_timedwait(&srv.changed, &srv.lock, &until) != ETIMEDOUT)
        ;
    bool failed = srv.once && srv.failed && !srv.completed;
    int completed = srv.completed, digest_failures = srv.failed;
    pthread_mutex_unlock(&srv.lock);
    server_log(&srv, "stopped");
    tell("stopped: %d capture(s) complete, %d digest failure(s)", completed, digest_failures);
    if (failed) {
        fprintf(stderr, "p2v serve: the capture failed its digest check; see %s\n", logpath);
        rc = 1;
    }
    if (srv.running > 0)
        return rc;  /* threads still hold the server; leave it to exit() */
    p2v_tls_server_ctx_free(srv.tls);
    close(srv.log_fd);
    return rc;
report:
    vd_error_report("p2v serve", err);
    if (srv.log_fd >= 0)
        close(srv.log_fd);
    p2v_tls_server_ctx_free(srv.tls);
    return rc;
}
