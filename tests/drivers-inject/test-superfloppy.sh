# A 2003 disk formatted as a "superfloppy": NTFS from sector 0, no
# partition table (the boot sector's code lies where an MBR's entries
# would be). formats/part reports one whole-disk volume, so the guest is
# found and repaired like a partitioned one; there is no MBR signature, so
# MountedDevices is left alone; the boot sector's hidden sectors stay 0.
source "$SRC/tests/lib.sh"
source "$SRC/tests/drivers-inject/guest.sh"
need reglookup ntfscat sha256sum

make_guest disk.img w2k3 cab superfloppy
"$BIN/drivers-inject" --in-place --report r.json disk.img >out.txt || { cat out.txt >&2; fail "fixup failed"; }
grep -q '"status": "ready"' r.json || { cat out.txt >&2; fail "not ready"; }
grep -q '"disk_signature": "0x00000000"' r.json || fail "a superfloppy has no disk signature"
contains '"fixup": "mounted-devices"' r.json && fail "MountedDevices changed without an MBR"
export PART_START=0
reg_dump disk.img 'WINDOWS/system32/config/SYSTEM' sys.csv
expect_reg sys.csv "/ControlSet001/Services/intelide/Start,DWORD,0x00000000"
expect_reg sys.csv "/ControlSet001/Services/atapi/Start,DWORD,0x00000000"
extract_file disk.img 'WINDOWS/system32/drivers/intelide.sys' got
grep -q 'w2k3 driver.cab intelide.sys' got || fail "intelide.sys content"
hidden=$(od -An -tu4 -j 28 -N4 disk.img | tr -d ' ')
[ "$hidden" = 0 ] || fail "hidden sectors $hidden on a volume at sector 0"

after=$(sha256sum <disk.img)
"$BIN/drivers-inject" --in-place disk.img | contains 'Result: nothing to do' || fail "second run"
[ "$(sha256sum <disk.img)" = "$after" ] || fail "second run wrote"
