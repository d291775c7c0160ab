#!/usr/bin/env bash
# Seed corpus for fuzz_rewrite: an fstab of a cciss machine and a GRUB
# legacy menu.lst (first byte: 1 = fstab, 2 = libata target names).
# Usage: seeds-rewrite.sh VDISK OUTDIR (VDISK unused).
set -eu
out=$2
mkdir -p "$out"
{
    printf '\003'
    printf '# /etc/fstab\n/dev/cciss/c0d0p2 / ext3 defaults 1 1\n'
    printf '/dev/cciss/c0d0p1 /boot ext3 defaults 1 2\nLABEL=/home /home ext3 defaults 1 2\n'
    printf '/dev/cciss/c0d0p3 swap swap defaults 0 0\nproc /proc proc defaults 0 0\n'
} >"$out/fstab"
{
    printf '\000'
    printf 'default=0\ntimeout=5\ntitle Red Hat Enterprise Linux AS (2.6.9-5.EL)\n'
    printf '\troot (hd0,0)\n\tkernel /vmlinuz-2.6.9-5.EL ro root=/dev/cciss/c0d0p2 resume=/dev/sda3\n'
    printf '\tinitrd /initrd-2.6.9-5.EL.img\n'
} >"$out/menu.lst"
