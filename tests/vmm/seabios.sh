# Smoke test on real firmware: Debian's SeaBIOS (package seabios) runs its
# POST on the bare machine (no PIC/PIT/CMOS/keyboard yet, so it finds
# little) through 16- and 32-bit code up to the boot menu prompt, where it
# waits for a timer the bare machine does not have.
. "$SRC/tests/lib.sh"
bios=/usr/share/seabios/bios.bin
[ -r "$bios" ] || skip "needs $bios (package seabios)"
rc=0
"$BIN/vmm" --bios "$bios" --debugcon sea.txt --timeout 4 2>err.txt || rc=$?
cat sea.txt
grep -q '^SeaBIOS (version' sea.txt || fail "no SeaBIOS banner"
grep -q 'Relocating init' sea.txt || fail "SeaBIOS did not relocate its init code"
grep -q 'Press ESC for boot menu' sea.txt || fail "SeaBIOS did not reach the boot menu"
grep -q 'timeout' err.txt || fail "expected the run to end by timeout (exit $rc)"
