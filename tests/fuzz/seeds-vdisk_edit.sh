#!/usr/bin/env bash
# Seed corpus for fuzz_vdisk_edit: small images of every kind resize,
# rebase and amend change in place (VHD dynamic, fixed, differencing;
# VMDK monolithicSparse and delta; raw). Usage: seeds-vdisk_edit.sh VDISK OUTDIR
set -eu
V=$1 out=$2
mkdir -p "$out"
cd "$out"
printf 'data' | dd of=d.raw bs=1 seek=70000 status=none && truncate -s 200K d.raw
$V convert -O vmdk d.raw sparse.vmdk
$V create -f vmdk -b sparse.vmdk delta.vmdk
$V convert -O vhd -o block_size=64K d.raw dyn.vhd
$V convert -O vhd -o subformat=fixed d.raw fixed.vhd
$V create -f vhd -b dyn.vhd child.vhd
