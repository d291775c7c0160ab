#!/usr/bin/env bash
# Seed corpus for fuzz_vhdx: small VHDX files of every kind, made now by
# vdisk and tests/vdisk/vhdx_gen.py (a child with a sector bitmap, a dirty
# log), then written in fuzz_vhdx.c's compact form (the first 320 KiB, then
# the first 128 KiB of each next MiB). Usage: seeds-vhdx.sh VDISK OUTDIR
set -eu
V=$1 out=$2 gen=$(cd "$(dirname "$0")/../vdisk" && pwd)/vhdx_gen.py
mkdir -p "$out"
cd "$out"
$V create -f vhdx -o block_size=1M dyn.vhdx 2M
$V create -f vhdx -o subformat=fixed,block_size=1M fixed.vhdx 1M
$V create -f vhdx -o block_size=1M,logical_sector_size=4096 dyn4k.vhdx 2M
printf 'data' | dd of=small.raw bs=1 seek=5000 status=none && truncate -s 2M small.raw
$V convert -O vhdx -o block_size=1M small.raw data.vhdx
rm -f small.raw
if [ -x /usr/bin/python3 ]; then
    /usr/bin/python3 "$gen" child --block 1 dyn.vhdx child.avhdx W:512:1024:B
    cp dyn.vhdx dirty.vhdx
    /usr/bin/python3 "$gen" dirty dirty.vhdx 1 L
fi
for f in *.vhdx *.avhdx; do
    [ -e "$f" ] || continue
    size=$(stat -c %s "$f")
    { head -c $((320 << 10)) "$f"
      for ((m = 1; (m << 20) < size; m++)); do
          dd if="$f" bs=128K skip=$((m * 8)) count=1 status=none
      done; } >"$f.seed"
    mv "$f.seed" "$f"
done
