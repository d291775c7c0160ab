#!/usr/bin/env bash
# Seed corpus for fuzz_vhd: small VHDs of every kind, made now with vdisk
# and (when present) qemu-img. Usage: seeds-vhd.sh VDISK OUTDIR
set -eu
V=$1 out=$2
mkdir -p "$out"
cd "$out"
$V create -f vhd -o subformat=fixed,size=exact fixed.vhd 4K
$V create -f vhd -o size=exact,block_size=4K dyn.vhd 32K
$V create -f vhd -o size=exact,block_size=4K parent.vhd 16K
$V create -f vhd -b parent.vhd diff.vhd
printf 'data' | dd of=dyn.raw bs=1 seek=5000 status=none && truncate -s 32K dyn.raw
$V convert -O vhd -o size=exact,block_size=4K dyn.raw dyn-data.vhd
rm -f dyn.raw parent.vhd
if command -v qemu-img >/dev/null; then
    qemu-img create -q -f vpc -o subformat=dynamic qemu-dyn.vhd 64K
    qemu-img create -q -f vpc -o subformat=fixed,force_size=on qemu-fixed.vhd 8K
fi
# A fixed disk with the 511-byte footer of early Virtual PC.
head -c $((4096 + 511)) fixed.vhd > fixed-511.vhd
