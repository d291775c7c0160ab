/* Test helper: writes a recognisable pattern through the image API, so
 * that script tests can fill differencing children and be killed mid-write.
 *   vd-write IMAGE OFFSET LENGTH [SEED]   one write of LENGTH bytes
 *   vd-write IMAGE --zero OFFSET LENGTH   one write_zeroes of LENGTH bytes
 *   vd-write IMAGE --loop BLOCK SEED      rewrites random BLOCK-sized slots,
 *                                         forever (until killed), flushing
 *                                         after each, printing "slot seed"
 *   vd-write IMAGE --verify BLOCK LOG     every slot holds the pattern of its
 *                                         last logged seed, or zeros if never
 *                                         logged; at most one slot (the write
 *                                         in flight when killed) may differ
 *   vd-write IMAGE --hold read|share-write|write
 *                                         opens IMAGE that way, prints "held",
 *                                         and keeps it open until stdin ends
 *                                         (a holder for the lock tests) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/image.h"

/* Byte I of the pattern for SEED: depends on the absolute offset. */
static void fill(unsigned char *buf, size_t len, unsigned long long off, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        unsigned long long x = (off + i) / 512 * 2654435761u + seed * 40503u;
        buf[i] = (unsigned char)(x >> 7) ^ (unsigned char)((off + i) & 0xff);
        if (!buf[i])
            buf[i] = 1;
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: vd-write IMAGE OFFSET LENGTH [SEED] | IMAGE --loop BLOCK SEED\n");
        return 2;
    }
    struct vd_error *err = NULL;
    struct vd_image *img;
    if (strcmp(argv[2], "--hold") == 0) {
        unsigned flags = strcmp(argv[3], "write") == 0 ? VD_OPEN_WRITE
                       : strcmp(argv[3], "share-write") == 0 ? VD_OPEN_SHARE_WRITE : 0;
        if (vd_image_open(argv[1], NULL, flags, &img, &err) < 0) {
            vd_error_report("vd-write", err);
            return 1;
        }
        printf("held\n");
        fflush(stdout);
        while (getchar() != EOF)
            ;
        return vd_image_close(img, NULL) < 0;
    }
    if (vd_image_open(argv[1], NULL, VD_OPEN_WRITE, &img, &err) < 0) {
        vd_error_report("vd-write", err);
        return 1;
    }
    int rc = 0;
    if (strcmp(argv[2], "--zero") == 0 && argc > 4) {
        if (vd_image_write_zeroes(img, strtoull(argv[4], NULL, 0), strtoull(argv[3], NULL, 0),
                                  &err) < 0) {
            vd_error_report("vd-write", err);
            rc = 1;
        }
        if (vd_image_close(img, rc ? NULL : &err) < 0) {
            vd_error_report("vd-write", err);
            rc = 1;
        }
        return rc;
    }
    if (strcmp(argv[2], "--verify") == 0 && argc > 4) {
        size_t block = strtoull(argv[3], NULL, 0);
        unsigned long long slots = vd_image_size(img) / block;
        unsigned *last = calloc(slots, sizeof(*last));
        unsigned char *buf = malloc(block), *want = malloc(block);
        FILE *log = fopen(argv[4], "r");
        unsigned long long slot;
        unsigned seed, bad = 0;
        while (log && fscanf(log, "%llu %u", &slot, &seed) == 2)
            if (slot < slots)
                last[slot] = seed;
        for (slot = 0; slot < slots && buf && want; slot++) {
            if (last[slot])
                fill(want, block, slot * block, last[slot]);
            else
                memset(want, 0, block);
            if (vd_image_pread(img, buf, block, slot * block, &err) < 0) {
                rc = 1;
                break;
            }
            if (memcmp(buf, want, block) != 0)
                bad++;
        }
        printf("%u slot(s) differ from the log\n", bad);
        if (bad > 1)
            rc = 3;
        if (log)
            fclose(log);
        free(last);
        free(buf);
        free(want);
        vd_image_close(img, NULL);
        if (rc == 1)
            vd_error_report("vd-write", err);
        return rc;
    }
    if (strcmp(argv[2], "--loop") == 0) {
        size_t block = strtoull(argv[3], NULL, 0);
        unsigned seed = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 0) : 1;
        unsigned char *buf = malloc(block);
        unsigned long long slots = vd_image_size(img) / block;
        srand(seed);
        for (unsigned n = 0; buf && slots; n++) {
            unsigned long long slot = (unsigned long long)rand() % slots;
            fill(buf, block, slot * block, seed + n);
            if (vd_image_pwrite(img, buf, block, slot * block, &err) < 0 ||
                vd_image_flush(img, &err) < 0) {
                rc = 1;
                break;
            }
            printf("%llu %u\n", slot, seed + n);
            fflush(stdout);
        }
        free(buf);
    } else {
        unsigned long long off = strtoull(argv[2], NULL, 0);
        size_t len = strtoull(argv[3], NULL, 0);
        unsigned seed = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 0) : 1;
        unsigned char *buf = malloc(len ? len : 1);
        fill(buf, len, off, seed);
        if (vd_image_pwrite(img, buf, len, off, &err) < 0)
            rc = 1;
        free(buf);
    }
    if (vd_image_close(img, rc ? NULL : &err) < 0)
        rc = 1;
    if (rc)
        vd_error_report("vd-write", err);
    return rc;
}
