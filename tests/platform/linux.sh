# 32-bit Debian Linux from an MBR+syslinux disk to an initramfs that prints
# a marker and powers off; the variant comes from the test name:
# raw, vhd (dynamic), vhd-diff (differencing over it), iso (ATAPI CD-ROM),
# panic (no root: "Kernel panic - not syncing"); apic (the default machine:
# the kernel must route its interrupts through the I/O APIC and run the
# local APIC timer) and pic (the same guest with --no-apic: 8259 only).
# Every variant but pic runs in APIC mode, vmm's default.
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
apic|pic)
    flag=; [ "$variant" = pic ] && flag=--no-apic
    check_verdict 0 "booted guest powered off cleanly \(ACPI S5\)" --timeout 300 -m 256 \
        --serial serial.txt $flag "$g/linux-apic.raw"
    grep 'VMM-LINUX-MARKER: init reached' serial.txt >/dev/null || fail "marker missing from the serial log"
    tr -d '\r' <serial.txt >log.txt
    # /init prints /proc/interrupts twice, a second apart: the counts of
    # line NAME in the first and the second dump.
    counts() {
        awk -v name="$1" '/IRQS-BEGIN/ {n++} /IRQS-END/ {next}
            n && $0 ~ name {printf "%s ", $2}' log.txt
    }
    grows() {   # grows NAME: the count went up between the dumps
        set -- $(counts "$1") ; [ $# -eq 2 ] && [ "$2" -gt "$1" ]
    }
    if [ "$variant" = apic ]; then
        grep 'Enabling APIC mode' log.txt >/dev/null || fail "the kernel did not enable the APIC"
        grep 'ACPI: Using IOAPIC for interrupt routing' log.txt >/dev/null \
            || fail "ACPI interrupt routing does not use the I/O APIC"
        grep 'IOAPIC\[0\]: apic_id 0, version 17, address 0xfec00000, GSI 0-23' log.txt >/dev/null \
            || fail "the MADT does not describe the I/O APIC"
        grep 'INT_SRC_OVR (bus 0 bus_irq 0 global_irq 2' log.txt >/dev/null \
            || fail "no IRQ 0 to GSI 2 override in the MADT"
        # The fallbacks Linux takes when the timer does not arrive through
        # the I/O APIC, or when the local APIC timer is broken.
        if grep -E 'timer doesn.t work|MP-BIOS bug|through the 8259A|Virtual Wire IRQ|ExtINT IRQ|APIC timer disabled' log.txt; then
            fail "the kernel fell back from the APIC timer path"
        fi
        grep -E '^ *0: +[0-9]+ +IO-APIC +2-edge +timer' log.txt >/dev/null || fail "IRQ 0 is not on I/O APIC pin 2"
        grows 'IO-APIC +4-edge +ttyS0' || fail "the serial interrupt count through the I/O APIC did not grow: $(counts ttyS0)"
        grows '^LOC:' || fail "the local APIC timer count did not grow: $(counts '^LOC:')"
        ! grep 'XT-PIC' log.txt || fail "8259 interrupts in APIC mode"
    else
        grows 'XT-PIC +timer' || fail "the 8259 timer count did not grow: $(counts timer)"
        grows 'XT-PIC +ttyS0' || fail "the 8259 serial count did not grow: $(counts ttyS0)"
        ! grep 'IO-APIC' log.txt || fail "I/O APIC interrupts with --no-apic"
    fi
    ;;
panic)
    check_verdict 1 "panic '.*Kernel panic - not syncing: VFS: Unable to mount root" --timeout 300 -m 256 \
        "$g/linux-panic.raw"
    ;;
*)
    fail "unknown variant $variant"
    ;;
esac
