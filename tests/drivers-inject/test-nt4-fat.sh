# NT 4.0 on FAT16 (common: NT 4.0 setup formats FAT and converts later),
# booting through scsi(0): the same repair through the FAT path (mtools on
# a copy of the partition, changed chunks written back through the image
# library). Dry run and second run byte-identical; fsck.fat finds the
# volume clean afterwards. DISK\Information (NT 4.0's drive letters) is
# stale and gets repaired.
source "$SRC/tests/lib.sh"
source "$SRC/tests/drivers-inject/guest.sh"
need reglookup mcopy fsck.fat sha256sum

make_guest disk.img nt4 fat stale
mkdir media
placeholder atapi.sys "nt4 sp6a atapi.sys"
gcab -c -z media/ATAPI.SY_ atapi.sys
before=$(sha256sum <disk.img)
"$BIN/drivers-inject" --dry-run --drivers media disk.img >dry.txt
[ "$(sha256sum <disk.img)" = "$before" ] || fail "--dry-run changed the image"
grep -q 'Result: ready after these changes' dry.txt || { cat dry.txt >&2; fail "dry run"; }

"$BIN/drivers-inject" --drivers media --in-place --report r.json disk.img >out.txt
grep -q '"status": "ready"' r.json || { cat out.txt >&2; fail "not ready"; }
reg_dump disk.img 'WINNT/system32/config/SYSTEM' sys.csv
expect_reg sys.csv "/ControlSet001/Services/atapi/Start,DWORD,0x00000000"
expect_reg sys.csv "/ControlSet002/Services/atapi/Start,DWORD,0x00000000"
expect_reg sys.csv "/ControlSet001/Control/CrashControl/AutoReboot,DWORD,0x00000000"
extract_file disk.img 'WINNT/system32/drivers/atapi.sys' got
grep -q 'nt4 sp6a atapi.sys' got || fail "atapi.sys content"
extract_file disk.img 'boot.ini' boot.ini
tr -d '\r' <boot.ini | contains -x 'default=multi(0)disk(0)rdisk(0)partition(1)\\WINNT' || fail "boot.ini default"
tr -d '\r' <boot.ini | contains -x 'scsi(0)disk(0)rdisk(0)partition(1)\\WINNT="Windows NT Server Version 4.0"' || fail "original entry"
extract_file disk.img 'NTBOOTDD.SYS' got
grep -q 'aac.sys as NTBOOTDD.SYS' got || fail "NTBOOTDD.SYS touched"
heads=$(od -An -tu2 -j $((63 * 512 + 0x1A)) -N2 disk.img | tr -d ' ')
[ "$heads" = 16 ] || fail "FAT boot sector heads $heads"
dd if=disk.img of=part.img bs=1M iflag=skip_bytes skip=$((63 * 512)) status=none
fsck.fat -n part.img >fsck.txt 2>&1 || { cat fsck.txt >&2; fail "fsck.fat"; }

after=$(sha256sum <disk.img)
"$BIN/drivers-inject" --drivers media --in-place disk.img | contains 'Result: nothing to do' || fail "second run"
[ "$(sha256sum <disk.img)" = "$after" ] || fail "second run wrote"

# The guest was made with a stale DISK\Information (signature 0xDEADBEEF,
# C: 1 MiB in): repaired in place to the MBR's signature and partition,
# byte for byte what NT 4.0 records for this disk (hivexregedit export).
grep -q '"signature": "0x4E543031", "offset": 32256, "length": 67076608, "letter": "C"' r.json \
    || fail "DISK\\Information not reported as repaired"
extract_file disk.img 'WINNT/system32/config/SYSTEM' SYSTEM
hivexregedit --export SYSTEM '\DISK' | sed -e ':a' -e '/\\$/N; s/\\\n *//; ta' -e 's/=hex([0-9]*):/=hex:/' >disk.reg
contains -xF "\"Information\"=$(disk_information 0x4E543031 $((63 * 512)) $(((64 * 2048 - 63) * 512)))" disk.reg \
    || { cat disk.reg >&2; fail "DISK\\Information not repaired"; }
