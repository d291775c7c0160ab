#!/usr/bin/env bash
# Seed corpus for fuzz_part: small whole disks made now with sfdisk (MBR
# with an extended chain of logical partitions, GPT) and mkfs.fat (a
# superfloppy). Usage: seeds-part.sh VDISK OUTDIR (VDISK unused).
set -eu
out=$2
mkdir -p "$out"
command -v sfdisk >/dev/null || exit 0
truncate -s 1M "$out/mbr-extended"
sfdisk -q "$out/mbr-extended" <<EOT
label: dos
label-id: 0x2003beef
start=64, size=256, type=7, bootable
start=320, size=1600, type=f
start=384, size=256, type=83
start=704, size=256, type=c
EOT
truncate -s 1M "$out/gpt"
sfdisk -q "$out/gpt" <<EOT
label: gpt
start=40, size=512, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
start=552, size=1400, type=0FC63DAF-8483-4772-8E79-3D69C47D8E4F
EOT
if command -v mkfs.fat >/dev/null; then
    mkfs.fat -C "$out/superfloppy" 720 >/dev/null
fi
