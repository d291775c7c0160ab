# The verdicts of boot code that gives up, each from a disk generated here
# and each within a 10 s --timeout (without their rules these disks ran
# to the timeout, 300 s by default), on the VGA screen and, headless, on
# COM1: Microsoft's MBR and NT boot-sector messages printed by a nasm boot
# sector (guests/bootmsg.asm); the error paths of a real MBR, syslinux's
# mbr.bin, hit by its partition table; an MBR with a partition table but
# no boot code, as partitioning tools leave a blank disk.
. "$SRC/tests/lib.sh"
. "$SRC/tests/platform/lib-platform.sh"     # check_verdict
need nasm python3
MBR_BIN=/usr/lib/syslinux/mbr/mbr.bin
[ -r "$MBR_BIN" ] || skip "needs $MBR_BIN (Debian package syslinux-common)"
cd "$WORK"

# both WANT_RC WANT DISK: the verdict on the screen, then headless on COM1.
both() {
    check_verdict "$1" "$2 on the screen" --timeout $FAST_VERDICT_TIMEOUT "$3"
    check_verdict "$1" "$2 on COM1" --timeout $FAST_VERDICT_TIMEOUT --vga none "$3"
}

# part IMG N BOOTFLAG TYPE START SECTORS: MBR partition entry N (0-3), LBA only.
part() {
    python3 - "$@" <<'PY'
import struct, sys
img, n, flag, ptype, start, count = sys.argv[1:]
with open(img, "r+b") as f:
    f.seek(446 + 16 * int(n))
    f.write(struct.pack("<B3sB3sII", int(flag, 0), b"\xfe\xff\xff", int(ptype, 0),
                        b"\xfe\xff\xff", int(start), int(count)))
PY
}

# disk IMG [CODE]: a 4 MiB disk whose MBR has CODE (440 bytes at most) and 55 AA.
disk() {
    rm -f "$1"
    truncate -s 4M "$1"
    [ -z "${2:-}" ] || dd if="$2" of="$1" bs=440 count=1 conv=notrunc status=none
    printf '\125\252' | dd of="$1" bs=1 seek=510 conv=notrunc status=none
}

# Microsoft's wording, printed by a boot sector that then waits.
msg() {     # msg NAME TEXT [nasm options]
    local name=$1 text=$2; shift 2
    nasm -f bin -I"$SRC/tests/vmm/guests/" -DMSG="\"$text\"" "$@" -o "$name.raw" \
        "$SRC/tests/vmm/guests/bootmsg.asm"
    truncate -s 1M "$name.raw"
}
msg ntldr "NTLDR is missing" -DWAIT_KEY
both 1 "ntldr-missing boot sector: 'NTLDR is missing'" ntldr.raw
msg invalid "Invalid partition table"
both 1 "invalid-partition-table MBR: 'Invalid partition table'" invalid.raw
msg loaderr "Error loading operating system"
both 1 "os-load-error MBR: 'Error loading operating system'" loaderr.raw
msg missing "Missing operating system"
both 1 "missing-os MBR: 'Missing operating system'" missing.raw

# syslinux's MBR: no active partition; two; one that starts beyond the end
# of the disk (its read fails); one whose boot sector lacks 55 AA.
disk noactive.raw "$MBR_BIN"
part noactive.raw 0 0 0x0c 2048 4096
both 1 "missing-os MBR: 'Missing operating system.'" noactive.raw
disk twoactive.raw "$MBR_BIN"
part twoactive.raw 0 0x80 0x0c 2048 2048
part twoactive.raw 1 0x80 0x0c 4096 2048
both 1 "invalid-partition-table MBR: 'Multiple active partitions.'" twoactive.raw
disk beyond.raw "$MBR_BIN"
part beyond.raw 0 0x80 0x0c 100000000 2048
both 1 "os-load-error MBR: 'Operating system load error.'" beyond.raw
disk novbr.raw "$MBR_BIN"
part novbr.raw 0 0x80 0x0c 2048 4096
both 1 "missing-os MBR: 'Missing operating system.'" novbr.raw

# A partition table, 55 AA and no code: the CPU would slide through zeros.
disk nocode.raw
part nocode.raw 0 0x80 0x83 2048 4096
check_verdict 1 "no-boot-code the boot sector at 0000:7C00 holds no code" --timeout $FAST_VERDICT_TIMEOUT nocode.raw
check_verdict 1 "no-boot-code the boot sector at 0000:7C00 holds no code" --timeout $FAST_VERDICT_TIMEOUT --vga none nocode.raw
# The JSON form names the kind too.
"$BIN/vmm" --check --timeout $FAST_VERDICT_TIMEOUT --output=json nocode.raw >v.json && fail "no-boot-code exited 0"
python3 -c 'import json,sys; d=json.load(open("v.json")); sys.exit(d["verdict"] != "no-boot-code" or d["booted"])' ||
    fail "JSON verdict: $(cat v.json)"
# Without the 55 AA SeaBIOS does not boot it at all: still no-bootable-device.
rm -f blank.raw && truncate -s 4M blank.raw
check_verdict 1 "no-bootable-device SeaBIOS: 'No bootable device" --timeout $FAST_VERDICT_TIMEOUT blank.raw
echo "every verdict kind within 10 s"
