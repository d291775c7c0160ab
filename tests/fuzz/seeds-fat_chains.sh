#!/usr/bin/env bash
# Seed corpus for fuzz_fat_chains: FAT12 volumes made now with mkfs.fat
# and mtools (whole volumes: the check wants the volume's full size), one
# with a file whose cluster chain loops back after its last cluster.
# Usage: seeds-fat_chains.sh VDISK OUTDIR (VDISK unused).
set -eu
out=$2
mkdir -p "$out"
command -v mkfs.fat >/dev/null && command -v mcopy >/dev/null || exit 0
mkfs.fat -C "$out/empty" 360 >/dev/null
mkfs.fat -C "$out/files" 720 >/dev/null
head -c 20000 /dev/urandom >"$out/f"
MTOOLS_SKIP_CHECK=1 mcopy -i "$out/files" "$out/f" ::/F
MTOOLS_SKIP_CHECK=1 mcopy -i "$out/files" "$out/f" ::/G
rm -f "$out/f"
cp "$out/files" "$out/loop"
# F is clusters 2..21 (1 KiB clusters): entry 21 (odd, so the high 12 bits
# of bytes 31-32) made to point back to cluster 2, in both FATs.
python3 - "$out/loop" <<'PY'
import struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
rsvd, = struct.unpack_from("<H", b, 14)
fatsz, = struct.unpack_from("<H", b, 22)
for fat in (rsvd * 512, (rsvd + fatsz) * 512):
    v, = struct.unpack_from("<H", b, fat + 31)
    struct.pack_into("<H", b, fat + 31, (v & 0x000F) | (2 << 4))
open(p, "wb").write(b)
PY
