# An LVM2 disk as old Red Hat installs made it: an ext3 /boot partition,
# then a type 8e partition whose PV holds a volume group with the root LV
# (ext4, in two segments with the swap LV between them), a swap LV, an LV
# with no filesystem, and free extents; the whole disk full of stale data
# first. LVM's own tools (pvcreate, vgcreate, lvcreate) lay it out. The
# capture must read the root LV's filesystem by its allocation map through
# its segments, the PV's label and metadata, the swap and unknown LVs in
# full, and the free extents not at all: block for block what the oracle
# built from lvs and partclone says, and every file back through debugfs.
P2V_TEST_FORMAT=raw
source "$SRC/tests/p2v/lib.sh"
need pvcreate vgcreate lvcreate lvextend lvs pvs losetup mkfs.ext4 mkswap debugfs dumpe2fs \
     partclone.extfs sfdisk python3

MIB=$((1 << 20))
disk=$WORK/lvm.img
P1_START=2048 P1_SECTORS=32768 P2_START=34816
P2_BYTES=$((128 * MIB - P2_START * 512))
head -c $((128 * MIB)) /dev/urandom >"$disk"
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

# The volume group, through a loop device over the partition, with LVM's
# configuration and locks kept in the test's directory and no
# device-mapper (LVs are created, never activated).
export LVM_SYSTEM_DIR=$WORK/lvm LVM_SUPPRESS_FD_WARNINGS=1
mkdir -p "$LVM_SYSTEM_DIR"
loop=$(losetup -f --show -o $((P2_START * 512)) --sizelimit $P2_BYTES "$disk") || skip "no loop device"
trap 'losetup -d "$loop" 2>/dev/null || true; cleanup_servers' EXIT
cat >"$LVM_SYSTEM_DIR/lvm.conf" <<EOF
devices { use_devicesfile = 0 filter = [ "a|^$loop\$|", "r|.*|" ] }
backup { backup = 0 archive = 0 }
global { locking_dir = "$WORK/lvm" }
EOF
vg=p2vt$$
lvm_() { "$@" --driverloaded n 2>&1 | grep -v "WARNING" || true; }
pvcreate -q -y "$loop" >/dev/null || fail "pvcreate"
vgcreate -q -s 1m "$vg" "$loop" >/dev/null || fail "vgcreate"
lvm_ lvcreate -q -an -Zn -L 40m -n root "$vg"
lvm_ lvcreate -q -an -Zn -L 8m -n swap "$vg"
lvm_ lvcreate -q -an -Zn -L 12m -n raw "$vg"
lvm_ lvextend -q -L +16m "$vg/root"
pvs --driverloaded n --noheadings --units b --nosuffix -o pe_start,pv_pe_count "$loop" 2>/dev/null >"$WORK/pv" ||
    fail "pvs"
lvs --driverloaded n --noheadings -o lv_name,seg_start_pe,seg_pe_ranges "$vg" 2>/dev/null >"$WORK/segs" ||
    fail "lvs"
losetup -d "$loop"
grep -q "root .*:" "$WORK/segs" && [ "$(grep -c '^ *root ' "$WORK/segs")" = 2 ] ||
    { cat "$WORK/segs" >&2; fail "the root LV is not in two segments"; }

# lv_io in|out LV FILE: FILE (the LV's bytes) into the disk's extents, or out of DISK.
lv_io() {
    python3 - "$1" "$2" "$3" "$4" "$WORK/pv" "$WORK/segs" $((P2_START * 512)) <<'PY'
import sys
way, lv, path, disk, pvf, segf, base = sys.argv[1:8]
pe_start, pe_count = map(int, open(pvf).read().split())
ext = 1 << 20
with open(disk, "r+b") as d, open(path, "r+b" if way == "out" else "rb") as f:
    for line in open(segf):
        name, start, ranges = line.split()
        if name != lv:
            continue
        a, b = map(int, ranges.split(":")[1].split("-"))
        n = (b - a + 1) * ext
        pv_off = int(base) + pe_start + a * ext
        if way == "in":
            f.seek(int(start) * ext); d.seek(pv_off); d.write(f.read(n))
        else:
            d.seek(pv_off); f.seek(int(start) * ext); f.write(d.read(n))
PY
}
mkfs_stale "$WORK/root.fs" $((56 * MIB)) -t ext4
head -c $((8 * MIB)) /dev/zero >"$WORK/swap.fs"
mkswap -q "$WORK/swap.fs" >/dev/null
lv_io in root "$WORK/root.fs" "$disk"
lv_io in swap "$WORK/swap.fs" "$disk"

# The oracle: the disk as it is, with each ext volume as partclone copies
# it (used blocks, zeros elsewhere) and the PV's free extents zeroed.
cp "$disk" "$WORK/expect.raw"
ext_ref() {
    truncate -s "$(stat -c %s "$1")" "$2"
    partclone.extfs -q -b -O "$2" -s "$1" -L "$WORK/pc.log" >/dev/null 2>&1 || fail "partclone $1"
    zero_unused_itables "$1" "$2"
}
ext_ref "$WORK/boot.fs" "$WORK/boot.ref"
dd if="$WORK/boot.ref" of="$WORK/expect.raw" bs=512 seek=$P1_START conv=notrunc status=none
read -r pe_start pe_count <"$WORK/pv"
head -c $((pe_count * MIB)) /dev/zero | dd of="$WORK/expect.raw" bs=512 \
    seek=$(((P2_START * 512 + pe_start) / 512)) conv=notrunc status=none
ext_ref "$WORK/root.fs" "$WORK/root.ref"
lv_io in root "$WORK/root.ref" "$WORK/expect.raw"
lv_io in swap "$WORK/swap.fs" "$WORK/expect.raw"
truncate -s $((12 * MIB)) "$WORK/raw.lv"
lv_io out raw "$WORK/raw.lv" "$disk"
lv_io in raw "$WORK/raw.lv" "$WORK/expect.raw"
cmp -s "$disk" "$WORK/expect.raw" && fail "no stale data left out by the oracle: test is void"

start_server "$WORK/out"
capture --name lvm --disk "$disk" --state "$WORK/lvm.session" || fail "capture failed"
stop_server
cap=$WORK/out/lvm/disk0.raw
grep -q '^complete 1$' "$WORK/out/lvm/state" || fail "not marked complete"
cmp "$WORK/expect.raw" "$cap" || fail "captured disk differs from the LVM oracle"

# Every file back from the captured root LV and /boot.
truncate -s $((56 * MIB)) "$WORK/root.cap"
lv_io out root "$WORK/root.cap" "$cap"
part_extract "$cap" $P1_START $P1_SECTORS "$WORK/boot.cap"
for f in "$WORK"/files/*; do
    for vol in root boot; do
        rm -f "$WORK/out.f"
        debugfs -R "dump /$(basename "$f") $WORK/out.f" "$WORK/$vol.cap" >/dev/null 2>&1
        cmp -s "$f" "$WORK/out.f" || fail "$vol: $(basename "$f") differs"
    done
done

# The manifest says what each LV was read as.
m=$WORK/out/lvm/manifest.xml
grep -q 'filesystem="lvm2"' "$m" || fail "the PV is not described as lvm2"
grep -q "VG $vg: root ext4 swap swap raw (read in full)" "$m" || { grep lvm2 "$m" >&2; fail "LVs not described"; }
xmllint --noout --schema "$SRC/docs/manifest.xsd" "$m" || fail "manifest does not validate"
echo ok
