#!/usr/bin/env bash
# Seed corpus for fuzz_fs_fat: FAT12 and FAT16 volumes made now with
# mkfs.fat and mtools. Usage: seeds-fs_fat.sh VDISK OUTDIR (VDISK unused).
# Volumes up to 4 MiB (the harness's volume size).
set -eu
out=$2
mkdir -p "$out"
command -v mkfs.fat >/dev/null || exit 0
mkfs.fat -C "$out/fat12" 360 >/dev/null
mkfs.fat -F 16 -s 1 -C "$out/fat16" 4096 >/dev/null
head -c 20000 /dev/urandom >"$out/f"
MTOOLS_SKIP_CHECK=1 mcopy -i "$out/fat12" "$out/f" ::/F 2>/dev/null || true
rm -f "$out/f"
# The harness reads zeros past the input: cut each volume's trailing zeros
# so that the seeds fit libFuzzer's 1 MiB input limit.
for f in "$out"/*; do
    python3 -c 'import sys; p = sys.argv[1]; b = open(p, "rb").read().rstrip(b"\0"); open(p, "wb").write(b or b"\0")' "$f"
done
