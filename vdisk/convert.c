/* vdisk convert: the copy engine. Worker threads (8 by default: more than
 * the cores, as workers also wait on I/O) take fixed chunks in turn, ask
 * the source's block status (through the whole backing chain, so a
 * differencing disk converts to its merged content), read only data
 * extents in large requests, skip every zero 4 KiB granule, and write the
 * rest out of order into a fresh target. The target is written under a
 * temporary name and renamed when complete, so an interrupted conversion
 * never leaves a plausible but partial OUT. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/sigbus.h"
#include "formats/image.h"
#include "vdisk/vdisk.h"

#define CHUNK (2u << 20)        /* one VHD block: whole-block allocations */
#define GRANULE 4096u           /* zero detection unit */
#define MAX_THREADS 16

static const char help[] =
    "usage: vdisk convert [-f FMT] -O FMT [-o OPTS] [-t CACHE] [-c] [-l SNAP] [-p] [-m N] IN OUT\n"
    "Copies the content of IN (a differencing disk: its merged content) into a\n"
    "new image OUT. Only allocated, non-zero data is read and written. OUT is\n"
    "written as OUT.vdisk-tmp and renamed when complete; OUT may not be IN or\n"
    "any image of IN's backing chain.\n"
    "  -f, --format=FMT       format of IN (default: probed)\n"
    "  -O, --output-format=FMT a format of 'vdisk create --help'\n"
    "  -o, --options=OPTS     create options of OUT (see 'vdisk create --help')\n"
    "  -t, --cache=CACHE      how OUT is written: writeback (default, through the\n"
    "                         page cache) or none (aligned data with O_DIRECT,\n"
    "                         where the file system has it: no copy into the\n"
    "                         cache, which keeps what the host had cached)\n"
    "  -c, --compress         write OUT's clusters compressed (qcow2: zlib, or zstd\n"
    "                         with -o compression_type=zstd; in parallel)\n"
    "  -l, --snapshot=SNAP    copy IN's internal snapshot SNAP (qcow2: id or name,\n"
    "                         or snapshot.id=ID / snapshot.name=NAME) instead of\n"
    "                         its current state\n"
    "  -p, --progress         show bytes done, rate and ETA on a terminal\n"
    "  -m, --parallel=N       worker threads (default 8: I/O waits keep more\n"
    "                         in flight than there are cores)\n"
    "  -h, --help             this text\n";

struct convert_job {
    struct vd_image *in, *out;
    uint64_t size;
    uint64_t next;          /* next chunk offset (atomic) */
    uint64_t done;          /* bytes finished (atomic) */
    int running;            /* workers still running (atomic) */
    int failed;             /* atomic */
    /* The source's own file, mapped read-only: where the format stores
     * bytes as they are (vd_image_file_extent), zero detection reads the
     * page cache in place instead of first copying every byte. */
    const uint8_t *map;
    uint64_t map_size;
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

/* Writes the non-zero granules of BUF (LEN bytes at OFF); the target is
 * fresh, so zeros need no write. */
static int write_nonzero(struct vd_image *out, const uint8_t *buf, size_t len, uint64_t off,
                         struct vd_error **errp)
{
    size_t pos = 0, run_start = 0;
    bool in_run = false;
    while (pos < len) {
        size_t n = GRANULE - (size_t)((off + pos) % GRANULE);
        if (n > len - pos)
            n = len - pos;
        bool zero = granule_is_zero(buf + pos, n);
        if (!zero && !in_run) {
            run_start = pos;
            in_run = true;
        } else if (zero && in_run) {
            int ret = vd_image_pwrite(out, buf + run_start, pos - run_start, off + run_start, errp);
            if (ret < 0)
                return ret;
            in_run = false;
        }
        pos += n;
    }
    if (in_run)
        return vd_image_pwrite(out, buf + run_start, len - run_start, off + run_start, errp);
    return 0;
}

/* Drops a range of the mapping from the process (the page cache keeps the
 * pages), so the resident size stays small whatever the image size. The
 * kernel maps up to 64 KiB around each fault, so that much around the
 * range goes too. */
static void drop_mapped(const struct convert_job *job, uint64_t file_off, uint64_t len)
{
    const uint64_t around = 64 * 1024;
    uint64_t start = file_off > around ? (file_off - around) / 4096 * 4096 : 0;
    uint64_t end = file_off + len + around < job->map_size ? file_off + len + around
                                                           : job->map_size;
    madvise((void *)(uintptr_t)(job->map + start), (size_t)(end - start), MADV_DONTNEED);
}

/* A data extent: in place from the mapping where the file stores it as it
 * is, else read through the image API into BUF. */
static int copy_data(struct convert_job *job, uint8_t *buf, uint64_t pos, uint64_t len,
                     struct vd_error **errp)
{
    uint64_t end = pos + len;
    while (pos < end) {
        uint64_t file_off, run;
        int ret;
        if (job->map && vd_image_file_extent(job->in, pos, end - pos, &file_off, &run) == 0 &&
            file_off <= job->map_size && run <= job->map_size - file_off) {
            ret = write_nonzero(job->out, job->map + file_off, (size_t)run, pos, errp);
            drop_mapped(job, file_off, run);
        } else {
            run = end - pos;
            ret = vd_image_pread(job->in, buf, (size_t)run, pos, errp);
            if (ret == 0)
                ret = write_nonzero(job->out, buf, (size_t)run, pos, errp);
        }
        if (ret < 0)
            return ret;
        pos += run;
    }
    return 0;
}

static int copy_chunk(struct convert_job *job, uint8_t *buf, uint64_t off, uint64_t len,
                      struct vd_error **errp)
{
    uint64_t pos = off, end = off + len;
    while (pos < end) {
        struct vd_extent ext;
        int ret = vd_image_block_status(job->in, pos, end - pos, 0, &ext, errp);
        if (ret < 0)
            return ret;
        if (ext.kind == VD_EXTENT_DATA) {
            ret = copy_data(job, buf, pos, ext.length, errp);
            if (ret < 0)
                return ret;
        }
        pos += ext.length;
    }
    return 0;
}

static void *worker(void *arg)
{
    struct convert_job *job = arg;
    uint8_t *buf = aligned_alloc(4096, CHUNK);
    struct vd_error *err = NULL;
    if (!buf) {
        vd_error_set(&err, -ENOMEM, "out of memory");
        job_fail(job, err);
    }
    while (buf && !__atomic_load_n(&job->failed, __ATOMIC_ACQUIRE)) {
        uint64_t off = __atomic_fetch_add(&job->next, CHUNK, __ATOMIC_RELAXED);
        if (off >= job->size)
            break;
        uint64_t len = job->size - off < CHUNK ? job->size - off : CHUNK;
        if (copy_chunk(job, buf, off, len, &err) < 0) {
            job_fail(job, err);
            break;
        }
        __atomic_fetch_add(&job->done, len, __ATOMIC_RELAXED);
    }
    free(buf);
    __atomic_fetch_sub(&job->running, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* OUT may not be any image that IN reads. */
static int run_copy(struct convert_job *job, int threads, bool progress)
{
    pthread_t tids[MAX_THREADS];
    struct vd_progress prog;
    vd_progress_start(&prog, progress, false, job->size);
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

/* A mapped source that shrinks under us (another process truncating it)
 * or whose pages cannot be read (an I/O error) raises SIGBUS in whichever
 * worker touches them, possibly while formats/ holds a lock; so the
 * guard only says so, drops the unfinished output and ends the process. */
static void guard_mapped_source(const char *in_path, const char *tmp)
{
    char msg[PATH_MAX + 256];
    snprintf(msg, sizeof(msg),
             "vdisk: '%s' became unreadable during the conversion (truncated, or an I/O "
             "error); nothing was written\n", in_path);
    vd_sigbus_guard(msg, tmp, VDISK_FAILED);
}

/* Maps the source's own file read-only (a failure only means the copy
 * reads through the image API instead). */
static void map_source(struct convert_job *job)
{
    int fd = open(vd_image_path(job->in), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    void *map = MAP_FAILED;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (uint64_t)st.st_size <= SIZE_MAX)
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return;
    madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
    job->map = map;
    job->map_size = (uint64_t)st.st_size;
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

int vdisk_convert(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "format", required_argument, NULL, 'f' },
        { "output-format", required_argument, NULL, 'O' },
        { "options", required_argument, NULL, 'o' },
        { "cache", required_argument, NULL, 't' },
        { "progress", no_argument, NULL, 'p' },
        { "parallel", required_argument, NULL, 'm' },
        { "compress", no_argument, NULL, 'c' },
        { "snapshot", required_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *in_fmt = NULL, *out_fmt = NULL, *options = NULL, *snapshot = NULL;
    bool progress = false;
    unsigned out_flags = VD_OPEN_WRITE;
    /* Workers also wait (page faults on the source, dirty-page throttling
     * on the target), so more of them than cores keeps every core busy:
     * 8 requests in flight, like qemu-img's default. */
    int threads = 8;
    int c;
    while ((c = getopt_long(argc, argv, "+f:O:o:t:pcl:m:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': in_fmt = optarg; break;
        case 'O': out_fmt = optarg; break;
        case 'o': options = optarg; break;
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
        case 'h': fputs(help, stdout); return VDISK_OK;
        default: return vdisk_bad_option("convert", argv);
        }
    }
    if (!out_fmt)
        return vdisk_usage("convert", "-O FMT is required");
    if (argc - optind != 2)
        return vdisk_usage("convert", "expects IN and OUT");
    if (in_fmt && !vd_format_known(in_fmt))
        return vdisk_usage("convert", "unknown format '%s'", in_fmt);
    if (!vd_format_known(out_fmt))
        return vdisk_usage("convert", "unknown format '%s'", out_fmt);
    const char *in_path = argv[optind], *out_path = argv[optind + 1];

    struct vd_error *err = NULL;
    struct convert_job job = { 0 };
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
        vd_output_check(tmp, &in_path, 1, &err) < 0 ||
        (snapshot ? vd_image_open_snapshot(in_path, in_fmt, snapshot, 0, &job.in, &err)
                  : vd_image_open(in_path, in_fmt, 0, &job.in, &err)) < 0)
        goto out;
    job.size = vd_image_size(job.in);
    map_source(&job);
    if (job.map)
        guard_mapped_source(in_path, tmp);
    unlink(tmp);
    if (vd_image_create(tmp, out_fmt, job.size, options, NULL, &err) < 0) {
        vd_error_prefix(&err, "%s", out_path);
        goto out;
    }
    if (vd_image_open(tmp, out_fmt, out_flags, &job.out, &err) < 0)
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
    if (job.map)
        munmap((void *)(uintptr_t)job.map, (size_t)job.map_size);
    vd_error_free(job.err);
    pthread_mutex_destroy(&job.lock);
    free(tmp);
    return rc == VDISK_OK ? rc : vdisk_fail(err);
}
