# Smoke test on real firmware: Debian's SeaBIOS (package seabios) runs its
# POST on the machine without disks through 16- and 32-bit code, finds
# nothing to boot and waits to retry until the timeout.
. "$SRC/tests/lib.sh"
bios=/usr/share/seabios/bios.bin
[ -r "$bios" ] || skip "needs $bios (package seabios)"
rc=0
"$BIN/vmm" --bios "$bios" --debugcon sea.txt --timeout 4 2>err.txt || rc=$?
cat sea.txt
grep -q '^SeaBIOS (version' sea.txt || fail "no SeaBIOS banner"
grep -q 'Relocating init' sea.txt || fail "SeaBIOS did not relocate its init code"
grep -q 'No bootable device' sea.txt || fail "SeaBIOS did not finish its POST"
grep -q 'timeout' err.txt || fail "expected the run to end by timeout (exit $rc)"
