# A host I/O error on a disk image ends the run with one line naming the
# image and the offset, exit 1, and no verdict on the guest: it used to
# reach the guest as an ATA error, which looks like a bad disk (Windows:
# STOP 0x7B). VMM_TEST_FAIL_READ=N fails the Nth read of a disk as a host
# read error does.
. "$SRC/tests/lib.sh"
bios=/usr/share/seabios/bios.bin
[ -r "$bios" ] || skip "needs $bios (package seabios)"
truncate -s 4M disk.img

# Without the hook: SeaBIOS reads the blank disk and finds nothing to boot.
"$BIN/vmm" --check --timeout 60 disk.img >out.txt || true
grep -q '^verdict: no-bootable-device' out.txt || { cat out.txt; fail "blank disk verdict"; }

msg="^vmm: host I/O error, the run is stopped: disk.img: read error at offset 0 .*Input/output error$"
VMM_TEST_FAIL_READ=1 expect_fail 1 "$msg" "$BIN/vmm" --check --timeout 60 disk.img
[ ! -s "$WORK/out.txt" ] || { cat "$WORK/out.txt"; fail "a verdict was printed for a host error"; }
VMM_TEST_FAIL_READ=1 expect_fail 1 "$msg" "$BIN/vmm" --check --output=json --timeout 60 disk.img
# Outside --check too, and on a writable disk.
VMM_TEST_FAIL_READ=1 expect_fail 1 "$msg" "$BIN/vmm" --vga none --serial /dev/null --timeout 60 disk.img
# A CD-ROM (ATAPI): SeaBIOS reads its boot record descriptor (sector 17).
truncate -s 4M cd.iso
VMM_TEST_FAIL_READ=1 expect_fail 1 "^vmm: host I/O error, the run is stopped: cd.iso: read error at offset 34816 " \
    "$BIN/vmm" --check --timeout 60 --cdrom cd.iso --boot d
echo OK
