# vdisk resize: grow and shrink raw and VHD (dynamic, fixed) images with
# their data and partition table intact, read back by qemu-img too; the
# same for monolithicSparse VMDK; a shrink needs --shrink and never drops
# data; what a format cannot do is refused with one line.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
need sfdisk

# A 16 MiB disk with an MBR partition table and data in its partition.
truncate -s 16M disk.raw
printf 'label: dos\nstart=2048, size=20480, type=83\n' | sfdisk -q disk.raw
head -c 3M /dev/urandom | dd of=disk.raw bs=1M seek=1 conv=notrunc status=none
# A known non-zero byte where the refused shrink must stop (random data
# may hold a zero there).
printf 'D' | dd of=disk.raw bs=1 seek=2097152 conv=notrunc status=none
sfdisk -d disk.raw >table.txt
cp disk.raw orig.raw

# same_disk IMAGE: the first 16 MiB are the original's, and the table too.
same_disk() {
    $V convert "$1" back.raw
    cmp -n 16777216 orig.raw back.raw || fail "$1: data changed"
    sfdisk -d back.raw | sed 's/back.raw//' >t1.txt
    sed 's/disk.raw//' table.txt >t2.txt
    diff t1.txt t2.txt >/dev/null || fail "$1: partition table changed"
    rm -f back.raw
}
size_of() { $V info --output=json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])'; }

for fmt in raw vhd-dynamic vhd-fixed vmdk; do
    case $fmt in
    raw) img=r.raw; cp disk.raw $img ;;
    vhd-dynamic) img=d.vhd; $V convert -O vhd -o size=exact disk.raw $img ;;
    vhd-fixed) img=f.vhd; $V convert -O vhd -o subformat=fixed,size=exact disk.raw $img ;;
    vmdk) img=m.vmdk; $V convert -O vmdk disk.raw $img ;;
    esac
    $V resize $img +16M >/dev/null || fail "$fmt: grow"
    [ "$(size_of $img)" = 33554432 ] || fail "$fmt: size after +16M"
    same_disk $img
    $V check $img >/dev/null 2>&1 || [ $fmt = raw ] || fail "$fmt: check after growing"
    if command -v qemu-img >/dev/null; then
        case $fmt in raw) qf=raw ;; vmdk) qf=vmdk ;; *) qf=vpc ;; esac
        qemu-img compare -f $qf $img -F raw orig.raw >/dev/null || fail "$fmt: qemu-img reads the grown image differently"
    fi
    # Shrinking: refused without --shrink, refused over data, fine over
    # the zero tail.
    expect_fail 1 "shrinking needs --shrink" $V resize $img 16M
    expect_fail 1 "cannot shrink to 2097152 bytes: offset 2097152 holds data" $V resize --shrink $img 2M
    [ "$(size_of $img)" = 33554432 ] || fail "$fmt: a refused shrink changed the size"
    $V resize --shrink $img -16M >/dev/null || fail "$fmt: shrink"
    [ "$(size_of $img)" = 16777216 ] || fail "$fmt: size after -16M"
    same_disk $img
    $V check $img >/dev/null 2>&1 || [ $fmt = raw ] || fail "$fmt: check after shrinking"
    if [ $fmt = vmdk ] && command -v qemu-img >/dev/null; then
        qemu-img check $img >/dev/null || fail "qemu-img check of the shrunk VMDK"
        qemu-img compare -f vmdk $img -F raw orig.raw >/dev/null || fail "qemu-img reads the shrunk VMDK differently"
    fi
done
[ "$(stat -c %s f.vhd)" = $((16777216 + 512)) ] || fail "the shrunk fixed VHD is not size + footer"

# A dynamic VHD whose block past the new end is allocated but holds only
# zeros (qemu-img writes such blocks): the shrink frees it, so check stays
# clean and the content is the same, also after growing again.
if command -v qemu-io >/dev/null; then
    qemu-img create -q -f vpc -o subformat=dynamic z.vhd 8M
    qemu-io -f vpc -c 'write -P 0 6M 64k' -c 'write -P 3 1M 4k' z.vhd >/dev/null
    $V convert z.vhd z.raw
    $V resize --shrink z.vhd 4M >/dev/null && $V check z.vhd >/dev/null || fail "shrink over a zero block: check"
    $V resize z.vhd 8M >/dev/null && $V check z.vhd >/dev/null || fail "grow after the shrink: check"
    $V compare z.vhd z.raw >/dev/null || fail "shrink over a zero block: content"
fi

# A fixed VHD with bytes between its data and its footer (the footer's
# size is less than what precedes it): growing turns them into zeros, as
# the whole new space must read; growing into them leaves one footer.
$V create -f vhd -o subformat=fixed,size=exact j.vhd 1M
head -c 1048576 j.vhd > jj.vhd
head -c 3000 /dev/zero | tr '\0' 'J' >> jj.vhd
tail -c 512 j.vhd >> jj.vhd
$V resize jj.vhd +1M
$V convert -O raw jj.vhd jj.raw
cmp jj.raw <(head -c 2097152 /dev/zero) || fail "a fixed VHD grown over old bytes reads them"
head -c 1048576 j.vhd > jj.vhd
head -c 3000 /dev/zero | tr '\0' 'J' >> jj.vhd
tail -c 512 j.vhd >> jj.vhd
$V resize jj.vhd 1049600
[ "$(stat -c %s jj.vhd)" = $((1049600 + 512)) ] && [ "$(size_of jj.vhd)" = 1049600 ] ||
    fail "a fixed VHD grown into its old bytes"
$V convert -O raw jj.vhd jj.raw
cmp jj.raw <(head -c 1049600 /dev/zero) || fail "grown into old bytes: content"
rm -f j.vhd jj.vhd jj.raw

# Usage and unsupported formats.
expect_fail 2 "'12Q' is not a size" $V resize r.raw 12Q
expect_fail 2 "expects IMAGE and SIZE" $V resize r.raw
expect_fail 2 "is more than the image's" $V resize --shrink r.raw -1T
# VMDK: monolithicSparse only, within its grain directory's room.
$V convert -O vmdk -o subformat=streamOptimized disk.raw v.vmdk
expect_fail 1 "a streamOptimized image is written once" $V resize v.vmdk +1M
$V convert -O vmdk -o subformat=monolithicFlat disk.raw fl.vmdk
expect_fail 1 "resizing is supported for monolithicSparse VMDKs only \(this one is monolithicFlat\)" $V resize fl.vmdk +1M
expect_fail 1 "cannot grow to 5368709120 bytes: its grain directory has room for 128 tables" $V resize m.vmdk 5G
expect_fail 1 "cannot open 'none.raw'" $V resize none.raw 1M
echo OK
