#!/usr/bin/env bash
# Builds memtest.raw in OUTDIR: an MBR + syslinux disk (FAT16 partition,
# `syslinux --offset --install`, no loop devices) that boots memtest86+'s
# 32-bit image (/boot/memtest86+ia32.bin from the memtest86+ package) with
# its console on COM1.
# Needs: memtest86+, syslinux, syslinux-common, mtools, dosfstools, sfdisk.
set -eu -o pipefail
out=${1:-.}
mkdir -p "$out"
out=$(cd "$out" && pwd)
bin=/boot/memtest86+ia32.bin
[ -r "$bin" ] || { echo "build-memtest: $bin missing (package memtest86+)" >&2; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
img=$tmp/memtest.raw
truncate -s 16M "$img"
printf 'label: dos\nstart=2048, type=6, bootable\n' | sfdisk -q "$img"
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$img" conv=notrunc bs=440 count=1 status=none
off=$((2048 * 512))
mkfs.fat -F 16 --offset 2048 -n MEMTEST "$img" $((15 * 1024)) >/dev/null
printf 'DEFAULT memtest\nSERIAL 0 115200\nPROMPT 0\nLABEL memtest\n  LINUX /memtest.bin\n  APPEND console=ttyS0,115200 nopause\n' \
    > "$tmp/syslinux.cfg"
export MTOOLS_SKIP_CHECK=1
mcopy -i "$img@@$off" "$bin" ::memtest.bin
mcopy -i "$img@@$off" "$tmp/syslinux.cfg" ::syslinux.cfg
syslinux --offset "$off" --install "$img"
mv "$img" "$out/memtest.raw"
