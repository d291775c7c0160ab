#!/usr/bin/env bash
# Seed corpus for fuzz_lvm: the head of a 4 MiB PV holding a volume group
# with a linear LV in two segments and a second LV, made now by LVM's own
# tools over a loop device (never activated). Usage: seeds-lvm.sh VDISK
# OUTDIR (VDISK unused). Needs root and a loop device, else no seeds.
set -eu
out=$2
mkdir -p "$out"
command -v pvcreate >/dev/null && command -v losetup >/dev/null || exit 0
t=$(mktemp -d)
trap 'losetup -d "$loop" 2>/dev/null || true; rm -rf "$t"' EXIT
loop=
truncate -s 4M "$t/pv"
loop=$(losetup -f --show "$t/pv" 2>/dev/null) || exit 0
export LVM_SYSTEM_DIR=$t LVM_SUPPRESS_FD_WARNINGS=1
printf 'devices { use_devicesfile = 0 filter = [ "a|^%s$|", "r|.*|" ] }\nbackup { backup = 0 archive = 0 }\nglobal { locking_dir = "%s" }\n' \
    "$loop" "$t" >"$t/lvm.conf"
vg=fuzzseed$$
{
    pvcreate -q -y --metadatasize 64k "$loop"
    vgcreate -q -s 64k "$vg" "$loop"
    lvcreate -q --driverloaded n -an -Zn -L 512k -n a "$vg"
    lvcreate -q --driverloaded n -an -Zn -L 256k -n b "$vg"
    lvextend -q --driverloaded n -L +256k "$vg/a"
} >/dev/null 2>&1 || exit 0
losetup -d "$loop"
# The label and metadata only: the harness reads zeros past the input.
head -c 192k "$t/pv" | python3 -c 'import sys; b = sys.stdin.buffer.read().rstrip(b"\0"); sys.stdout.buffer.write(b or b"\0")' >"$out/pv"
