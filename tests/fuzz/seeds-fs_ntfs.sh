#!/usr/bin/env bash
# Seed corpus for fuzz_fs_ntfs: small NTFS volumes made now with mkntfs and
# ntfscp. Usage: seeds-fs_ntfs.sh VDISK OUTDIR (VDISK unused).
# Volumes up to 4 MiB (the harness's volume size).
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
# One whose $MFT runs on in an extension record (an attribute list).
cp "$out/ntfs-512" "$out/ntfs-mftlist"
python3 "$(dirname "$0")/../p2v/ntfs_mft_list.py" "$out/ntfs-mftlist" 64
# The backup boot sector at the end is not what the map reads: zero it, so
# that the cut below leaves only the metadata at the start.
for f in "$out"/ntfs-*; do
    dd if=/dev/zero of="$f" bs=512 seek=$(( $(stat -c %s "$f") / 512 - 1 )) count=1 conv=notrunc status=none
done
# The harness reads zeros past the input: cut each volume's trailing zeros
# so that the seeds fit libFuzzer's 1 MiB input limit.
for f in "$out"/*; do
    python3 -c 'import sys; p = sys.argv[1]; b = open(p, "rb").read().rstrip(b"\0"); open(p, "wb").write(b or b"\0")' "$f"
done
