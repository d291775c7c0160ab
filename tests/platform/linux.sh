# 32-bit Debian Linux from an MBR+syslinux disk to an initramfs that prints
# a marker and powers off; the variant comes from the test name:
# raw, vhd (dynamic), vhd-diff (differencing over it), iso (ATAPI CD-ROM),
# panic (no root: "Kernel panic - not syncing").
. "$SRC/tests/lib.sh"
. "$SRC/tests/platform/lib-platform.sh"
need apt-get dpkg cpio sfdisk mcopy mkfs.fat syslinux xorriso
variant=${TESTNAME#platform_linux_}
g=$(guest linux)
case $variant in
raw)
    # No pattern: the default rules see the initramfs power the guest off.
    before=$(sha256sum <"$g/linux.raw")
    check_verdict 0 "booted guest powered off cleanly \(ACPI S5\)" --timeout 300 -m 256 \
        --serial serial.txt "$g/linux.raw"
    grep -q 'VMM-LINUX-MARKER: init reached' serial.txt || fail "marker missing from the serial log"
    [ "$(sha256sum <"$g/linux.raw")" = "$before" ] || fail "the image changed"
    ;;
vhd|vhd-diff)
    need qemu-img
    qemu-img convert -f raw -O vpc -o subformat=dynamic "$g/linux.raw" linux.vhd
    disk=linux.vhd
    if [ "$variant" = vhd-diff ]; then
        "$BIN/vdisk" create -f vhd -b linux.vhd child.vhd >/dev/null || fail "cannot create the differencing VHD"
        disk=child.vhd
    fi
    check_verdict 0 "booted expected output 'VMM-LINUX-MARKER" --timeout 300 -m 256 \
        --expect VMM-LINUX-MARKER "$disk"
    ;;
iso)
    check_verdict 0 "booted expected output 'VMM-LINUX-MARKER" --timeout 300 -m 256 \
        --expect VMM-LINUX-MARKER --cdrom "$g/linux.iso" --boot d
    ;;
panic)
    check_verdict 1 "panic '.*Kernel panic - not syncing: VFS: Unable to mount root" --timeout 300 -m 256 \
        "$g/linux-panic.raw"
    ;;
*)
    fail "unknown variant $variant"
    ;;
esac
