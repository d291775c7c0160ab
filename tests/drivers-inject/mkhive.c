/* Writes an empty registry hive (hivex cannot create one): a regf base
 * block and one 4 KiB hbin holding the root key (nk), its security
 * descriptor (sk) and a free cell. Test helper: the hives of the generated
 * guests are this file filled by `hivexregedit --merge`. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/endian.h"

#define BASE_BLOCK 4096
#define HBIN_SIZE 4096
#define NK_OFF 0x20     /* cell offsets count from the first hbin */
#define NK_CELL 88
#define SK_OFF (NK_OFF + NK_CELL)
#define SK_CELL 48

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mkhive FILE\n");
        return 2;
    }
    static uint8_t buf[BASE_BLOCK + HBIN_SIZE];
    uint8_t *regf = buf, *hbin = buf + BASE_BLOCK;

    memcpy(regf, "regf", 4);
    put_le32(regf + 0x04, 1);           /* primary sequence */
    put_le32(regf + 0x08, 1);           /* secondary sequence: equal = clean */
    put_le32(regf + 0x14, 1);           /* major version */
    put_le32(regf + 0x18, 3);           /* minor version (NT 4.0 and later read 1.3) */
    put_le32(regf + 0x1C, 0);           /* primary file */
    put_le32(regf + 0x20, 1);           /* file format: direct memory load */
    put_le32(regf + 0x24, NK_OFF);      /* root cell */
    put_le32(regf + 0x28, HBIN_SIZE);   /* hive bins data size */
    put_le32(regf + 0x2C, 1);           /* clustering factor */
    uint32_t sum = 0;
    for (int i = 0; i < 0x1FC; i += 4)
        sum ^= get_le32(regf + i);
    put_le32(regf + 0x1FC, sum);

    memcpy(hbin, "hbin", 4);
    put_le32(hbin + 0x04, 0);           /* offset of this bin */
    put_le32(hbin + 0x08, HBIN_SIZE);

    uint8_t *nk = hbin + NK_OFF;
    put_le32(nk, (uint32_t)-NK_CELL);   /* negative size: allocated */
    uint8_t *k = nk + 4;
    memcpy(k, "nk", 2);
    put_le16(k + 0x02, 0x2C);           /* hive entry | no delete | ASCII name */
    put_le32(k + 0x10, 0);              /* parent */
    put_le32(k + 0x1C, 0xFFFFFFFF);     /* no subkey list */
    put_le32(k + 0x20, 0xFFFFFFFF);
    put_le32(k + 0x28, 0xFFFFFFFF);     /* no value list */
    put_le32(k + 0x2C, SK_OFF);
    put_le32(k + 0x30, 0xFFFFFFFF);     /* no class */
    put_le16(k + 0x48, 4);
    memcpy(k + 0x4C, "ROOT", 4);

    uint8_t *sk = hbin + SK_OFF;
    put_le32(sk, (uint32_t)-SK_CELL);
    uint8_t *s = sk + 4;
    memcpy(s, "sk", 2);
    put_le32(s + 0x04, SK_OFF);         /* flink and blink: the only sk */
    put_le32(s + 0x08, SK_OFF);
    put_le32(s + 0x0C, 1);              /* reference count */
    put_le32(s + 0x10, 20);             /* descriptor size */
    s[0x14] = 1;                        /* revision; control: self-relative, */
    put_le16(s + 0x16, 0x8000);         /* no DACL (everyone has access) */

    uint8_t *fr = hbin + SK_OFF + SK_CELL;
    put_le32(fr, (uint32_t)(HBIN_SIZE - (SK_OFF + SK_CELL)));   /* free cell */

    FILE *f = fopen(argv[1], "wb");
    if (!f || fwrite(buf, sizeof(buf), 1, f) != 1 || fclose(f) != 0) {
        perror(argv[1]);
        return 1;
    }
    return 0;
}
