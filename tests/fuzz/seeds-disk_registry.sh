#!/usr/bin/env bash
# Seeds for fuzz_disk_registry: NT 4.0 DISK\Information values (ntddft.h
# layout): one disk with C:, two disks with an FT mirror, an empty one.
# Usage: seeds-disk_registry.sh VDISK DIR (VDISK unused).
set -eu
python3 - "$2" <<'PY'
import os, struct, sys
out = sys.argv[1]
def part(off, length, letter, ft=4, group=0, member=0):
    return struct.pack("<IIqqqII", ft, 0, off, length, length, 0, 0) + \
        struct.pack("<BBHHHB3x", ord(letter) if letter else 0, 1 if letter else 0, 1, group, member, 0)
def disk(sig, parts):
    return struct.pack("<HHI", len(parts), 0, sig) + b"".join(parts)
def value(disks, ft=struct.pack("<HH", 0, 0)):
    info = struct.pack("<HH", len(disks), 0) + b"".join(disks)
    header = struct.pack("<IIB3xIIIIIIII", 3, 0, 0, 44, len(info), 44 + len(info), len(ft), 0, 0, 0, 0)
    return header + info + ft
seeds = {
    "one-disk": value([disk(0x4E543031, [part(63 * 512, 64 << 20, "C")])]),
    "two-disks": value([disk(0x11111111, [part(32256, 1 << 30, "C"), part(1 << 30, 1 << 29, "D", 0, 1, 0)]),
                        disk(0x22222222, [part(32256, 1 << 29, None, 0, 1, 1)])]),
    "no-disks": value([]),
    "header-only": struct.pack("<IIB3xIIIIIIII", 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
PY
