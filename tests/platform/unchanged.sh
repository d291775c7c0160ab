# A check boot never writes the image: the guest writes a sector through
# int 13h and reads it back (from the overlay), and the image's sha256 is
# the same afterwards. --snapshot does the same outside --check.
. "$SRC/tests/lib.sh"
. "$SRC/tests/platform/lib-platform.sh"
need nasm xorriso sha256sum
g=$(guest bootsectors)
cp "$g/hello-write.raw" disk.raw
before=$(sha256sum <disk.raw)
check_verdict 0 "booted expected output 'readback-ok VMM-TEST-MARKER" --timeout 60 \
    --expect 'readback-ok VMM-TEST-MARKER' disk.raw
[ "$(sha256sum <disk.raw)" = "$before" ] || fail "the image changed during --check"
rc=0
"$BIN/vmm" --snapshot --timeout 120 --serial serial.txt disk.raw 2>/dev/null || rc=$?
[ "$rc" -eq 33 ] || fail "the guest did not leave through the debug-exit port (exit $rc)"
grep -q 'readback-ok' serial.txt || fail "the guest did not run under --snapshot"
[ "$(sha256sum <disk.raw)" = "$before" ] || fail "the image changed under --snapshot"
# Without either, the write reaches the image (LBA 1 becomes 0xA5s).
rc=0
"$BIN/vmm" --timeout 120 --serial serial2.txt disk.raw 2>/dev/null || rc=$?
[ "$rc" -eq 33 ] || fail "the guest did not leave through the debug-exit port (exit $rc)"
head -c 512 /dev/zero | tr '\0' '\245' >a5.bin
dd if=disk.raw bs=512 skip=1 count=1 status=none | cmp -s - a5.bin \
    || fail "a normal run did not write the image"
