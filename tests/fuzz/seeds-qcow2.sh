#!/usr/bin/env bash
# Seed corpus for fuzz_qcow2: small qcow2 images of every kind, made now
# with vdisk and (when present) qemu-img. Usage: seeds-qcow2.sh VDISK OUTDIR
set -eu
V=$1 out=$2
mkdir -p "$out"
cd "$out"
printf 'data' | dd of=d.raw bs=1 seek=5000 status=none && truncate -s 96K d.raw
head -c 3000 /dev/urandom | dd of=d.raw bs=1 seek=40000 conv=notrunc status=none
$V convert -O qcow2 -o cluster_size=4K d.raw ours.qcow2
$V convert -O qcow2 -o cluster_size=512,compat=0.10 d.raw ours-v2.qcow2
if command -v qemu-img >/dev/null; then
    qemu-img convert -O qcow2 -o cluster_size=4K d.raw q.qcow2
    qemu-img convert -c -O qcow2 -o cluster_size=4K d.raw qz.qcow2
    qemu-img convert -c -O qcow2 -o cluster_size=4K,compression_type=zstd d.raw qzstd.qcow2
    qemu-img convert -O qcow2 -o cluster_size=16K,extended_l2=on d.raw qx.qcow2
    qemu-img create -q -f qcow2 -o cluster_size=4K -b d.raw -F raw qb.qcow2
    qemu-img snapshot -c s1 q.qcow2 2>/dev/null || true
fi
rm -f d.raw
