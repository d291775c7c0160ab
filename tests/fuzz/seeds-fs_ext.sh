#!/usr/bin/env bash
# Seed corpus for fuzz_fs_ext: small ext2 and ext4 volumes made now with
# mke2fs. Usage: seeds-fs_ext.sh VDISK OUTDIR (VDISK unused).
# Volumes up to 4 MiB (the harness's volume size).
set -eu
out=$2
mkdir -p "$out"
command -v mke2fs >/dev/null || exit 0
mke2fs -q -F -t ext2 "$out/ext2" 256k >/dev/null 2>&1
mke2fs -q -F -t ext4 -O ^has_journal "$out/ext4" 512k >/dev/null 2>&1
# The harness reads zeros past the input: cut each volume's trailing zeros
# so that the seeds fit libFuzzer's 1 MiB input limit.
for f in "$out"/*; do
    python3 -c 'import sys; p = sys.argv[1]; b = open(p, "rb").read().rstrip(b"\0"); open(p, "wb").write(b or b"\0")' "$f"
done
