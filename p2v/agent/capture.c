/* p2v capture: inventory, then stream every disk's used chunks to the
 * server over one connection the agent opens; reconnect and resume from
 * the server's durable point when the connection or either side dies. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "common/progress.h"
#include "common/sigbus.h"
#include "p2v/agent/agent.h"
#include "p2v/proto/auth.h"

#define DIGEST_RING 256
#define MAX_WORKERS 4
#define MAX_SLOTS (2 * MAX_WORKERS + 2)
#define RETRY_DEFAULT_S 600
#define HANDSHAKE_TIMEOUT_MS 30000

struct digest_snapshot {
    int disk;
    uint64_t offset;
    struct p2v_digest before;
};

struct inject_range {
    uint64_t first, last;       /* sectors, inclusive */
};

/* One chunk on its way: read by the reader thread, checked (leaf hash or
 * XXH3) and compressed by a worker, sent by the main thread, in order. */
enum slot_state { SLOT_FREE, SLOT_READ, SLOT_DONE };

struct slot {
    enum slot_state state;
    uint64_t offset;
    size_t len;
    uint64_t used;              /* planned bytes in it */
    bool hash_only;             /* below the resume point: digested, not sent */
    int ret;                    /* a read failure, reported in its turn */
    struct vd_error *err;
    uint8_t *raw, *zbuf;
    const uint8_t *data;        /* the chunk's bytes: raw, or the source in place */
    bool in_place;              /* data is the mapped source at file_off */
    uint64_t file_off;
    enum p2v_chunk_encoding encoding;
    const uint8_t *payload;
    uint32_t payload_len;
    uint64_t checksum;
    uint8_t leaf[32];
};

struct agent;

struct worker {
    struct pipeline *p;
    ZSTD_CCtx *zc;
    pthread_t thread;
};

/* The reader, NSLOTS chunk buffers and the workers for one disk, from one
 * offset on. Sequence numbers count chunks; chunk n lives in slot n % nslots. */
struct pipeline {
    struct agent *a;
    int di;
    uint64_t from, send_from;
    bool running;
    int nslots, nworkers;
    pthread_mutex_t lock;
    /* one per kind of waiter, so that each change wakes only who needs it */
    pthread_cond_t readable;    /* for the workers: a chunk read */
    pthread_cond_t done;        /* for the sender: a chunk ready */
    pthread_cond_t freed;       /* for the reader: a slot free */
    struct slot slot[MAX_SLOTS];
    struct worker worker[MAX_WORKERS];
    pthread_t reader;
    uint64_t n_read, n_claimed, n_taken;
    bool reader_done, stop;
    const uint8_t *zero_full, *zero_last;  /* leaves of all-zero chunks */
};

struct agent {
    struct capture_opts o;
    struct p2v_token tok;
    struct agent_disk *disks;
    int ndisks;
    char name[P2V_MAX_NAME + 1];
    uint8_t session[P2V_SESSION_ID_SIZE];
    bool have_session;
    bool zstd;                  /* negotiated for this connection */
    bool fatal;                 /* the last error must not be retried */
    struct pipeline pipe;
    struct p2v_digest dig;
    struct digest_snapshot ring[DIGEST_RING];
    unsigned ring_pos;
    uint64_t bad_scan_end[P2V_MAX_DISKS];   /* sectors below this were examined */
    struct inject_range *inject;    /* P2V_TEST_BAD_SECTORS */
    size_t ninject;
    long corrupt_chunk;             /* P2V_TEST_CORRUPT_CHUNK */
    /* P2V_TEST_STALE_CACHE=N: the N-th chunk sent in place is corrupt
     * every time it is sent in place, as from a page cache that disagrees
     * with the disk. */
    long stale_chunk, chunks_in_place;
    int stale_disk;
    uint64_t stale_offset;
    /* The last chunk the server asked for again: read into a buffer, as a
     * source that changes under us would change again between the hash
     * and sendfile. */
    int nak_disk;
    uint64_t nak_offset;
    long chunks_sent;
    /* progress and rate */
    uint64_t total_used, done_used, wire_before;
    uint64_t sent_in_place;     /* chunk bytes sendfile took from the page cache */
    struct vd_progress meter;
    double rate_t0;
    uint64_t rate_bytes;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int fatal_error(struct agent *a, int code)
{
    a->fatal = true;
    return code;
}

/* ---- test hooks (documented in docs/p2v.md as test-only) ---- */

static int parse_inject(struct agent *a, const char *spec, struct vd_error **errp)
{
    const char *p = spec;
    while (*p) {
        char *end;
        unsigned long long first = strtoull(p, &end, 10), last = first;
        if (end == p)
            return vd_error_set(errp, -EINVAL, "P2V_TEST_BAD_SECTORS: expected N or N-M, comma separated");
        if (*end == '-') {
            p = end + 1;
            last = strtoull(p, &end, 10);
            if (end == p || last < first)
                return vd_error_set(errp, -EINVAL, "P2V_TEST_BAD_SECTORS: bad range");
        }
        struct inject_range *n = realloc(a->inject, (a->ninject + 1) * sizeof(*n));
        if (!n)
            return vd_error_set(errp, -ENOMEM, "out of memory");
        a->inject = n;
        a->inject[a->ninject++] = (struct inject_range){ first, last };
        p = end;
        if (*p == ',')
            p++;
        else if (*p)
            return vd_error_set(errp, -EINVAL, "P2V_TEST_BAD_SECTORS: expected N or N-M, comma separated");
    }
    return 0;
}

static bool injected(const struct agent *a, uint64_t first, uint64_t last)
{
    for (size_t i = 0; i < a->ninject; i++)
        if (a->inject[i].first <= last && a->inject[i].last >= first)
            return true;
    return false;
}

/* ---- reading ---- */

static int record_bad(struct agent_disk *d, uint64_t sector)
{
    if (d->nbad && d->bad[d->nbad - 1].first + d->bad[d->nbad - 1].count == sector) {
        d->bad[d->nbad - 1].count++;
        return 0;
    }
    if (d->nbad == d->bad_cap) {
        size_t cap = d->bad_cap ? d->bad_cap * 2 : 16;
        struct bad_range *n = realloc(d->bad, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        d->bad = n;
        d->bad_cap = cap;
    }
    d->bad[d->nbad++] = (struct bad_range){ sector, 1 };
    return 0;
}

/* Reads [off, off + len) of disk DI into BUF. An unreadable sector is
 * retried, then left as zeros and listed; only other errors fail. */
static int read_piece(struct agent *a, int di, uint8_t *buf, size_t len, uint64_t off,
                      struct vd_error **errp)
{
    struct agent_disk *d = &a->disks[di];
    uint64_t s0 = off / 512, s1 = (off + len - 1) / 512;
    if (!injected(a, s0, s1)) {
        struct vd_error *err = NULL;
        int ret = vd_image_pread(d->img, buf, len, off, &err);
        if (ret != -EIO) {
            if (ret < 0) {
                *errp = err;
                return fatal_error(a, ret);
            }
            return 0;
        }
        vd_error_free(err);
    }
    /* Sector by sector: save what can be read. */
    for (uint64_t s = s0; s <= s1; s++) {
        uint64_t so = s * 512 > off ? s * 512 : off;
        uint64_t se = (s + 1) * 512 < off + len ? (s + 1) * 512 : off + len;
        int ret = -EIO;
        for (int attempt = 0; attempt < 3 && ret == -EIO; attempt++) {
            if (injected(a, s, s))
                break;
            struct vd_error *err = NULL;
            ret = vd_image_pread(d->img, buf + (so - off), (size_t)(se - so), so, &err);
            if (ret < 0 && ret != -EIO) {
                *errp = err;
                return fatal_error(a, ret);
            }
            vd_error_free(err);
        }
        if (ret == 0)
            continue;
        memset(buf + (so - off), 0, (size_t)(se - so));
        if (s >= a->bad_scan_end[di] && record_bad(d, s) < 0)
            return fatal_error(a, vd_error_set(errp, -ENOMEM, "out of memory"));
    }
    return 0;
}

/* The first plan extent that ends after OFF. */
static size_t plan_find(const struct agent_disk *d, uint64_t off)
{
    size_t lo = 0, hi = d->plan.count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (d->plan.ext[mid].offset + d->plan.ext[mid].length <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Fills BUF with chunk [off, off + len): planned bytes read, the rest
 * zeros. Returns the planned bytes (0: nothing to read, buffer untouched). */
static int64_t read_chunk(struct agent *a, int di, uint8_t *buf, uint64_t off, size_t len,
                          struct vd_error **errp)
{
    struct agent_disk *d = &a->disks[di];
    uint64_t end = off + len, used = 0;
    size_t i = plan_find(d, off);
    if (i == d->plan.count || d->plan.ext[i].offset >= end)
        return 0;
    /* Whole chunk in one extent: no zero filling needed. */
    if (d->plan.ext[i].offset <= off && d->plan.ext[i].offset + d->plan.ext[i].length >= end) {
        int ret = read_piece(a, di, buf, len, off, errp);
        used = len;
        if (ret < 0)
            return ret;
    } else {
        memset(buf, 0, len);
        for (; i < d->plan.count && d->plan.ext[i].offset < end; i++) {
            uint64_t s = d->plan.ext[i].offset > off ? d->plan.ext[i].offset : off;
            uint64_t e = d->plan.ext[i].offset + d->plan.ext[i].length;
            if (e > end)
                e = end;
            int ret = read_piece(a, di, buf + (s - off), (size_t)(e - s), s, errp);
            if (ret < 0)
                return ret;
            used += e - s;
        }
    }
    if (end / 512 > a->bad_scan_end[di])
        a->bad_scan_end[di] = end / 512;
    return (int64_t)used;
}

/* A chunk wholly planned, in the page cache where the source stores it as
 * it is: hashed there and sent from there (sendfile), never copied by us.
 * Returns its length, or 0 to read it into the slot's buffer instead. */
static int64_t read_in_place(struct agent *a, int di, struct slot *s)
{
    struct agent_disk *d = &a->disks[di];
    uint64_t end = s->offset + s->len;
    size_t i = plan_find(d, s->offset);
    s->in_place = false;
    if (i == d->plan.count || d->plan.ext[i].offset > s->offset ||
        d->plan.ext[i].offset + d->plan.ext[i].length < end ||
        injected(a, s->offset / 512, (end - 1) / 512) ||
        (di == a->nak_disk && s->offset == a->nak_offset) ||
        !(s->data = agent_disk_map(d, s->offset, s->len, &s->file_off)))
        return 0;
    s->in_place = true;
    if (end / 512 > a->bad_scan_end[di])
        a->bad_scan_end[di] = end / 512;
    return (int64_t)s->len;
}

/* ---- the pipeline: reader thread -> workers -> main thread (sender) ---- */

static size_t chunk_len(const struct agent_disk *d, uint64_t off)
{
    return d->size - off < P2V_CHUNK_SIZE ? (size_t)(d->size - off) : P2V_CHUNK_SIZE;
}

static void *reader_main(void *arg)
{
    struct pipeline *p = arg;
    struct agent_disk *d = &p->a->disks[p->di];
    for (uint64_t off = p->from; off < d->size; off += P2V_CHUNK_SIZE) {
        size_t len = chunk_len(d, off);
        size_t i = plan_find(d, off);
        if (i == d->plan.count || d->plan.ext[i].offset >= off + len)
            continue;       /* nothing planned: a zero chunk, never read or sent */
        pthread_mutex_lock(&p->lock);
        struct slot *s = &p->slot[p->n_read % (unsigned)p->nslots];
        while (!p->stop && s->state != SLOT_FREE)
            pthread_cond_wait(&p->freed, &p->lock);
        bool stop = p->stop;
        pthread_mutex_unlock(&p->lock);
        if (stop)
            break;
        s->offset = off;
        s->len = len;
        s->hash_only = off < p->send_from;
        s->err = NULL;
        int64_t used = read_in_place(p->a, p->di, s);
        if (used == 0) {
            s->data = s->raw;
            used = read_chunk(p->a, p->di, s->raw, off, len, &s->err);
        }
        s->ret = used < 0 ? (int)used : 0;
        s->used = used < 0 ? 0 : (uint64_t)used;
        pthread_mutex_lock(&p->lock);
        s->state = SLOT_READ;
        p->n_read++;
        pthread_cond_signal(&p->readable);
        pthread_mutex_unlock(&p->lock);
        if (used < 0)
            break;
    }
    pthread_mutex_lock(&p->lock);
    p->reader_done = true;
    pthread_cond_broadcast(&p->readable);
    pthread_cond_broadcast(&p->done);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Checksum (the leaf SHA-256, or XXH3 without the digest), zero detection
 * and compression of one read chunk. */
static void process_slot(struct pipeline *p, struct worker *w, struct slot *s)
{
    struct agent *a = p->a;
    bool zero = p2v_all_zero(s->data, s->len);
    if (a->o.no_digest) {
        s->checksum = XXH3_64bits(s->data, s->len);
    } else {
        if (zero)
            memcpy(s->leaf, s->len < P2V_CHUNK_SIZE ? p->zero_last : p->zero_full, 32);
        else
            p2v_leaf(s->data, s->len, s->leaf);
        s->checksum = p2v_leaf_checksum(s->leaf);
    }
    s->encoding = zero ? P2V_ENC_ZERO : P2V_ENC_RAW;
    s->payload = zero ? NULL : s->data;
    s->payload_len = zero ? 0 : (uint32_t)s->len;
    if (zero || s->hash_only || !a->zstd)
        return;
    size_t z = ZSTD_compressCCtx(w->zc, s->zbuf, ZSTD_compressBound(P2V_CHUNK_SIZE),
                                 s->data, s->len, 1);
    if (!ZSTD_isError(z) && z < s->len) {
        s->encoding = P2V_ENC_ZSTD;
        s->payload = s->zbuf;
        s->payload_len = (uint32_t)z;
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct pipeline *p = w->p;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->n_claimed == p->n_read && !p->reader_done)
            pthread_cond_wait(&p->readable, &p->lock);
        if (p->stop || p->n_claimed == p->n_read)
            break;
        struct slot *s = &p->slot[p->n_claimed++ % (unsigned)p->nslots];
        pthread_mutex_unlock(&p->lock);
        if (s->ret == 0)
            process_slot(p, w, s);
        pthread_mutex_lock(&p->lock);
        s->state = SLOT_DONE;
        pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void pipeline_stop(struct pipeline *p)
{
    if (!p->running)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->readable);
    pthread_cond_broadcast(&p->freed);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->reader, NULL);
    for (int i = 0; i < p->nworkers; i++)
        pthread_join(p->worker[i].thread, NULL);
    for (int i = 0; i < p->nslots; i++) {
        vd_error_clear(&p->slot[i].err);
        p->slot[i].state = SLOT_FREE;
    }
    p->running = false;
}

/* Starts reading disk DI at FROM; chunks below SEND_FROM are only digested. */
static int pipeline_start(struct agent *a, int di, uint64_t from, uint64_t send_from,
                          struct vd_error **errp)
{
    struct pipeline *p = &a->pipe;
    p->di = di;
    p->from = from;
    p->send_from = send_from;
    p->n_read = p->n_claimed = p->n_taken = 0;
    p->reader_done = p->stop = false;
    p->zero_full = a->dig.zero_full;
    p->zero_last = a->dig.zero_last;
    int started = 0;
    if (pthread_create(&p->reader, NULL, reader_main, p) != 0)
        return fatal_error(a, vd_error_set(errp, -EAGAIN, "cannot start the reader thread"));
    for (; started < p->nworkers; started++)
        if (pthread_create(&p->worker[started].thread, NULL, worker_main, &p->worker[started]) != 0)
            break;
    p->running = true;
    if (started < p->nworkers) {
        p->nworkers = started;
        pipeline_stop(p);
        return fatal_error(a, vd_error_set(errp, -EAGAIN, "cannot start the worker threads"));
    }
    return 0;
}

/* The next chunk in order (1), or 0 when the disk is done. */
static int pipeline_next(struct pipeline *p, struct slot **sp)
{
    pthread_mutex_lock(&p->lock);
    struct slot *s = &p->slot[p->n_taken % (unsigned)p->nslots];
    while (!(p->n_taken < p->n_read && s->state == SLOT_DONE) &&
           !(p->reader_done && p->n_taken == p->n_read))
        pthread_cond_wait(&p->done, &p->lock);
    bool more = p->n_taken < p->n_read;
    pthread_mutex_unlock(&p->lock);
    *sp = s;
    return more;
}

static void pipeline_release(struct pipeline *p, struct slot *s)
{
    if (s->in_place)
        agent_disk_unmap(&p->a->disks[p->di], s->data, s->len);
    pthread_mutex_lock(&p->lock);
    s->state = SLOT_FREE;
    p->n_taken++;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

static int pipeline_alloc(struct agent *a, struct vd_error **errp)
{
    struct pipeline *p = &a->pipe;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    p->a = a;
    p->nworkers = ncpu < 1 ? 1 : ncpu > MAX_WORKERS ? MAX_WORKERS : (int)ncpu;
    p->nslots = 2 * p->nworkers + 2;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->readable, NULL);
    pthread_cond_init(&p->done, NULL);
    pthread_cond_init(&p->freed, NULL);
    for (int i = 0; i < p->nslots; i++) {
        p->slot[i].raw = malloc(P2V_CHUNK_SIZE);
        if (a->o.compress)
            p->slot[i].zbuf = malloc(ZSTD_compressBound(P2V_CHUNK_SIZE));
        if (!p->slot[i].raw || (a->o.compress && !p->slot[i].zbuf))
            return vd_error_set(errp, -ENOMEM, "out of memory");
    }
    for (int i = 0; i < p->nworkers; i++) {
        p->worker[i].p = p;
        if (a->o.compress && !(p->worker[i].zc = ZSTD_createCCtx()))
            return vd_error_set(errp, -ENOMEM, "out of memory");
    }
    return 0;
}

static void pipeline_free(struct pipeline *p)
{
    if (!p->a)
        return;
    pipeline_stop(p);
    for (int i = 0; i < p->nslots; i++) {
        free(p->slot[i].raw);
        free(p->slot[i].zbuf);
    }
    for (int i = 0; i < p->nworkers; i++)
        ZSTD_freeCCtx(p->worker[i].zc);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->readable);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->freed);
}

/* ---- progress ---- */

static void progress(struct agent *a, bool last)
{
    if (!last) {
        vd_progress_update(&a->meter, a->done_used);
        return;
    }
    char tail[128];
    snprintf(tail, sizeof(tail), "  done in %.2f s, wire %llu bytes, %llu sent in place",
             now_s() - a->meter.start, (unsigned long long)a->wire_before,
             (unsigned long long)a->sent_in_place);
    vd_progress_finish(&a->meter, a->done_used, tail);
}

static void rate_limit(struct agent *a, size_t sent)
{
    if (a->o.rate_mb <= 0)
        return;
    a->rate_bytes += sent;
    double due = a->rate_t0 + a->rate_bytes / (a->o.rate_mb * 1e6);
    double t = now_s();
    if (due > t)
        sleep_s(due - t);
}

/* ---- the session ---- */

static int save_state(struct agent *a, struct vd_error **errp)
{
    char tmp[PATH_MAX + 8], hex[33];
    snprintf(tmp, sizeof(tmp), "%s.tmp", a->o.state_file);
    p2v_hex(a->session, sizeof(a->session), hex);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return fatal_error(a, vd_error_set_errno(errp, -errno, "%s: cannot write the session file", tmp));
    fprintf(f, "p2v-agent-session 1\nname %s\nsession %s\n", a->name, hex);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, a->o.state_file) < 0)
        return fatal_error(a, vd_error_set_errno(errp, -errno, "%s: cannot write the session file",
                                                 a->o.state_file));
    return 0;
}

static void load_state(struct agent *a)
{
    FILE *f = fopen(a->o.state_file, "re");
    if (!f)
        return;
    char name[P2V_MAX_NAME + 2] = "", hex[40] = "";
    int v = 0;
    if (fscanf(f, "p2v-agent-session %d\nname %65s\nsession %39s", &v, name, hex) == 3 && v == 1 &&
        strcmp(name, a->name) == 0 && p2v_unhex(hex, a->session, sizeof(a->session)))
        a->have_session = true;
    fclose(f);
}

static int expect(struct agent *a, struct p2v_conn *c, struct p2v_msg *m,
                  enum p2v_msg_type want, int timeout_ms, struct vd_error **errp)
{
    int ret = p2v_conn_recv(c, m, timeout_ms, errp);
    if (ret == -ETIMEDOUT && !*errp)
        return vd_error_set(errp, -ETIMEDOUT, "%s: no answer from the server", a->o.server);
    if (ret < 0)
        return ret;
    if (m->type == P2V_MSG_ERROR) {
        vd_error_set(errp, -EACCES, "the server refused: %s", m->u.error.text);
        /* busy: our own previous connection may still be closing */
        return m->u.error.code == P2V_ERR_BUSY ? -EBUSY : fatal_error(a, -EACCES);
    }
    if (m->type != want)
        return vd_error_set(errp, -EPROTO, "expected %s from the server, got %s",
                            p2v_msg_name(want), p2v_msg_name(m->type));
    return 0;
}

static int handshake(struct agent *a, struct p2v_conn *c, uint64_t *resume,
                     struct vd_error **errp)
{
    struct p2v_msg m = { .type = P2V_MSG_HELLO };
    uint8_t nonce[P2V_NONCE_SIZE], proof[P2V_MAC_SIZE];
    int ret = p2v_random(nonce, sizeof(nonce), errp);
    if (ret < 0)
        return fatal_error(a, ret);
    m.u.hello.version = P2V_PROTO_VERSION;
    m.u.hello.caps = a->o.compress ? P2V_CAP_ZSTD : 0;
    memcpy(m.u.hello.nonce, nonce, sizeof(nonce));
    if ((ret = p2v_conn_send(c, &m, errp)) < 0 ||
        (ret = expect(a, c, &m, P2V_MSG_CHALLENGE, HANDSHAKE_TIMEOUT_MS, errp)) < 0) {
        if (!a->o.use_tls && ret != -EACCES && ret != -EBUSY)
            vd_error_prefix(errp, "no answer to HELLO (a TLS server? then --tls)");
        return ret;
    }
    if (m.u.challenge.version != P2V_PROTO_VERSION)
        return fatal_error(a, vd_error_set(errp, -EPROTO, "the server speaks protocol version %u, not %u",
                                           m.u.challenge.version, P2V_PROTO_VERSION));
    a->zstd = a->o.compress && (m.u.challenge.caps & P2V_CAP_ZSTD);
    uint8_t server_nonce[P2V_NONCE_SIZE];
    memcpy(server_nonce, m.u.challenge.nonce, sizeof(server_nonce));
    m = (struct p2v_msg){ .type = P2V_MSG_AUTH };
    p2v_proof(&a->tok, "agent", server_nonce, nonce, m.u.auth.proof);
    if ((ret = p2v_conn_send(c, &m, errp)) < 0 ||
        (ret = expect(a, c, &m, P2V_MSG_AUTH_OK, HANDSHAKE_TIMEOUT_MS, errp)) < 0)
        return ret;
    /* Nothing about this machine goes out before the server proved it
     * knows the token too. */
    p2v_proof(&a->tok, "server", nonce, server_nonce, proof);
    if (!p2v_mac_equal(proof, m.u.auth_ok.proof))
        return fatal_error(a, vd_error_set(errp, -EACCES,
                                           "%s does not know the token: not our server, or a different token file",
                                           a->o.server));

    m = (struct p2v_msg){ .type = P2V_MSG_SESSION };
    if (a->have_session)
        memcpy(m.u.session.id, a->session, sizeof(a->session));
    m.u.session.caps = (a->zstd ? P2V_CAP_ZSTD : 0) | (a->o.no_digest ? P2V_CAP_NO_DIGEST : 0);
    m.u.session.ndisks = (uint8_t)a->ndisks;
    snprintf(m.u.session.name, sizeof(m.u.session.name), "%s", a->name);
    for (int i = 0; i < a->ndisks; i++) {
        m.u.session.disks[i].size = a->disks[i].size;
        m.u.session.disks[i].sector_size = a->disks[i].sector_size;
    }
    if ((ret = p2v_conn_send(c, &m, errp)) < 0 ||
        (ret = expect(a, c, &m, P2V_MSG_SESSION_OK, HANDSHAKE_TIMEOUT_MS, errp)) < 0)
        return ret;
    if (m.u.session_ok.ndisks != a->ndisks)
        return fatal_error(a, vd_error_set(errp, -EPROTO, "the server answered for %u disks, not %d",
                                           m.u.session_ok.ndisks, a->ndisks));
    for (int i = 0; i < a->ndisks; i++) {
        resume[i] = m.u.session_ok.resume[i];
        if (resume[i] > a->disks[i].size ||
            (resume[i] % P2V_CHUNK_SIZE && resume[i] != a->disks[i].size))
            return fatal_error(a, vd_error_set(errp, -EPROTO, "the server asked to resume disk %d at offset %llu",
                                               i, (unsigned long long)resume[i]));
    }
    memcpy(a->session, m.u.session_ok.id, sizeof(a->session));
    a->have_session = true;
    return save_state(a, errp);
}

static int send_manifest(struct agent *a, struct p2v_conn *c, bool final, struct vd_error **errp)
{
    uint8_t *xml;
    int len;
    int ret = agent_manifest_build(a->disks, a->ndisks, a->name, final, a->o.no_digest, &xml, &len, errp);
    if (ret < 0)
        return fatal_error(a, ret);
    struct p2v_msg m = { .type = P2V_MSG_MANIFEST };
    m.u.manifest.final = final;
    m.u.manifest.xml = xml;
    m.u.manifest.len = (uint32_t)len;
    ret = p2v_conn_send(c, &m, errp);
    free(xml);
    return ret;
}

static int send_chunk(struct agent *a, struct p2v_conn *c, int di, struct slot *s,
                      struct vd_error **errp)
{
    struct p2v_msg m = { .type = P2V_MSG_CHUNK };
    m.u.chunk.disk = (uint8_t)di;
    m.u.chunk.offset = s->offset;
    m.u.chunk.raw_len = (uint32_t)s->len;
    m.u.chunk.checksum = s->checksum;
    m.u.chunk.encoding = s->encoding;
    m.u.chunk.payload = s->payload;
    m.u.chunk.payload_len = s->payload_len;
    bool corrupt = s->encoding != P2V_ENC_ZERO && ++a->chunks_sent == a->corrupt_chunk;
    if (s->encoding == P2V_ENC_RAW && s->in_place) {
        if (++a->chunks_in_place == a->stale_chunk) {
            a->stale_disk = di;
            a->stale_offset = s->offset;
        }
        if (di == a->stale_disk && s->offset == a->stale_offset)
            corrupt = true;
    }
    if (corrupt) {
        if (s->encoding == P2V_ENC_RAW && s->in_place) {
            memcpy(s->raw, s->data, s->len);    /* the source is read-only */
            m.u.chunk.payload = s->raw;
        }
        ((uint8_t *)(uintptr_t)m.u.chunk.payload)[s->payload_len / 2] ^= 0x5A;
    }
    uint64_t before = p2v_conn_bytes_sent(c);
    bool in_place = s->encoding == P2V_ENC_RAW && s->in_place && m.u.chunk.payload == s->data;
    int ret = in_place ? p2v_conn_send_file(c, &m, a->disks[di].map_fd, s->file_off, errp)
                       : p2v_conn_send(c, &m, errp);
    if (ret == 0 && in_place)
        a->sent_in_place += s->len;
    rate_limit(a, (size_t)(p2v_conn_bytes_sent(c) - before));
    return ret;
}

/* (Re)starts disk DI's pipeline so that sending goes on at SEND_FROM. The
 * digest needs every chunk below it: from a snapshot taken when that chunk
 * was first sent, or else by reading the disk again from the start. */
static int restart_at(struct agent *a, int di, uint64_t send_from, struct vd_error **errp)
{
    struct agent_disk *d = &a->disks[di];
    pipeline_stop(&a->pipe);
    if (a->o.no_digest)
        return pipeline_start(a, di, send_from, send_from, errp);
    for (unsigned i = 0; i < DIGEST_RING && i < a->ring_pos; i++) {
        const struct digest_snapshot *s = &a->ring[(a->ring_pos - 1 - i) % DIGEST_RING];
        if (s->disk == di && s->offset == send_from) {
            a->dig = s->before;
            return pipeline_start(a, di, send_from, send_from, errp);
        }
    }
    a->done_used -= agent_plan_bytes(d, 0, send_from);
    p2v_digest_init(&a->dig, d->size);
    return pipeline_start(a, di, 0, send_from, errp);
}

/* Goes back to the chunk the server asked for again. */
static int rewind_to(struct agent *a, int di, uint64_t off, uint64_t *pos,
                     struct vd_error **errp)
{
    struct agent_disk *d = &a->disks[di];
    if (off % P2V_CHUNK_SIZE || off >= d->size || off >= *pos)
        return fatal_error(a, vd_error_set(errp, -EPROTO, "the server asked again for offset %llu of disk %d",
                                           (unsigned long long)off, di));
    a->done_used -= agent_plan_bytes(d, off, *pos - off);
    *pos = off;
    pipeline_stop(&a->pipe);    /* the reader reads what follows */
    a->nak_disk = di;
    a->nak_offset = off;
    return restart_at(a, di, off, errp);
}

/* Handles one server message that may arrive while streaming. */
static int on_message(struct agent *a, const struct p2v_msg *m, int di, uint64_t *pos,
                      struct vd_error **errp)
{
    switch (m->type) {
    case P2V_MSG_ACK:
        return 0;
    case P2V_MSG_NAK:
        if (m->u.nak.disk != di)
            return fatal_error(a, vd_error_set(errp, -EPROTO, "NAK for disk %u while sending disk %d",
                                               m->u.nak.disk, di));
        return rewind_to(a, di, m->u.nak.offset, pos, errp);
    case P2V_MSG_ERROR:
        vd_error_set(errp, -EIO, "the server failed: %s", m->u.error.text);
        return fatal_error(a, -EIO);
    default:
        return vd_error_set(errp, -EPROTO, "unexpected %s from the server", p2v_msg_name(m->type));
    }
}

/* Takes the pipeline's chunks in order: digest, send, drain the server's
 * messages (ACKs, a NAK that rewinds). Returns when the disk is read. */
static int send_pipeline(struct agent *a, struct p2v_conn *c, int di, uint64_t *pos,
                         struct vd_error **errp)
{
    struct p2v_msg m;
    struct slot *s;
    int ret;
    while (pipeline_next(&a->pipe, &s)) {
        if (s->ret < 0) {
            *errp = s->err;
            s->err = NULL;
            return s->ret;
        }
        if (!a->o.no_digest) {
            p2v_digest_skip_to(&a->dig, s->offset);
            if (!s->hash_only) {
                struct digest_snapshot *snap = &a->ring[a->ring_pos++ % DIGEST_RING];
                snap->disk = di;
                snap->offset = s->offset;
                snap->before = a->dig;
            }
            p2v_digest_chunk(&a->dig, s->offset, s->leaf);
        }
        if (!s->hash_only && (ret = send_chunk(a, c, di, s, errp)) < 0)
            return ret;
        a->done_used += s->used;
        if (!s->hash_only)
            *pos = s->offset + s->len;
        pipeline_release(&a->pipe, s);
        progress(a, false);
        while ((ret = p2v_conn_recv(c, &m, 0, errp)) == 0)
            if ((ret = on_message(a, &m, di, pos, errp)) < 0)
                return ret;
        if (ret != -ETIMEDOUT || *errp)
            return ret;
    }
    return 0;
}

static int stream_disk(struct agent *a, struct p2v_conn *c, int di, uint64_t resume,
                       struct vd_error **errp)
{
    struct agent_disk *d = &a->disks[di];
    struct p2v_msg m;
    uint64_t pos = resume;
    p2v_digest_init(&a->dig, d->size);
    if (a->o.no_digest)
        a->done_used += agent_plan_bytes(d, 0, resume);
    int ret = pipeline_start(a, di, a->o.no_digest ? resume : 0, resume, errp);
    while (ret == 0) {
        if ((ret = send_pipeline(a, c, di, &pos, errp)) < 0)
            break;
        pipeline_stop(&a->pipe);
        m = (struct p2v_msg){ .type = P2V_MSG_DISK_END };
        m.u.disk_end.disk = (uint8_t)di;
        for (size_t i = 0; i < d->nbad; i++)
            m.u.disk_end.bad_sectors += (uint32_t)d->bad[i].count;
        if (!a->o.no_digest)
            p2v_digest_final(&a->dig, m.u.disk_end.sha256);
        memcpy(d->sha256, m.u.disk_end.sha256, 32);
        if ((ret = p2v_conn_send(c, &m, errp)) < 0)
            break;
        pos = d->size;
        while ((ret = p2v_conn_recv(c, &m, -1, errp)) == 0) {
            if (m.type == P2V_MSG_DISK_DONE && m.u.disk_done.disk == di)
                break;
            if ((ret = on_message(a, &m, di, &pos, errp)) < 0 || pos < d->size)
                break;      /* a NAK restarted the pipeline: send again from there */
        }
        if (ret < 0 || pos < d->size)
            continue;
        if (!m.u.disk_done.ok)
            return fatal_error(a, vd_error_set(errp, -EIO,
                                               "disk %d (%s): the server's SHA-256 differs from ours; the image is not complete",
                                               di, d->path));
        d->verified = true;
        return 0;
    }
    pipeline_stop(&a->pipe);
    return ret;
}

static int run_session(struct agent *a, struct vd_error **errp)
{
    struct p2v_conn *c;
    uint64_t resume[P2V_MAX_DISKS];
    int ret = p2v_connect(a->o.server, a->o.use_tls ? &a->o.tls : NULL, &c, errp);
    if (ret < 0)
        return ret;
    a->done_used = 0;
    ret = handshake(a, c, resume, errp);
    if (ret == 0)
        ret = send_manifest(a, c, false, errp);
    /* bad_scan_end survives reconnects: the chunks below the resume point
     * are read again for the digest, and their bad sectors are listed
     * already. */
    for (int i = 0; i < a->ndisks && ret == 0; i++) {
        if (a->disks[i].verified)
            a->done_used += a->disks[i].plan.used_bytes;
        else
            ret = stream_disk(a, c, i, resume[i], errp);
    }
    if (ret == 0)
        ret = send_manifest(a, c, true, errp);
    struct p2v_msg m = { .type = P2V_MSG_FINISH };
    if (ret == 0)
        ret = p2v_conn_send(c, &m, errp);
    while (ret == 0) {
        ret = p2v_conn_recv(c, &m, -1, errp);
        if (ret == 0 && m.type == P2V_MSG_FINISH_OK)
            break;
        if (ret == 0 && m.type == P2V_MSG_ERROR) {
            vd_error_set(errp, -EIO, "the server could not finish: %s", m.u.error.text);
            ret = fatal_error(a, -EIO);
        }
        /* late ACKs are fine */
    }
    a->wire_before += p2v_conn_bytes_sent(c);
    p2v_conn_close(c);
    return ret;
}

/* A mapped source page that can no longer be read (the file shrank, or a
 * sector failed after agent_disk_map read it) raises SIGBUS: one line,
 * and the journal lets the same command resume. */
static void guard_mapped_sources(void)
{
    vd_sigbus_guard("p2v capture: a source disk became unreadable under a mapped read "
                    "(it shrank, or a sector failed); run the same command again to resume\n",
                    NULL, 1);
}

static void usage(FILE *f)
{
    fprintf(f,
"Usage: p2v capture --server HOST:PORT --token-file FILE [options]\n"
"Captures this machine's disks (or the given disks or image files) to a p2v\n"
"server: only the used blocks, checksummed, optionally compressed, resumable.\n"
"\n"
"  --server HOST:PORT     the conversion host running `p2v serve`\n"
"  --token-file FILE      the shared token (one line, at least 16 bytes)\n"
"  --name NAME            machine name on the server (default: host name)\n"
"  --disk DEV|FILE        a disk or image file to capture (repeatable;\n"
"                         default: every fixed disk in /sys/block)\n"
"  --compress zstd|none   compress chunks with zstd level 1 (default: none)\n"
"  --digest sha256|none   whole-disk SHA-256 checked by both sides (default),\n"
"                         or chunk checksums only (old CPUs: SHA-256 runs at\n"
"                         tens of MB/s on a Pentium III)\n"
"  --rate MB/s            limit the bandwidth used\n"
"  --state FILE           session file for resuming after a restart\n"
"                         (default: /var/tmp/p2v-capture-NAME.session)\n"
"  --retry-for SECONDS    keep reconnecting this long to resume a session\n"
"                         that started (600); before one exists (no server,\n"
"                         refused), fail at once with the reason\n"
"  --tls                  use TLS 1.3; needs --server-cert-sha256 or --ca\n"
"  --server-cert-sha256 HEX  pin the server certificate's SHA-256\n"
"  --ca FILE              verify the server certificate against FILE\n"
"  -p, --progress         show used bytes done, rate and ETA\n"
"  -v, --verbose          report reconnections on stderr\n"
"  -h, --help             this text\n"
"Exit status: 0 captured and verified, 1 failed, 2 usage error.\n");
}

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "p2v capture: %s%s%s; see p2v capture --help\n", msg, arg ? ": " : "", arg ? arg : "");
    return 2;
}

static void default_name(char *out, size_t len)
{
    char host[256] = "machine";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = 0;
    host[strcspn(host, ".")] = 0;
    size_t j = 0;
    for (size_t i = 0; host[i] && j + 1 < len; i++)
        out[j++] = p2v_name_valid((char[]){ host[i], 0 }) ? host[i] : '-';
    out[j] = 0;
    if (!p2v_name_valid(out))
        snprintf(out, len, "machine");
}

int p2v_capture_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "server", required_argument, NULL, 's' },
        { "token-file", required_argument, NULL, 't' },
        { "name", required_argument, NULL, 'n' },
        { "disk", required_argument, NULL, 'd' },
        { "compress", required_argument, NULL, 'c' },
        { "digest", required_argument, NULL, 'D' },
        { "rate", required_argument, NULL, 'r' },
        { "state", required_argument, NULL, 'S' },
        { "retry-for", required_argument, NULL, 'R' },
        { "tls", no_argument, NULL, 'T' },
        { "server-cert-sha256", required_argument, NULL, 'P' },
        { "ca", required_argument, NULL, 'C' },
        { "progress", no_argument, NULL, 'p' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    struct agent *a = calloc(1, sizeof(*a));
    if (!a) {
        fprintf(stderr, "p2v capture: out of memory\n");
        return 1;
    }
    struct capture_opts *o = &a->o;
    o->retry_seconds = RETRY_DEFAULT_S;
    a->nak_disk = -1;
    bool verbose = false;
    int opt, rc = 2;
    struct vd_error *err = NULL;
    char (*found)[PATH_MAX] = NULL;
    char *end;
    optind = 1;
    opterr = 0;     /* our own one-line messages */
    while ((opt = getopt_long(argc, argv, ":pvh", longopts, NULL)) != -1) {
        switch (opt) {
        case 's': o->server = optarg; break;
        case 't': o->token_file = optarg; break;
        case 'n': o->name = optarg; break;
        case 'S': o->state_file = optarg; break;
        case 'T': o->use_tls = true; break;
        case 'P': o->tls.cert_sha256 = optarg; break;
        case 'C': o->tls.ca_file = optarg; break;
        case 'p': o->progress = true; break;
        case 'v': verbose = true; break;
        case 'h': usage(stdout); rc = 0; goto out_free;
        case 'd':
            if (o->ndisks == P2V_MAX_DISKS) {
                rc = usage_error("too many --disk (at most 32)", NULL);
                goto out_free;
            }
            o->disks[o->ndisks++] = optarg;
            break;
        case 'c':
            if (strcmp(optarg, "zstd") && strcmp(optarg, "none")) {
                rc = usage_error("--compress takes zstd or none", optarg);
                goto out_free;
            }
            o->compress = !strcmp(optarg, "zstd");
            break;
        case 'D':
            if (strcmp(optarg, "sha256") && strcmp(optarg, "none")) {
                rc = usage_error("--digest takes sha256 or none", optarg);
                goto out_free;
            }
            o->no_digest = !strcmp(optarg, "none");
            break;
        case 'r':
            o->rate_mb = strtod(optarg, &end);
            if (*end || !(o->rate_mb > 0)) {
                rc = usage_error("--rate takes a positive number of MB/s", optarg);
                goto out_free;
            }
            break;
        case 'R':
            o->retry_seconds = (int)strtol(optarg, &end, 10);
            if (*end || o->retry_seconds < 0 || o->retry_seconds > 86400 * 7) {
                rc = usage_error("--retry-for takes seconds", optarg);
                goto out_free;
            }
            break;
        case ':':
            rc = usage_error("missing argument for", argv[optind - 1]);
            goto out_free;
        default:
            rc = usage_error("unknown option", argv[optind - 1]);
            goto out_free;
        }
    }
    if (optind < argc) {
        rc = usage_error("unexpected argument", argv[optind]);
        goto out_free;
    }
    if (!o->server || !o->token_file) {
        rc = usage_error("--server and --token-file are required", NULL);
        goto out_free;
    }
    if (p2v_addr_check(o->server, false, &err) < 0) {
        rc = usage_error(err->msg, NULL);
        vd_error_clear(&err);
        goto out_free;
    }
    if (o->use_tls && !o->tls.cert_sha256 && !o->tls.ca_file) {
        rc = usage_error("--tls needs --server-cert-sha256 or --ca (the server must be pinned)", NULL);
        goto out_free;
    }
    if (!o->use_tls && (o->tls.cert_sha256 || o->tls.ca_file)) {
        rc = usage_error("--server-cert-sha256 and --ca need --tls", NULL);
        goto out_free;
    }
    if (o->name && !p2v_name_valid(o->name)) {
        rc = usage_error("--name must be 1-64 of A-Z a-z 0-9 . _ - (not starting with '.')", o->name);
        goto out_free;
    }
    if (o->name)
        snprintf(a->name, sizeof(a->name), "%s", o->name);
    else
        default_name(a->name, sizeof(a->name));
    char state_default[PATH_MAX];
    if (!o->state_file) {
        snprintf(state_default, sizeof(state_default), "/var/tmp/p2v-capture-%s.session", a->name);
        o->state_file = state_default;
    }

    rc = 1;
    const char *env;
    if (p2v_token_read(o->token_file, &a->tok, &err) < 0)
        goto report;
    if ((env = getenv("P2V_TEST_BAD_SECTORS")) && parse_inject(a, env, &err) < 0)
        goto report;
    if ((env = getenv("P2V_TEST_CORRUPT_CHUNK")))
        a->corrupt_chunk = strtol(env, NULL, 10);
    if ((env = getenv("P2V_TEST_STALE_CACHE")))
        a->stale_chunk = strtol(env, NULL, 10);
    a->stale_disk = -1;

    if (o->ndisks == 0) {
        found = calloc(P2V_MAX_DISKS, PATH_MAX);
        if (!found) {
            vd_error_set(&err, -ENOMEM, "out of memory");
            goto report;
        }
        int n = agent_list_fixed_disks(found, P2V_MAX_DISKS, &err);
        if (n < 0)
            goto report;
        for (int i = 0; i < n; i++)
            o->disks[o->ndisks++] = found[i];
    }
    a->disks = calloc((size_t)o->ndisks, sizeof(*a->disks));
    if (!a->disks) {
        vd_error_set(&err, -ENOMEM, "out of memory");
        goto report;
    }
    if (pipeline_alloc(a, &err) < 0)
        goto report;
    guard_mapped_sources();
    for (int i = 0; i < o->ndisks; i++) {
        if (agent_disk_open(&a->disks[i], o->disks[i], &err) < 0)
            goto report;
        a->ndisks++;
        a->total_used += a->disks[i].plan.used_bytes;
    }
    load_state(a);

    /* -p on a log (no terminal) still gets a line every 5 s. */
    vd_progress_start(&a->meter, o->progress, true, a->total_used);
    a->rate_t0 = now_s();
    double last_contact = now_s();
    for (;;) {
        a->fatal = false;
        uint64_t before = a->done_used;
        int ret = run_session(a, &err);
        if (ret == 0)
            break;
        /* Before a session exists (none from this run, none in the session
         * file) nothing can be resumed: a server that is not there, a name
         * another agent holds, fail now with the reason. */
        if (a->fatal || !a->have_session)
            goto report;
        if (a->done_used > before)
            last_contact = now_s();
        if (now_s() - last_contact > o->retry_seconds) {
            vd_error_prefix(&err, "gave up after %d s of failed reconnects", o->retry_seconds);
            goto report;
        }
        if (verbose)
            fprintf(stderr, "p2v capture: %s; reconnecting\n", err ? err->msg : "connection lost");
        vd_error_clear(&err);
        sleep_s(1);
    }
    progress(a, true);
    unlink(o->state_file);
    rc = 0;
    goto out_free;
report:
    vd_error_report("p2v capture", err);
out_free:
    for (int i = 0; i < a->ndisks; i++)
        agent_disk_close(&a->disks[i]);
    free(found);
    free(a->disks);
    pipeline_free(&a->pipe);
    free(a->inject);
    free(a);
    return rc;
}
