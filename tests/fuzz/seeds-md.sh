#!/usr/bin/env bash
# Seed corpus for fuzz_md: the heads of RAID members with version-1
# superblocks (1.2 RAID1, 1.1 RAID5) written by tests/p2v/md_super.py.
# Usage: seeds-md.sh VDISK OUTDIR (VDISK unused).
set -eu
out=$2
mkdir -p "$out"
mk=$(dirname "$0")/../p2v/md_super.py
truncate -s 64K "$out/raid1-1.2" "$out/raid5-1.1"
python3 "$mk" "$out/raid1-1.2" 0 $((4 << 20)) 8 64 4096 1 "host:root"
python3 "$mk" "$out/raid5-1.1" 0 $((4 << 20)) 0 16 8000 5 "host:data"
