#!/usr/bin/env bash
# Seed corpus for fuzz_fs_ntfs: small NTFS volumes made now with mkntfs and
# ntfscp. Usage: seeds-fs_ntfs.sh VDISK OUTDIR (VDISK unused).
set -eu
out=$2
mkdir -p "$out"
command -v mkntfs >/dev/null || exit 0
for c in 512 4096; do
    truncate -s 2M "$out/ntfs-$c"
    mkntfs -q -F -Q -s 512 -c $c "$out/ntfs-$c" >/dev/null 2>&1
    head -c 100000 /dev/urandom >"$out/f"
    ntfscp -q -f "$out/ntfs-$c" "$out/f" /f >/dev/null 2>&1 || true
done
rm -f "$out/f"
