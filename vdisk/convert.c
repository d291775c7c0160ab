/* vdisk convert: the copy engine. Worker threads (4 by default: more than
 * the cores, as workers also wait on I/O) take fixed chunks in turn, ask
 * the source's block status (through the whole backing chain, so a
 * differencing disk converts to its merged content), read only data
 * extents in large requests, skip every zero 4 KiB granule, and write the
 * rest out of order into a fresh target. The target is written under a
 * temporary name and renamed when complete, so an interrupted conversion
 * never leaves a plausible but partial OUT. With -n the target exists (an
 * image, an LV, a LUN) and is written in place: its zeros are written too,
 * unless --target-is-zero. With -B the target is a child of BACKING and
 * only what differs from BACKING is written. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "formats/image.h"
#include "vdisk/vdisk.h"

#define CHUNK (2u << 20)        /* one VHD block: whole-block allocations */
#define GRANULE 4096u           /* zero detection unit (-S) by default */
#define MAX_THREADS 16

static const char help[] =
    "usage: vdisk convert [-f FMT] [-O FMT] [-o OPTS] [-n [--target-is-zero]]\n"
    "                     [-B BACKING] [-S SIZE] [-t CACHE] [-c] [-l SNAP] [-p] [-m N]\n"
    "                     [-W] IN OUT\n"
    "Copies the content of IN (a differencing disk: its merged content) into a\n"
    "new image OUT. Only allocated, non-zero data is read and written. OUT is\n"
    "written as OUT.vdisk-tmp and renamed when complete; OUT may not be IN or\n"
    "any image of IN's backing chain.\n"
    "  -f, --format=FMT       format of IN (default: probed)\n"
    "  -O, --output-format=FMT a format of 'vdisk create --help' (default raw,\n"
    "                         as qemu-img)\n"
    "  -o, --options=OPTS     create options of OUT (see 'vdisk create --help')\n"
    "  -n, --no-create        OUT exists (an image of format -O, or a block device\n"
    "                         such as an LV or a LUN): write into it in place, at\n"
    "                         least IN's size; ranges IN reads as zeros are\n"
    "                         zeroed in OUT too\n"
    "      --target-is-zero   with -n: OUT already reads as zeros; skip zeros\n"
    "  -B, --backing=BACKING  make OUT a differencing child of BACKING and write\n"
    "                         only what differs from it (vhd and vmdk)\n"
    "  -S, --sparse-size=SIZE zero detection unit (default 4K, a multiple of 512\n"
    "                         up to 2M); 0 writes every byte (fully allocated)\n"
    "  -t, --cache=CACHE      how OUT is written: writeback (default, through the\n"
    "                         page cache) or none (aligned data with O_DIRECT,\n"
    "                         where the file system has it: no copy into the\n"
    "                         cache, which keeps what the host had cached)\n"
    "  -c, --compress         write OUT's clusters compressed (qcow2: zlib, or zstd\n"
    "                         with -o compression_type=zstd; in parallel)\n"
    "  -l, --snapshot=SNAP    copy IN's internal snapshot SNAP (qcow2: id or name,\n"
    "                         or snapshot.id=ID / snapshot.name=NAME) instead of\n"
    "                         its current state\n"
    "  -p, --progress         show bytes done, rate and ETA (redrawn on a\n"
    "                         terminal, a line every 5 s elsewhere: a log of an\n"
    "                         unattended run shows it)\n"
    "  -m, --parallel=N       worker threads (default 4: I/O waits keep more\n"
    "                         in flight than there are cores)\n"
    "  -W                     out-of-order writes: always so here (accepted for\n"
    "                         qemu-img's command lines)\n"
    "  -h, --help             this text\n";

struct convert_job {
    struct vd_image *in, *out;
    uint64_t size;
    uint64_t next;          /* next chunk offset (atomic) */
    uint64_t done;          /* bytes finished (atomic) */
    int running;            /* workers still running (atomic) */
    int failed;             /* atomic */
    size_t granule;         /* zero detection unit; 0: write every byte */
    bool zero_target;       /* OUT reads as zeros where not written */
    bool diff_target;       /* OUT has a backing file: write what differs */
    pthread_mutex_t lock;
    struct vd_error *err;   /* the first error */
};

static void job_fail(struct convert_job *job, struct vd_error *err)
{
    pthread_mutex_lock(&job->lock);
    if (!job->err)
        job->err = err;
    else
        vd_error_free(err);
    pthread_mutex_unlock(&job->lock);
    __atomic_store_n(&job->failed, 1, __ATOMIC_RELEASE);
}

static bool granule_is_zero(const uint8_t *p, size_t len)
{
    /* Check the head, then let memcmp compare the buffer with itself
     * shifted: vectorised by libc, several GB/s. */
    if (len < 16)
        return p[0] == 0 && (len == 1 || memcmp(p, p + 1, len - 1) == 0);
    static const uint8_t zeros[16];
    return memcmp(p, zeros, 16) == 0 && memcmp(p, p + 16, len - 16) == 0;
}

static const uint8_t zero_chunk[CHUNK];

/* Writes one run of granules; ZERO says they all read as zeros. */
static int write_run(struct convert_job *job, const uint8_t *buf, size_t len, uint64_t off,
                     bool zero, struct vd_error **errp)
{
    if (!zero || job->granule == 0 || job->diff_target)
        return vd_image_pwrite(job->out, buf, len, off, errp);
    return vd_image_write_zeroes(job->out, len, off, errp);
}

/* Whether a granule must be written: a fresh target needs only the
 * non-zero ones; an existing one (-n) every one; a child (-B) the ones
 * that differ from what it reads now (its parent). */
static bool granule_needed(struct convert_job *job, const uint8_t *p, const uint8_t *cur,
                           size_t n, bool *zero)
{
    *zero = granule_is_zero(p, n);
    if (job->diff_target)
        return memcmp(p, cur, n) != 0;
    return !job->zero_target || !*zero;
}

/* Writes the granules of BUF (LEN bytes at OFF) that OUT needs, in runs;
 * CUR is OUT's present content (only with -B). */
static int write_needed(struct convert_job *job, const uint8_t *buf, const uint8_t *cur,
                        size_t len, uint64_t off, struct vd_error **errp)
{
    if (job->granule == 0)
        return vd_image_pwrite(job->out, buf, len, off, errp);
    size_t pos = 0, run_start = 0;
    bool in_run = false, run_zero = false;
    while (pos < len) {
        size_t n = job->granule - (size_t)((off + pos) % job->granule);
        if (n > len - pos)
            n = len - pos;
        bool zero;
        bool need = granule_needed(job, buf + pos, cur ? cur + pos : NULL, n, &zero);
        if (in_run && (!need || zero != run_zero)) {
            int ret = write_run(job, buf + run_start, pos - run_start, off + run_start,
                                run_zero, errp);
            if (ret < 0)
                return ret;
            in_run = false;
        }
        if (need && !in_run) {
            run_start = pos;
            run_zero = zero;
            in_run = true;
        }
        pos += n;
    }
    if (in_run)
        return write_run(job, buf + run_start, len - run_start, off + run_start, run_zero,
                         errp);
    return 0;
}

/* Writes BUF (LEN <= CHUNK bytes of IN at OFF) as OUT needs it; CUR is a
 * CHUNK buffer for OUT's present content (-B). */
static int write_out(struct convert_job *job, const uint8_t *buf, uint8_t *cur, size_t len,
                     uint64_t off, struct vd_error **errp)
{
    if (job->diff_target) {
        int ret = vd_image_pread(job->out, cur, len, off, errp);
        if (ret < 0)
            return ret;
    }
    return write_needed(job, buf, job->diff_target ? cur : NULL, len, off, errp);
}

static int copy_chunk(struct convert_job *job, uint8_t *buf, uint8_t *cur, uint64_t off,
                      uint64_t len, struct vd_error **errp)
{
    uint64_t pos = off, end = off + len;
    while (pos < end) {
        struct vd_extent ext;
        int ret = vd_image_block_status(job->in, pos, end - pos, 0, &ext, errp);
        if (ret < 0)
            return ret;
        /* Read into a reused buffer: on this kernel mapping the source
         * instead costs more in page faults and TLB shootdowns than the
         * copy it saves (docs/BENCHMARKS.md, session 8). */
        if (ext.kind == VD_EXTENT_DATA) {
            ret = vd_image_pread(job->in, buf, (size_t)ext.length, pos, errp);
            if (ret == 0)
                ret = write_out(job, buf, cur, (size_t)ext.length, pos, errp);
        } else if (!job->zero_target || job->granule == 0 || job->diff_target)
            /* Zeros OUT does not read yet (or, -S 0, must allocate). */
            ret = write_out(job, zero_chunk, cur, (size_t)ext.length, pos, errp);
        if (ret < 0)
            return ret;
        pos += ext.length;
    }
    return 0;
}

static void *worker(void *arg)
{
    struct convert_job *job = arg;
    uint8_t *buf = aligned_alloc(4096, CHUNK);
    uint8_t *cur = job->diff_target ? aligned_alloc(4096, CHUNK) : NULL;
    struct vd_error *err = NULL;
    if (!buf || (job->diff_target && !cur)) {
        free(buf);
        buf = NULL;
        vd_error_set(&err, -ENOMEM, "out of memory");
        job_fail(job, err);
    }
    while (buf && !__atomic_load_n(&job->failed, __ATOMIC_ACQUIRE)) {
        uint64_t off = __atomic_fetch_add(&job->next, CHUNK, __ATOMIC_RELAXED);
        if (off >= job->size)
            break;
        uint64_t len = job->size - off < CHUNK ? job->size - off : CHUNK;
        if (copy_chunk(job, buf, cur, off, len, &err) < 0) {
            job_fail(job, err);
            break;
        }
        __atomic_fetch_add(&job->done, len, __ATOMIC_RELAXED);
    }
    free(buf);
    free(cur);
    __atomic_fetch_sub(&job->running, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* OUT may not be any image that IN reads. */
static int run_copy(struct convert_job *job, int threads, bool progress)
{
    pthread_t tids[MAX_THREADS];
    struct vd_progress prog;
    vd_progress_start(&prog, progress, progress, job->size);
    int started = 0;
    job->running = threads;
    for (; started < threads; started++)
        if (pthread_create(&tids[started], NULL, worker, job) != 0)
            break;
    if (started < threads) {
        __atomic_fetch_sub(&job->running, threads - started, __ATOMIC_RELEASE);
        if (started == 0) {
            struct vd_error *err = NULL;
            vd_error_set(&err, -EAGAIN, "cannot start a worker thread");
            job_fail(job, err);
        }
    }
    while (__atomic_load_n(&job->running, __ATOMIC_ACQUIRE) > 0) {
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        /* Keep the disk busy while copying: the final flush then has
         * little left to wait for. */
        vd_image_start_writeback(job->out);
        vd_progress_update(&prog, __atomic_load_n(&job->done, __ATOMIC_RELAXED));
    }
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    if (!job->failed)
        vd_progress_finish(&prog, job->size, NULL);
    return job->failed ? -1 : 0;
}

static void sync_folder(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return;
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir ? 1 : 0] = '\0';
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

/* -n: writes into the existing OUT in place (no temporary name: an LV
 * cannot be renamed over). */
static int convert_in_place(struct convert_job *job, const char *out_path, const char *out_fmt,
                            unsigned out_flags, int threads, bool progress,
                            struct vd_error **errp)
{
    int ret = vd_image_open(out_path, out_fmt, out_flags, &job->out, errp);
    if (ret < 0)
        return ret;
    if (vd_image_size(job->out) < job->size) {
        ret = vd_error_set(errp, -EINVAL, "%s: the %s target holds %llu bytes, less than the "
                           "%llu of the source", out_path, vd_image_format(job->out),
                           (unsigned long long)vd_image_size(job->out),
                           (unsigned long long)job->size);
    } else if (vd_image_sequential(job->out)) {
        ret = vd_error_set(errp, -EROFS, "%s: a %s image of this kind is written once, when "
                           "it is created: -n cannot write into it", out_path,
                           vd_image_format(job->out));
    } else if (run_copy(job, threads, progress) < 0) {
        *errp = job->err;
        job->err = NULL;
        ret = -EIO;
    }
    struct vd_image *out = job->out;
    job->out = NULL;
    if (vd_image_close(out, ret == 0 ? errp : NULL) < 0 && ret == 0)
        ret = -EIO;
    return ret;
}

int vdisk_convert(int argc, char **argv)
{
    enum { OPT_TARGET_IS_ZERO = 256 };
    static const struct option longopts[] = {
        { "format", required_argument, NULL, 'f' },
        { "output-format", required_argument, NULL, 'O' },
        { "options", required_argument, NULL, 'o' },
        { "no-create", no_argument, NULL, 'n' },
        { "backing", required_argument, NULL, 'B' },
        { "sparse-size", required_argument, NULL, 'S' },
        { "target-is-zero", no_argument, NULL, OPT_TARGET_IS_ZERO },
        { "cache", required_argument, NULL, 't' },
        { "progress", no_argument, NULL, 'p' },
        { "parallel", required_argument, NULL, 'm' },
        { "compress", no_argument, NULL, 'c' },
        { "snapshot", required_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *in_fmt = NULL, *out_fmt = "raw", *options = NULL, *backing = NULL;
    const char *snapshot = NULL;
    bool progress = false, no_create = false, target_is_zero = false;
    uint64_t granule = GRANULE;
    unsigned out_flags = VD_OPEN_WRITE;
    /* Workers also wait (page faults on the source, dirty-page throttling
     * on the target), so more of them than cores keeps every core busy.
     * Not many more: buffered writes to one file take its inode lock, and
     * 8 workers spent their time spinning on it (raw -> VHDX dynamic on 2
     * cores: 4 workers 0.76x the wall time of 8, the other formats even). */
    int threads = 4;
    int c;
    while ((c = getopt_long(argc, argv, "+f:O:o:nB:S:t:pm:Wcl:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': in_fmt = optarg; break;
        case 'O': out_fmt = optarg; break;
        case 'o': options = optarg; break;
        case 'n': no_create = true; break;
        case 'B': backing = optarg; break;
        case 'S':
            if (!vdisk_parse_size(optarg, &granule) || granule % 512 || granule > CHUNK)
                return vdisk_usage("convert", "-S takes 0 or a multiple of 512 up to 2M, "
                                   "not '%s'", optarg);
            break;
        case OPT_TARGET_IS_ZERO: target_is_zero = true; break;
        case 't':
            if (strcmp(optarg, "none") == 0)
                out_flags |= VD_OPEN_DIRECT;
            else if (strcmp(optarg, "writeback") != 0)
                return vdisk_usage("convert", "-t takes writeback or none, not '%s'", optarg);
            break;
        case 'p': progress = true; break;
        case 'c': out_flags |= VD_OPEN_COMPRESS; break;
        case 'l':   /* qemu-img's forms: snapshot.id=ID, snapshot.name=NAME, or ID-or-name */
            snapshot = optarg;
            if (strncmp(snapshot, "snapshot.id=", 12) == 0)
                snapshot += 12;
            else if (strncmp(snapshot, "snapshot.name=", 14) == 0)
                snapshot += 14;
            if (!*snapshot)
                return vdisk_usage("convert", "-l takes a snapshot id or name");
            break;
        case 'm': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > MAX_THREADS)
                return vdisk_usage("convert", "-m takes 1 to %d threads, not '%s'", MAX_THREADS,
                                   optarg);
            threads = (int)n;
            break;
        }
        case 'W': break;    /* out of order is how every copy here runs */
        case 'h': fputs(help, stdout); return VDISK_OK;
        default: return vdisk_bad_option("convert", argv);
        }
    }
    if (argc - optind != 2)
        return vdisk_usage("convert", "expects IN and OUT");
    if (in_fmt && !vd_format_known(in_fmt))
        return vdisk_usage("convert", "unknown format '%s'", in_fmt);
    if (!vd_format_known(out_fmt))
        return vdisk_usage("convert", "unknown format '%s'", out_fmt);
    if ((out_flags & VD_OPEN_COMPRESS) && !vd_format_can(out_fmt, VD_FORMAT_COMPRESS))
        return vdisk_usage("convert", "-c: compression is not supported for format %s (a "
                           "streamOptimized VMDK is always compressed)", out_fmt);
    if (target_is_zero && !no_create)
        return vdisk_usage("convert", "--target-is-zero needs -n");
    if (no_create && (options || backing))
        return vdisk_usage("convert", "-n writes into an existing OUT: -%c cannot apply",
                           options ? 'o' : 'B');
    if (vdisk_check_options("convert", out_fmt, options))
        return VDISK_USAGE;
    struct vd_error *err = NULL;
    const char *in_path = argv[optind], *out_path = argv[optind + 1];

    struct convert_job job = { 0 };
    job.granule = (size_t)granule;
    job.zero_target = !no_create || target_is_zero;
    job.diff_target = backing != NULL;
    pthread_mutex_init(&job.lock, NULL);
    size_t tlen = strlen(out_path) + 16;
    char *tmp = malloc(tlen);
    int rc = VDISK_FAILED;
    if (!tmp) {
        vd_error_set(&err, -ENOMEM, "out of memory");
        goto out;
    }
    snprintf(tmp, tlen, "%s.vdisk-tmp", out_path);
    if (vd_output_check(out_path, &in_path, 1, &err) < 0 ||
        (!no_create && vd_output_check(tmp, &in_path, 1, &err) < 0) ||
        (backing && vd_output_check(out_path, &backing, 1, &err) < 0) ||
        (snapshot ? vd_image_open_snapshot(in_path, in_fmt, snapshot, 0, &job.in, &err)
                  : vd_image_open(in_path, in_fmt, 0, &job.in, &err)) < 0)
        goto out;
    job.size = vd_image_size(job.in);
    if (no_create) {
        if (convert_in_place(&job, out_path, out_fmt, out_flags, threads, progress, &err) == 0)
            rc = VDISK_OK;
        goto out;
    }
    unlink(tmp);
    /* A child takes its parent's size (a VHD child must; BACKING smaller
     * than IN is refused below). */
    if (vd_image_create(tmp, out_fmt, backing ? 0 : job.size, options, backing, &err) < 0) {
        vd_error_prefix(&err, "%s", out_path);
        goto out;
    }
    /* OUT is only the temporary name until renamed: scratch. */
    if (vd_image_open(tmp, out_fmt, out_flags | VD_OPEN_SCRATCH, &job.out, &err) < 0)
        goto out_unlink;
    if (vd_image_size(job.out) < job.size) {
        vd_error_set(&err, -EINVAL, "%s: the %s image holds %llu bytes, less than the %llu of "
                     "'%s'", out_path, vd_image_format(job.out),
                     (unsigned long long)vd_image_size(job.out),
                     (unsigned long long)job.size, in_path);
        goto out_unlink;
    }
    /* An append-only target (streamOptimized VMDK) takes its writes in
     * order from one thread; it compresses on every core itself. */
    if (vd_image_sequential(job.out))
        threads = 1;
    if (run_copy(&job, threads, progress) < 0) {
        err = job.err;
        job.err = NULL;
        goto out_unlink;
    }
    struct vd_image *out = job.out;
    job.out = NULL;
    if (vd_image_close(out, &err) < 0)
        goto out_unlink;
    if (rename(tmp, out_path) < 0) {
        vd_error_set_errno(&err, -errno, "cannot rename '%s' to '%s'", tmp, out_path);
        goto out_unlink;
    }
    sync_folder(out_path);
    rc = VDISK_OK;
    goto out;

out_unlink:
    vd_image_close(job.out, NULL);
    job.out = NULL;
    unlink(tmp);
out:
    vd_image_close(job.out, NULL);
    vd_image_close(job.in, NULL);
    vd_error_free(job.err);
    pthread_mutex_destroy(&job.lock);
    free(tmp);
    return rc == VDISK_OK ? rc : vdisk_fail(err);
}
