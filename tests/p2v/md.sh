# Linux software RAID members as RHEL 6-era installs made them (metadata
# 1.2: the superblock 4 KiB in, the data 1 MiB in), on an MBR disk full of
# stale data. Partition 1: a RAID1 member holding an ext4 filesystem;
# partition 2: a RAID5 member (metadata 1.1, superblock at sector 0);
# partition 3: a RAID1 member holding swap; partition 4: a RAID1 member
# whose first 4 KiB still hold an old ext4 superblock (mdadm does not wipe
# them), which must not be mistaken for the volume. This kernel has no md driver,
# so the superblocks are written here and checked with `mdadm --examine`.
# The capture must read the RAID1 filesystem by its allocation map inside
# the member's data area, and everything else (superblocks, bitmaps, the
# RAID5 stripes, swap, the space after the array) in full: block for block
# what partclone says, and every file back through debugfs.
P2V_TEST_FORMAT=raw
source "$SRC/tests/p2v/lib.sh"
need mdadm mkfs.ext4 mkswap debugfs dumpe2fs partclone.extfs sfdisk xmllint python3

MIB=$((1 << 20))
disk=$WORK/md.img
P1=2048 P2=$((2048 + 64 * 2048)) P3=$((2048 + 80 * 2048)) P4=$((2048 + 96 * 2048))
head -c $((112 * MIB)) /dev/urandom >"$disk"
printf 'label: dos\nlabel-id: 0x6d643132\nstart=%d, size=%d, type=fd\nstart=%d, size=%d, type=fd\nstart=%d, size=%d, type=fd\nstart=%d, type=fd\n' \
    $P1 $((64 * 2048)) $P2 $((16 * 2048)) $P3 $((16 * 2048)) $P4 | sfdisk -q "$disk"

# md_super DISK BYTE_OFFSET MEMBER_BYTES SUPER_SECTOR DATA_SECTOR ARRAY_SECTORS LEVEL NAME
md_super() { python3 "$SRC/tests/p2v/md_super.py" "$@"; }

mkdir -p "$WORK/files"
for i in 1 2 3; do head -c $((i * 900000)) /dev/urandom >"$WORK/files/f$i.bin"; done
seq 1 100000 >"$WORK/files/numbers.txt"

# Partition 1: RAID1, 1.2, data at 1 MiB, a 48 MiB array (15 MiB of the
# member after it unused), ext4 inside made over stale data.
md_super "$disk" $((P1 * 512)) $((64 * MIB)) 8 2048 $((48 * 2048)) 1 "srv1:0"
head -c $((48 * MIB)) /dev/urandom >"$WORK/root.fs"
mkfs.ext4 -q -F -E nodiscard -d "$WORK/files" "$WORK/root.fs" || fail "mkfs.ext4"
dd if="$WORK/root.fs" of="$disk" bs=512 seek=$((P1 + 2048)) conv=notrunc status=none
# Partition 2: RAID5, 1.1, data at 64 KiB.
md_super "$disk" $((P2 * 512)) $((16 * MIB)) 0 128 $((15 * 2048)) 5 "srv1:1"
# Partition 3: RAID1, 1.2, swap inside.
md_super "$disk" $((P3 * 512)) $((16 * MIB)) 8 2048 $((8 * 2048)) 1 "srv1:2"
head -c $((8 * MIB)) /dev/urandom >"$WORK/swap.fs"
mkswap -q "$WORK/swap.fs" >/dev/null || fail "mkswap"
dd if="$WORK/swap.fs" of="$disk" bs=512 seek=$((P3 + 2048)) conv=notrunc status=none
# Partition 4: RAID1, 1.2, random data, and an old 8 MiB ext4's first 4 KiB.
md_super "$disk" $((P4 * 512)) $((15 * MIB)) 8 2048 $((8 * 2048)) 1 "srv1:3"
truncate -s $((8 * MIB)) "$WORK/old.fs"
mkfs.ext4 -q -F "$WORK/old.fs" || fail "mkfs.ext4 old"
dd if="$WORK/old.fs" of="$disk" bs=512 seek=$P4 count=8 conv=notrunc status=none

# The independent reader agrees that these are md members.
part_extract "$disk" $P1 $((64 * 2048)) "$WORK/p1"
mdadm --examine "$WORK/p1" >"$WORK/examine" 2>&1 || { cat "$WORK/examine" >&2; fail "mdadm --examine p1"; }
grep -q 'Raid Level : raid1' "$WORK/examine" && grep -q 'Data Offset : 2048 sectors' "$WORK/examine" &&
    grep -q 'Checksum : [0-9a-f]* - correct' "$WORK/examine" ||
    { cat "$WORK/examine" >&2; fail "mdadm reads another superblock than the test wrote"; }
part_extract "$disk" $P2 $((16 * 2048)) "$WORK/p2"
mdadm --examine "$WORK/p2" 2>&1 | grep -q 'Raid Level : raid5' || fail "mdadm --examine p2"
rm -f "$WORK/p1" "$WORK/p2"

start_server "$WORK/out"
capture --name md --disk "$disk" --state "$WORK/md.session"
stop_server
cap=$WORK/out/md/disk0.raw

# The oracle: the disk as it is, with the RAID1 array's ext4 as partclone
# copies it (used blocks, zeros elsewhere).
cp "$disk" "$WORK/expect"
truncate -s $((48 * MIB)) "$WORK/root.ref"
partclone.extfs -q -b -O "$WORK/root.ref" -s "$WORK/root.fs" -L "$WORK/pc.log" >/dev/null 2>&1 ||
    fail "partclone.extfs"
zero_unused_itables "$WORK/root.fs" "$WORK/root.ref"
dd if="$WORK/root.ref" of="$WORK/expect" bs=512 seek=$((P1 + 2048)) conv=notrunc status=none
cmp "$WORK/expect" "$cap" || fail "captured disk differs from the oracle"
cmp -s "$disk" "$cap" && fail "nothing was left out: the test is void"

part_extract "$cap" $((P1 + 2048)) $((48 * 2048)) "$WORK/root.cap"
for f in f1.bin f2.bin f3.bin numbers.txt; do
    rm -f "$WORK/out.f"
    debugfs -R "dump /$f $WORK/out.f" "$WORK/root.cap" >/dev/null 2>&1
    cmp -s "$WORK/files/$f" "$WORK/out.f" || fail "$f differs"
done

m=$WORK/out/md/manifest.xml
xmllint --noout --schema "$SRC/docs/manifest.xsd" "$m" || fail "manifest does not validate"
grep -q 'number="1" .*filesystem="md" .*note="RAID1 array srv1:0: ext4"' "$m" ||
    { cat "$m" >&2; fail "partition 1 not described as a RAID1 member holding ext4"; }
grep -q 'number="2" .*filesystem="md" .*note="array srv1:1, RAID level 5: read in full"' "$m" ||
    fail "partition 2 not described as a RAID5 member read in full"
grep -q 'number="3" .*filesystem="md" .*note="RAID1 array srv1:2: swap"' "$m" ||
    fail "partition 3 not described as a RAID1 member holding swap"
grep -q 'number="4" .*filesystem="unknown" .*note="both an md superblock and a filesystem (ext4): read in full"' "$m" ||
    fail "partition 4 (an md member with an old ext4 superblock) not read in full as ambivalent"
echo ok
