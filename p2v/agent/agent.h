/* p2v capture: the agent that runs on the physical machine. */
#ifndef P2V_AGENT_AGENT_H
#define P2V_AGENT_AGENT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "formats/fs/fs.h"
#include "formats/image.h"
#include "formats/part/part.h"
#include "p2v/proto/conn.h"
#include "p2v/proto/proto.h"

/* What capture learned about one volume of a disk. */
struct agent_volume {
    char fs[16];            /* "ntfs", "fat32", "ext4", "swap", "" (unknown) */
    uint64_t used_bytes;    /* bytes that will be read (the whole volume if unknown) */
    char note[200];         /* why it is read in full, or a mapping warning */
};

struct bad_range {
    uint64_t first;         /* sector number (512-byte units) */
    uint64_t count;
};

struct agent_disk {
    char path[PATH_MAX];
    char dev[64];               /* "sda" for a block device, "" for a file */
    char model[128], serial[128];
    struct vd_image *img;
    int map_fd;                 /* the source opened again for in-place reads, or -1 */
    const uint8_t *map;         /* its file mapped read-only (64-bit hosts), or NULL */
    uint64_t map_size;
    uint64_t size;
    uint32_t sector_size;
    int pt_status;              /* 0, or the -errno reading the table */
    struct vd_partition_table pt;
    struct agent_volume vol[VD_MAX_PARTITIONS];
    struct agent_volume whole;  /* the disk as one volume, when it has no table */
    struct vd_fs_map plan;      /* disk-absolute byte ranges to read */
    size_t nbad, bad_cap;
    struct bad_range *bad;      /* unreadable sectors, sent as zeros */
    uint8_t sha256[32];
    bool verified;              /* the server confirmed the digest */
};

struct capture_opts {
    const char *server;
    const char *token_file;
    const char *name;
    const char *state_file;
    const char *disks[P2V_MAX_DISKS];
    int ndisks;
    bool compress;
    bool no_digest;             /* --digest none: chunk checksums only */
    double rate_mb;             /* 0: unlimited */
    bool progress;
    int retry_seconds;          /* give up reconnecting after this long */
    struct p2v_tls_client tls;
    bool use_tls;
};

int p2v_capture_main(int argc, char **argv);

/* plan.c: open a disk and decide which bytes to read. */
int agent_disk_open(struct agent_disk *d, const char *path, struct vd_error **errp);
void agent_disk_close(struct agent_disk *d);
/* Lists the machine's fixed disks (/sys/block) as /dev paths. */
int agent_list_fixed_disks(char paths[][PATH_MAX], int max, struct vd_error **errp);
/* In-place reads: the chunk [off, off + len) of the disk as its file
 * stores it, in the page cache, mapped and populated; NULL when it is not
 * stored as it is, cannot be mapped or does not read (the caller then
 * reads it into a buffer, sector by sector on errors). *FILE_OFF is where
 * it lies in the file, for sendfile. Drop the pages with agent_disk_unmap. */
const uint8_t *agent_disk_map(struct agent_disk *d, uint64_t off, size_t len, uint64_t *file_off);
void agent_disk_unmap(struct agent_disk *d, const uint8_t *p, size_t len);
/* The bytes of [off, off + len) the plan reads. */
uint64_t agent_plan_bytes(const struct agent_disk *d, uint64_t off, uint64_t len);

/* inventory.c: the XML manifest (docs/manifest.md). */
int agent_manifest_build(struct agent_disk *disks, int ndisks, const char *name,
                         bool final, bool no_digest, uint8_t **xml, int *len,
                         struct vd_error **errp);

#endif
