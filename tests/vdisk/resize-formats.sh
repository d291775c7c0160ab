# vdisk resize for qcow2 (v2 and v3, small clusters so that growing needs a
# new L1 table; shrink over allocated zero clusters), VHDX (dynamic and
# fixed, grow and shrink) and VDI (dynamic and static, grow): data and partition table intact,
# read back identically by qemu-img (check clean) and by the libyal tools
# where installed; what a format cannot do is refused with one line.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
need qemu-img qemu-io sfdisk

truncate -s 16M disk.raw
printf 'label: dos\nstart=2048, size=20480, type=83\n' | sfdisk -q disk.raw
head -c 3M /dev/urandom | dd of=disk.raw bs=1M seek=1 conv=notrunc status=none
printf 'D' | dd of=disk.raw bs=1 seek=2097152 conv=notrunc status=none
cp disk.raw orig.raw
# grown.raw: the disk as it reads after growing by 112 MiB.
cp disk.raw grown.raw
truncate -s 128M grown.raw

size_of() { $V info --output=json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])'; }
# same IMAGE QEMUFMT REF: qemu-img check is clean and the content is REF's.
same() {
    qemu-img check -f "$2" "$1" >check.txt 2>&1 || { cat check.txt >&2; fail "$1: qemu-img check"; }
    qemu-img compare -f "$2" "$1" -F raw "$3" >/dev/null || fail "$1: qemu-img reads it differently from $3"
    $V compare "$1" "$3" >/dev/null || fail "$1: vdisk reads it differently from $3"
    $V check "$1" >/dev/null || fail "$1: vdisk check"
}

for v in qcow2:compat=0.10,cluster_size=512 qcow2:compat=1.1,cluster_size=4096 qcow2:compat=1.1 \
         vhdx:subformat=dynamic vhdx:subformat=fixed vdi:static=off vdi:static=on; do
    fmt=${v%%:*} opts=${v#*:}
    img=t.$fmt
    rm -f $img
    $V convert -O $fmt -o $opts disk.raw $img || fail "$v: convert"
    $V resize $img +112M >/dev/null || fail "$v: grow"
    [ "$(size_of $img)" = 134217728 ] || fail "$v: size after +112M is $(size_of $img)"
    same $img $fmt grown.raw
    case $fmt in
    qcow2)
        command -v qcowinfo >/dev/null && { qcowinfo $img | grep -q "134217728 bytes" || fail "$v: qcowinfo size"; }
        expect_fail 1 "shrinking needs --shrink" $V resize $img 16M
        expect_fail 1 "cannot shrink to 2097152 bytes: offset 2097152 holds data" $V resize --shrink $img 2M
        $V resize --shrink $img 16M >/dev/null || fail "$v: shrink"
        [ "$(size_of $img)" = 16777216 ] || fail "$v: size after the shrink"
        same $img qcow2 orig.raw ;;
    vhdx)
        if command -v vhdimount >/dev/null && [ -e /dev/fuse ] && mkdir -p mnt && vhdimount $img mnt >/dev/null 2>&1; then
            cmp mnt/vhdi1 grown.raw; r=$?
            fusermount -u mnt 2>/dev/null || umount mnt
            [ $r = 0 ] || fail "$v: vhdimount reads the grown image differently"
        fi
        command -v vhdiinfo >/dev/null && { vhdiinfo $img | grep -q "134217728 bytes" || fail "$v: vhdiinfo size"; }
        expect_fail 1 "cannot shrink to 2097152 bytes: offset 2097152 holds data" $V resize --shrink $img 2M
        big=$(stat -c %s $img)
        $V resize --shrink $img 16M >/dev/null || fail "$v: shrink"
        [ "$(size_of $img)" = 16777216 ] || fail "$v: size after the shrink"
        same $img vhdx orig.raw
        # The fixed file is cut after the blocks still in use (the dynamic
        # one has nothing past its first block to cut).
        [ $opts = subformat=dynamic ] || [ "$(stat -c %s $img)" -lt "$big" ] ||
            fail "$v: the shrunk file did not get shorter"
        command -v vhdiinfo >/dev/null && { vhdiinfo $img | grep -q "16777216 bytes" || fail "$v: vhdiinfo size after the shrink"; }
        $V resize $img 128M >/dev/null || fail "$v: grow after the shrink"
        same $img vhdx grown.raw ;;
    vdi)
        expect_fail 1 "shrinking is not supported for format vdi" $V resize --shrink $img 16M ;;
    esac
done
# The fixed VHDX and static VDI stay fully allocated.
[ "$(stat -c %s t.vhdx)" -ge 134217728 ] || fail "the regrown fixed VHDX lost its blocks"
[ "$(stat -c %s t.vdi)" -ge 134217728 ] || fail "the grown static VDI lost its blocks"

# qcow2 made by qemu: allocated zero clusters past the new end are freed
# (check stays clean, the file cut after its last used cluster) and read as
# zeros after growing again; an overlay
# grows over its backing file.
for c in 0.10 1.1; do
    rm -f z.qcow2
    qemu-img create -q -f qcow2 -o compat=$c z.qcow2 8M
    if command -v qemu-io >/dev/null; then
        qemu-io -f qcow2 -c 'write -P 3 1M 4k' -c 'write -P 0 6M 1M' z.qcow2 >/dev/null
    fi
    $V convert z.qcow2 z.raw
    before=$(stat -c %s z.qcow2)
    $V resize --shrink z.qcow2 4M >/dev/null || fail "compat $c: shrink over zero clusters"
    qemu-img check z.qcow2 >/dev/null || fail "compat $c: leaks after the shrink"
    # The file is cut after its last cluster in use, as qemu-img does.
    [ "$(stat -c %s z.qcow2)" -le $((before - 1048576)) ] || fail "compat $c: the file kept the freed clusters ($before -> $(stat -c %s z.qcow2))"
    $V resize z.qcow2 8M >/dev/null || fail "compat $c: grow after the shrink"
    same z.qcow2 qcow2 z.raw
done
qemu-img create -q -f qcow2 base.qcow2 4M
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2 4M
$V resize top.qcow2 +4M >/dev/null || fail "grow an overlay"
qemu-img check top.qcow2 >/dev/null || fail "the grown overlay: qemu-img check"
[ "$(size_of top.qcow2)" = 8388608 ] || fail "the grown overlay's size"

# A VDI whose header counts more blocks than its size needs (VirtualBox
# keeps them after a shrink; a fuzzer found the grow crashing on it).
$V create -f vdi -o static=on wide.vdi 3M >/dev/null
python3 -c 'import struct,sys; f=open("wide.vdi","r+b"); f.seek(368); f.write(struct.pack("<Q", 1048576))'
$V resize wide.vdi +1M >/dev/null || fail "grow of a VDI with blocks past its size"
[ "$(size_of wide.vdi)" = 2097152 ] || fail "the wide VDI's size after +1M"
qemu-img check -f vdi wide.vdi >/dev/null || fail "the wide VDI: qemu-img check"

# Limits: one line each.
$V convert -O vhdx -o block_size=1M disk.raw b.vhdx
expect_fail 1 "the BAT region \(1048576 bytes\) has room for" $V resize b.vhdx 200G
expect_fail 1 "the block map has room for 262016 blocks" $V resize t.vdi 300G
expect_fail 1 "a VHDX holds at most 64 TiB" $V resize b.vhdx 100T
$V create -f vhdx -b b.vhdx child.vhdx >/dev/null
expect_fail 1 "a differencing VHDX keeps its parent's size" $V resize child.vhdx +1M
echo OK
