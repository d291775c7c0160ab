# An LVM2 volume group as old Red Hat installs made it, over two disks
# full of stale data. Disk 0: an ext3 /boot partition, then a type 8e
# partition whose PV holds the root LV (ext4, in two segments with the swap
# LV between them), a swap LV, an LV with no filesystem and free extents.
# Disk 1: a whole-disk PV (no table) with the home LV (ext4) and free
# extents. One LV spans both disks. LVM's own tools (pvcreate, vgcreate,
# lvcreate) lay it out. The capture must read each filesystem LV by its
# allocation map through its segments; the PVs' labels and metadata, swap,
# the unknown LV and both halves of the spanning LV in full; the free
# extents not at all: block for block what the oracle built from lvs and
# partclone says, and every file back through debugfs.
P2V_TEST_FORMAT=raw
source "$SRC/tests/p2v/lib.sh"
need pvcreate vgcreate lvcreate lvextend lvs pvs losetup mkfs.ext4 mkswap debugfs dumpe2fs \
     partclone.extfs sfdisk xmllint python3

MIB=$((1 << 20))
disk=$WORK/lvm.img
disk2=$WORK/lvm2.img
P1_START=2048 P1_SECTORS=32768 P2_START=34816
P2_BYTES=$((128 * MIB - P2_START * 512))
head -c $((128 * MIB)) /dev/urandom >"$disk"
head -c $((64 * MIB)) /dev/urandom >"$disk2"
printf 'label: dos\nlabel-id: 0x4c564d32\nstart=%d, size=%d, type=83, bootable\nstart=%d, type=8e\n' \
    $P1_START $P1_SECTORS $P2_START | sfdisk -q "$disk"

mkdir -p "$WORK/files"
for i in 1 2 3 4 5; do head -c $((i * 777777)) /dev/urandom >"$WORK/files/f$i.bin"; done
seq 1 200000 >"$WORK/files/numbers.txt"

# mkfs_stale FILE BYTES ARGS...: a filesystem made over stale data.
mkfs_stale() {
    local f=$1 bytes=$2; shift 2
    head -c "$bytes" /dev/urandom >"$f"
    mkfs.ext4 -q -F -E nodiscard "$@" -d "$WORK/files" "$f" || fail "mkfs.ext4 $f"
}
mkfs_stale "$WORK/boot.fs" $((P1_SECTORS * 512)) -t ext3
dd if="$WORK/boot.fs" of="$disk" bs=512 seek=$P1_START conv=notrunc status=none

# The volume group, through loop devices over the partition and over disk
# 1, with LVM's configuration and locks in the test's directory and no
# device-mapper (LVs are created, never activated).
export LVM_SYSTEM_DIR=$WORK/lvm LVM_SUPPRESS_FD_WARNINGS=1
mkdir -p "$LVM_SYSTEM_DIR"
loop=$(losetup -f --show -o $((P2_START * 512)) --sizelimit $P2_BYTES "$disk") || skip "no loop device"
trap 'losetup -d "$loop" 2>/dev/null || true; cleanup_servers' EXIT
loop2=$(losetup -f --show "$disk2") || skip "no second loop device"
trap 'losetup -d "$loop" "$loop2" 2>/dev/null || true; cleanup_servers' EXIT
printf 'devices { use_devicesfile = 0 filter = [ "a|^%s$|", "a|^%s$|", "r|.*|" ] }\n' "$loop" "$loop2" \
    >"$LVM_SYSTEM_DIR/lvm.conf"
printf 'backup { backup = 0 archive = 0 }\nglobal { locking_dir = "%s" }\n' "$LVM_SYSTEM_DIR" \
    >>"$LVM_SYSTEM_DIR/lvm.conf"
vg=p2vt$$
lvm_() { "$@" --driverloaded n 2>&1 | grep -v -e "WARNING" -e "created" -e "resized" -e "changed from" || true; }
pvcreate -q -y "$loop" "$loop2" >/dev/null || fail "pvcreate"
vgcreate -q -s 1m "$vg" "$loop" "$loop2" >/dev/null || fail "vgcreate"
lvm_ lvcreate -q -an -Zn -L 40m -n root "$vg" "$loop"
lvm_ lvcreate -q -an -Zn -L 8m -n swap "$vg" "$loop"
lvm_ lvcreate -q -an -Zn -L 12m -n raw "$vg" "$loop"
lvm_ lvextend -q -L +16m "$vg/root" "$loop"
lvm_ lvcreate -q -an -Zn -L 24m -n home "$vg" "$loop2"
lvm_ lvcreate -q -an -Zn -L 8m -n span "$vg" "$loop:80-83" "$loop2:30-33"
pvs --driverloaded n --noheadings --units b --nosuffix -o pv_name,pe_start,pv_pe_count 2>/dev/null |
    awk -v l1="$loop" -v l2="$loop2" -v d1="$disk" -v d2="$disk2" -v b1=$((P2_START * 512)) '
        $1 == l1 { print $1, d1, b1, $2, $3 } $1 == l2 { print $1, d2, 0, $2, $3 }' >"$WORK/pvs"
lvs --driverloaded n --noheadings -o lv_name,seg_start_pe,seg_pe_ranges "$vg" 2>/dev/null >"$WORK/segs" ||
    fail "lvs"
losetup -d "$loop" "$loop2"
[ "$(wc -l <"$WORK/pvs")" = 2 ] || fail "pvs: $(cat "$WORK/pvs")"
[ "$(grep -c '^ *root ' "$WORK/segs")" = 2 ] && [ "$(grep -c '^ *span ' "$WORK/segs")" = 2 ] ||
    { cat "$WORK/segs" >&2; fail "the root and span LVs are not in two segments each"; }

# lv_io in|out LV FILE SUFFIX: FILE (the LV's bytes) into the LV's extents
# on the disks (each disk's file name + SUFFIX), or out of them into FILE.
lv_io() {
    python3 - "$@" "$WORK/pvs" "$WORK/segs" <<'PY'
import sys
way, lv, path, suffix, pvf, segf = sys.argv[1:7]
pvs = {}
for line in open(pvf):
    dev, disk, base, pe_start, _ = line.split()
    pvs[dev] = (disk, int(base) + int(pe_start))
ext = 1 << 20
with open(path, "r+b" if way == "out" else "rb") as f:
    for line in open(segf):
        name, start, rng = line.split()
        if name != lv:
            continue
        dev, pes = rng.split(":")
        a, b = map(int, pes.split("-"))
        disk, first = pvs[dev]
        with open(disk + suffix, "r+b") as d:
            d.seek(first + a * ext)
            f.seek(int(start) * ext)
            if way == "in":
                d.write(f.read((b - a + 1) * ext))
            else:
                f.write(d.read((b - a + 1) * ext))
PY
}
mkfs_stale "$WORK/root.fs" $((56 * MIB)) -t ext4
mkfs_stale "$WORK/home.fs" $((24 * MIB)) -t ext4
head -c $((8 * MIB)) /dev/zero >"$WORK/swap.fs"
mkswap -q "$WORK/swap.fs" >/dev/null
lv_io in root "$WORK/root.fs" ""
lv_io in home "$WORK/home.fs" ""
lv_io in swap "$WORK/swap.fs" ""

# The oracle: the disks as they are, with each ext volume as partclone
# copies it (used blocks, zeros elsewhere) and the PVs' free extents zeroed.
ext_ref() {
    truncate -s "$(stat -c %s "$1")" "$2"
    partclone.extfs -q -b -O "$2" -s "$1" -L "$WORK/pc.log" >/dev/null 2>&1 || fail "partclone $1"
    zero_unused_itables "$1" "$2"
}
cp "$disk" "$disk.expect"
cp "$disk2" "$disk2.expect"
ext_ref "$WORK/boot.fs" "$WORK/boot.ref"
dd if="$WORK/boot.ref" of="$disk.expect" bs=512 seek=$P1_START conv=notrunc status=none
while read -r _ d base pe_start pe_count; do
    head -c $((pe_count * MIB)) /dev/zero |
        dd of="$d.expect" bs=512 seek=$(((base + pe_start) / 512)) conv=notrunc status=none
done <"$WORK/pvs"
ext_ref "$WORK/root.fs" "$WORK/root.ref"
ext_ref "$WORK/home.fs" "$WORK/home.ref"
lv_io in root "$WORK/root.ref" .expect
lv_io in home "$WORK/home.ref" .expect
lv_io in swap "$WORK/swap.fs" .expect
for lv in raw span; do      # as they are
    truncate -s $((12 * MIB)) "$WORK/$lv.lv"
    lv_io out $lv "$WORK/$lv.lv" ""
    lv_io in $lv "$WORK/$lv.lv" .expect
done
cmp -s "$disk" "$disk.expect" && fail "disk 0: no stale data left out by the oracle: test is void"
cmp -s "$disk2" "$disk2.expect" && fail "disk 1: no stale data left out by the oracle: test is void"

start_server "$WORK/out"
capture --name lvm --disk "$disk" --disk "$disk2" --state "$WORK/lvm.session" || fail "capture failed"
stop_server
grep -q '^complete 1$' "$WORK/out/lvm/state" || fail "not marked complete"
cmp "$disk.expect" "$WORK/out/lvm/disk0.raw" || fail "disk 0 differs from the LVM oracle"
cmp "$disk2.expect" "$WORK/out/lvm/disk1.raw" || fail "disk 1 differs from the LVM oracle"

# Every file back from the captured LVs and /boot.
ln -s "$WORK/out/lvm/disk0.raw" "$disk.cap"
ln -s "$WORK/out/lvm/disk1.raw" "$disk2.cap"
truncate -s $((56 * MIB)) "$WORK/root.cap"
truncate -s $((24 * MIB)) "$WORK/home.cap"
lv_io out root "$WORK/root.cap" .cap
lv_io out home "$WORK/home.cap" .cap
part_extract "$WORK/out/lvm/disk0.raw" $P1_START $P1_SECTORS "$WORK/boot.cap"
for f in "$WORK"/files/*; do
    for vol in root home boot; do
        rm -f "$WORK/out.f"
        debugfs -R "dump /$(basename "$f") $WORK/out.f" "$WORK/$vol.cap" >/dev/null 2>&1
        cmp -s "$f" "$WORK/out.f" || fail "$vol: $(basename "$f") differs"
    done
done

# The manifest says what each LV was read as, on each disk.
m=$WORK/out/lvm/manifest.xml
grep -q "filesystem=\"lvm2\".*note=\"VG $vg: root ext4 swap swap raw (read in full) span (read in full)\"" "$m" ||
    { grep -n "VG" "$m" >&2; fail "disk 0: LVs not described"; }
grep -q "note=\"VG $vg: home ext4 span (read in full)\"" "$m" ||
    { grep -n "VG" "$m" >&2; fail "disk 1: LVs not described"; }
xmllint --noout --schema "$SRC/docs/manifest.xsd" "$m" || fail "manifest does not validate"
echo ok
