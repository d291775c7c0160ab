# VHDX write_zeroes: whole blocks of a dynamic image and of a differencing
# child become PAYLOAD_BLOCK_ZERO (reading zeros, in the child not the
# parent's data), their space punched out of the file; partial blocks are
# written as zeros; a fixed image keeps every block present (MS-VHDX
# forbids other states there) with the zeros written in place. Read back by
# qemu-img and libvhdi (dynamic, fixed). And parent_linkage2: a child whose
# parent_linkage is stale opens when parent_linkage2 matches the parent.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
W=$BUILD/tests/vd-write
need qemu-img python3
PY=python3
GEN="$PY $SRC/tests/vdisk/vhdx_gen.py"
MIB=1048576

head -c 8M /dev/urandom >data.raw
# expect.raw: data.raw with [1 MiB, 3.5 MiB) zeroed.
cp data.raw expect.raw
dd if=/dev/zero of=expect.raw bs=512K seek=2 count=5 conv=notrunc status=none
libvhdi_same() {   # IMAGE REF: libvhdi reads IMAGE (the last of its chain) as REF
    command -v vhdimount >/dev/null && [ -e /dev/fuse ] || return 0
    mkdir -p mnt
    vhdimount "$1" mnt >/dev/null 2>&1 || fail "vhdimount $1"
    last=$(ls mnt | sort -V | tail -1)
    cmp "mnt/$last" "$2"; r=$?
    fusermount -u mnt 2>/dev/null || umount mnt
    [ $r = 0 ] || fail "libvhdi reads $1 differently"
}

for sf in dynamic fixed; do
    img=$sf.vhdx
    $V convert -O vhdx -o subformat=$sf,block_size=1M data.raw $img
    before=$(du -k $img | cut -f1)
    $W $img --zero $MIB $((5 * 524288)) || fail "$sf: write_zeroes"
    $V compare $img expect.raw >/dev/null || fail "$sf: vdisk reads the zeroed image differently"
    qemu-img compare -f vhdx $img -F raw expect.raw >/dev/null || fail "$sf: qemu-img reads it differently"
    qemu-img check -f vhdx $img >/dev/null || fail "$sf: qemu-img check"
    $V check $img >/dev/null || fail "$sf: vdisk check"
    libvhdi_same $img expect.raw
    map=$($V map --output=json $img)
    after=$(du -k $img | cut -f1)
    case $sf in
    dynamic)
        echo "$map" | python3 -c '
import json, sys
m = json.load(sys.stdin)
z = [e for e in m if e["start"] <= 1048576 < e["start"] + e["length"]][0]
assert z["zero"] and not z["data"] and z["start"] + z["length"] >= 3145728, z' ||
            fail "dynamic: blocks 1 and 2 are not zero blocks: $map"
        [ "$after" -le $((before - 1536)) ] || fail "dynamic: the zeroed blocks' space stays in use ($before -> $after KiB)" ;;
    fixed)
        echo "$map" | python3 -c '
import json, sys
m = json.load(sys.stdin)
assert all(e["data"] for e in m), m' || fail "fixed: a block left the present state: $map"
        [ "$after" -ge "$before" ] || fail "fixed: the file lost allocation ($before -> $after KiB)" ;;
    esac
done

# A child: a whole zeroed block reads zeros, not the parent's data.
$V convert -O vhdx -o block_size=1M data.raw p.vhdx
$V create -f vhdx -b p.vhdx -o block_size=1M c.vhdx >/dev/null
$W c.vhdx --zero $MIB $((5 * 524288)) || fail "child: write_zeroes"
$V compare c.vhdx expect.raw >/dev/null || fail "child: vdisk reads the zeroed child differently"
$V check c.vhdx >/dev/null || fail "child: vdisk check"
# (libvhdi 20210425 reads a child's zero block as the parent's data, against
# MS-VHDX: checked against the spec only, as in vhdx.sh.)

# parent_linkage2.
guid=$($V info p.vhdx | sed -n 's/^data-write-guid: //p')
[ -n "$guid" ] || guid=$($PY -c '
import sys, uuid
f = open("p.vhdx", "rb")
best = None
for off in (64 << 10, 128 << 10):
    f.seek(off); h = f.read(64)
    seq = int.from_bytes(h[8:16], "little")
    if h[:4] == b"head" and (best is None or seq > best[0]):
        best = (seq, h[32:48])
print("{%s}" % uuid.UUID(bytes_le=best[1]))')
$GEN child --block 1 --linkage "{00000000-0000-4000-8000-000000000000}" p.vhdx stale.vhdx
expect_fail 1 "expects \{00000000-0000-4000-8000-000000000000\} \(wrong or modified parent\)" $V info stale.vhdx
$GEN child --block 1 --linkage "{00000000-0000-4000-8000-000000000000}" --linkage2 "$guid" p.vhdx l2.vhdx
$V compare l2.vhdx data.raw >/dev/null || fail "a child whose parent_linkage2 matches does not read its parent"
echo OK
