#!/usr/bin/env bash
# Seed corpus for fuzz_vhdx: small VHDX files of every kind, made now by
# qemu-img (fixed, dynamic) and tests/vdisk/vhdx_gen.py (a differencing
# child, a dirty log). Usage: seeds-vhdx.sh VDISK OUTDIR
set -eu
out=$2 gen=$(cd "$(dirname "$0")/../vdisk" && pwd)/vhdx_gen.py
mkdir -p "$out"
cd "$out"
command -v qemu-img >/dev/null || exit 0
qemu-img create -q -f vhdx -o block_size=1M,log_size=1M dyn.vhdx 2M
qemu-img create -q -f vhdx -o subformat=fixed,block_size=1M,log_size=1M fixed.vhdx 1M
qemu-img create -q -f vhdx -o block_size=1M,log_size=1M base.vhdx 2M
qemu-img io -f vhdx -c 'write -P 0x41 0 4k' base.vhdx >/dev/null 2>&1 || true
if [ -x /usr/bin/python3 ]; then
    /usr/bin/python3 "$gen" child --block 1 base.vhdx child.avhdx W:512:1024:B F:1:C
    cp base.vhdx dirty.vhdx
    /usr/bin/python3 "$gen" dirty dirty.vhdx 1 L
fi
