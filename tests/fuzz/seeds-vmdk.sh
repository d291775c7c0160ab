#!/usr/bin/env bash
# Seed corpus for fuzz_vmdk: small VMDKs of every kind vdisk writes, with
# data, and (when present) qemu-img's, plus descriptor texts. Usage:
# seeds-vmdk.sh VDISK OUTDIR
set -eu
V=$1 out=$2
mkdir -p "$out"
cd "$out"
printf 'data' | dd of=d.raw bs=1 seek=70000 status=none && truncate -s 200K d.raw
$V convert -O vmdk d.raw sparse.vmdk
$V convert -O vmdk -o subformat=streamOptimized d.raw stream.vmdk
$V create -f vmdk empty.vmdk 64K
$V create -f vmdk -o subformat=monolithicFlat flat.vmdk 4K
rm -f flat-flat.vmdk
$V create -f vmdk -b empty.vmdk delta.vmdk
if command -v qemu-img >/dev/null; then
    qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized d.raw qemu-stream.vmdk
    qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentSparse split.vmdk 64K
    qemu-img create -q -f vmdk -o zeroed_grain=on zg.vmdk 64K
    rm -f split-s001.vmdk
fi
# Descriptor files with extents of every type (the names resolve to nothing).
printf '# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType="twoGbMaxExtentFlat"\nRW 8 FLAT "a-f001.vmdk" 0\nRW 8 ZERO\nRDONLY 16 SPARSE "b.vmdk"\nRW 4 VMFS "c.vmdk"\nddb.geometry.heads = "16"\n' > desc.vmdk
printf 'createType="vmfs"\nRW 1 ZERO\nparentCID=abcdef01\nparentFileNameHint="p.vmdk"\n' > zero.vmdk
rm -f d.raw
