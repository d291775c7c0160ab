#!/usr/bin/env python3
"""Writes a Linux md version-1 superblock (the kernel's struct
mdp_superblock_1, checksum included) for the RAID member at BYTE_OFFSET of
DISK: the superblock at SUPER_SECTOR of the member, the data at
DATA_SECTOR, ARRAY_SECTORS of it used, RAID LEVEL (1 or 5), array NAME.
This kernel has no md driver to let mdadm write one; mdadm --examine
reads the result.
    md_super.py DISK BYTE_OFFSET MEMBER_BYTES SUPER_SECTOR DATA_SECTOR ARRAY_SECTORS LEVEL NAME"""
import os, struct, sys
disk, at, member, sup, data, size, level, name = sys.argv[1:9]
at, member, sup, data, size, level = map(int, (at, member, sup, data, size, level))
raid_disks = 2 if level == 1 else 3
sb = bytearray(256 + 2 * raid_disks)
struct.pack_into("<IIII", sb, 0, 0xa92b4efc, 1, 0, 0)
sb[0x10:0x20] = os.urandom(16)
sb[0x20:0x20 + len(name)] = name.encode()
struct.pack_into("<QiiQII", sb, 0x40, 1700000000, level, 2 if level == 5 else 0, size,
                 128 if level == 5 else 0, raid_disks)
struct.pack_into("<QQQQI", sb, 0x80, data, member // 512 - data, sup, 0, 0)
sb[0xA8:0xB8] = os.urandom(16)
struct.pack_into("<QQQ", sb, 0xC0, 1700000000, 1, 2**64 - 1)
struct.pack_into("<I", sb, 0xDC, raid_disks)
for i in range(raid_disks):
    struct.pack_into("<H", sb, 0x100 + 2 * i, i)
s = sum(struct.unpack_from("<I", sb, i)[0] for i in range(0, len(sb) - len(sb) % 4, 4))
if len(sb) % 4:
    s += struct.unpack_from("<H", sb, len(sb) - 2)[0]
struct.pack_into("<I", sb, 0xD8, (s & 0xffffffff) + (s >> 32))
with open(disk, "r+b") as f:
    f.seek(at + sup * 512)
    f.write(sb)
