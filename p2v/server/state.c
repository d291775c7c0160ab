/* The server's resume journal: which chunks of each disk are durable and
 * the digest state at that point, so that a restarted server resumes
 * exactly where the image data on disk ends. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "p2v/server/server.h"

void srv_image_path(const struct srv_session *s, int i, char *out, size_t len)
{
    snprintf(out, len, "%s/disk%d.%s", s->dir, i, s->format);
}

int srv_write_file(const char *dir, const char *file, const void *data, size_t len,
                   struct vd_error **errp)
{
    char tmp[PATH_MAX + 32], path[PATH_MAX + 32];
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, file);
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return vd_error_set_errno(errp, -errno, "%s", tmp);
    const char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? -errno : -EIO;
            close(fd);
            unlink(tmp);
            return vd_error_set_errno(errp, e, "%s", tmp);
        }
        done += (size_t)w;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        int e = -errno;
        unlink(tmp);
        return vd_error_set_errno(errp, e, "%s", tmp);
    }
    if (rename(tmp, path) < 0)
        return vd_error_set_errno(errp, -errno, "%s", path);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int srv_state_save(const struct srv_session *s, struct vd_error **errp)
{
    char buf[P2V_MAX_DISKS * 400 + 512], id[33];
    size_t n = 0;
    p2v_hex(s->id, sizeof(s->id), id);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                          "p2v-state 3\nsession %s\nformat %s\ncomplete %d\ndigest %s\ndisks %d\n",
                          id, s->format, s->complete, s->no_digest ? "none" : "sha256", s->ndisks);
    for (int i = 0; i < s->ndisks; i++) {
        const struct srv_disk *d = &s->disks[i];
        char dig[P2V_DIGEST_STATE_HEX + 1], fin[65];
        p2v_digest_save(&d->dig_durable, dig);
        if (d->verified)
            p2v_hex(d->final, 32, fin);
        else
            strcpy(fin, "-");
        n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                              "disk %d %llu %u %llu %d %s %s\n", i,
                              (unsigned long long)d->size, d->sector_size,
                              (unsigned long long)d->durable, d->verified, dig, fin);
    }
    return srv_write_file(s->dir, "state", buf, n, errp);
}

int srv_state_load(struct srv_session *s, struct vd_error **errp)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/state", s->dir);
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? -ENOENT : vd_error_set_errno(errp, -errno, "%s", path);
    char id[40], fmt[16], dig[P2V_DIGEST_STATE_HEX + 8], fin[70], mode[16];
    int v, complete, ndisks, ret = 0;
    if (fscanf(f, "p2v-state %d\nsession %39s\nformat %15s\ncomplete %d\ndigest %15s\ndisks %d\n",
               &v, id, fmt, &complete, mode, &ndisks) != 6 || v < 1 || v > 3 ||
        (strcmp(mode, "sha256") && strcmp(mode, "none")) ||
        !p2v_unhex(id, s->id, sizeof(s->id)) || ndisks < 1 || ndisks > P2V_MAX_DISKS ||
        !vd_format_can(fmt, VD_FORMAT_TARGET)) {
        ret = vd_error_set(errp, -EUCLEAN, "%s: damaged journal header", path);
        goto out;
    }
    snprintf(s->format, sizeof(s->format), "%s", fmt);
    s->complete = complete != 0;
    if (v < 3) {
        /* Older protocols' digest states mean something else: such a
         * capture cannot be resumed, but a complete one is still protected. */
        ret = vd_error_set(errp, -ENOTSUP, "%s: journal of protocol %d (%s)", path, v,
                           s->complete ? "complete" : "cannot be resumed");
        goto out;
    }
    s->no_digest = !strcmp(mode, "none");
    s->ndisks = ndisks;
    for (int i = 0; i < ndisks; i++) {
        struct srv_disk *d = &s->disks[i];
        unsigned long long size, durable;
        int idx, verified;
        unsigned sector;
        if (fscanf(f, "disk %d %llu %u %llu %d %231s %69s\n", &idx, &size, &sector, &durable,
                   &verified, dig, fin) != 7 || idx != i || size == 0 || durable > size ||
            p2v_digest_load(&d->dig_durable, dig, size, durable) < 0 ||
            (verified && !p2v_unhex(fin, d->final, 32))) {
            ret = vd_error_set(errp, -EUCLEAN, "%s: damaged journal entry for disk %d", path, i);
            goto out;
        }
        d->size = size;
        d->sector_size = sector;
        d->durable = d->received = durable;
        d->verified = verified != 0;
        d->dig = d->dig_durable;
    }
out:
    fclose(f);
    return ret;
}
