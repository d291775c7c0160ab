# NT 4.0 booting through scsi(0) with a vendor RAID miniport and no
# atapi.sys: fails naming the file; with --drivers holding the media's
# compressed ATAPI.SY_ it enables atapi, rewrites boot.ini to multi(0)
# keeping the scsi() entries and NTBOOTDD.SYS, and a second run is a no-op.
source "$SRC/tests/lib.sh"
source "$SRC/tests/drivers-inject/guest.sh"
need reglookup ntfscat sha256sum

make_guest disk.img nt4
before=$(sha256sum <disk.img)
expect_fail 1 'atapi\.sys not found in the image or in --drivers; supply it from the Windows NT 4\.0 SP6' \
    "$BIN/drivers-inject" --in-place disk.img
[ "$(sha256sum <disk.img)" = "$before" ] || fail "a failed run changed the image"
# The summary of a run that wrote nothing does not say "Changes made".
contains 'Changes made' "$WORK/out.txt" && fail "summary: 'Changes made' for a run that wrote nothing"
contains '^Changes needed ([1-9][0-9]*), none made:$' "$WORK/out.txt" || { cat "$WORK/out.txt" >&2; fail "summary header"; }

mkdir media
placeholder atapi.sys "nt4 sp6a atapi.sys"
gcab -c -z media/ATAPI.SY_ atapi.sys
"$BIN/drivers-inject" --drivers media --in-place --report r.json disk.img >out.txt
grep -q '"version": "4.0"' r.json || fail "version"
grep -q '"system_root": "\\\\WINNT"' r.json || fail "system root"
grep -q '"id": "mps_mp"' r.json || fail "NT4 HAL from hal.dll VERSIONINFO"
grep -q '"boot_controller_services": \["aac"\]' r.json || fail "boot controller"
# DISK\Information (drive letters) already matches this disk: reported, untouched.
grep -q '"signature": "0x4E543031", "offset": 32256, "length": 67076608, "letter": "C", "ft_type": 4' r.json \
    || fail "DISK\\Information not reported"
contains '"fixup": "nt4-disk-registry"' r.json && fail "DISK\\Information changed although it matched"

reg_dump disk.img 'WINNT/system32/config/SYSTEM' sys.csv
for cs in ControlSet001 ControlSet002; do
    expect_reg sys.csv "/$cs/Services/atapi/Start,DWORD,0x00000000"
    expect_reg sys.csv "/$cs/Services/atapi/Group,SZ,SCSI miniport"
    expect_reg sys.csv "/$cs/Services/atapi/Type,DWORD,0x00000001"
done
grep -qi 'CriticalDeviceDatabase' sys.csv && fail "NT 4.0 got a CriticalDeviceDatabase"
extract_file disk.img 'WINNT/system32/drivers/atapi.sys' got
grep -q 'nt4 sp6a atapi.sys' got || fail "atapi.sys content"
extract_file disk.img 'boot.ini' boot.ini
tr -d '\r' <boot.ini >b.txt
grep -qx 'default=multi(0)disk(0)rdisk(0)partition(1)\\WINNT' b.txt || { cat b.txt >&2; fail "boot.ini default"; }
grep -qx 'multi(0)disk(0)rdisk(0)partition(1)\\WINNT="Windows NT Server Version 4.0"' b.txt || fail "multi entry"
grep -qx 'multi(0)disk(0)rdisk(0)partition(1)\\WINNT="Windows NT Server Version 4.0 \[VGA mode\]" /basevideo /sos' b.txt || fail "multi VGA entry"
grep -qx 'scsi(0)disk(0)rdisk(0)partition(1)\\WINNT="Windows NT Server Version 4.0"' b.txt || fail "original entry not kept"
grep -q $'\r$' boot.ini || fail "boot.ini lost its CRLF line ends"
extract_file disk.img 'NTBOOTDD.SYS' got
grep -q 'aac.sys as NTBOOTDD.SYS' got || fail "NTBOOTDD.SYS touched"

after=$(sha256sum <disk.img)
"$BIN/drivers-inject" --drivers media --in-place disk.img | contains 'Result: nothing to do' || fail "second run"
[ "$(sha256sum <disk.img)" = "$after" ] || fail "second run wrote"

# A new MBR without a signature (as some imaging tools write): NT 4.0
# would invent one and lose its letters; the one DISK\Information recorded
# is put back.
cp disk.img zeroed.img
printf '\0\0\0\0' | dd of=zeroed.img bs=1 seek=440 conv=notrunc status=none
"$BIN/drivers-inject" --drivers media --in-place --report z.json zeroed.img >z.txt || { cat z.txt >&2; fail "zeroed signature run"; }
grep -q 'MBR disk signature 0x00000000 -> 0x4E543031 (as recorded in DISK\\\\Information)' z.json \
    || { cat z.txt >&2; fail "signature not restored from DISK\\Information"; }
[ "$(od -An -tx4 -j 440 -N4 zeroed.img | tr -d ' ')" = 4e543031 ] || fail "MBR signature not written"
contains 'DISK\\\\Information: disk signature' z.json && fail "DISK\\Information changed instead of the MBR"
true
