# vdisk commit of a differencing disk larger than its parent (Hyper-V lets a
# child grow): the parent grows when its format can (a dynamic VHD, within
# its block table's room; an empty one moves its footer), so that no sector
# is dropped; otherwise commit refuses before writing anything. qemu-img
# reads the grown parent as we do.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
W=$BUILD/tests/vd-write
need python3

# enlarge CHILD SIZE: what a resize of the child does to it (a new size in
# both footers and more BAT entries, from the 0xff padding of its BAT).
enlarge() {
    python3 - "$@" <<'PY'
import struct, sys
path, size = sys.argv[1], int(sys.argv[2])
d = bytearray(open(path, "rb").read())
def csum(at, length, c):
    struct.pack_into(">I", d, at + c, 0)
    struct.pack_into(">I", d, at + c, ~sum(d[at:at + length]) & 0xffffffff)
hdr = struct.unpack_from(">Q", d, 16)[0]
block = struct.unpack_from(">I", d, hdr + 32)[0]
entries = (size + block - 1) // block
assert struct.unpack_from(">Q", d, hdr + 16)[0] + 4 * entries <= (1536 + 511) // 512 * 512 + 512, "no room"
struct.pack_into(">I", d, hdr + 28, entries)
csum(hdr, 1024, 36)
for at in (0, len(d) - 512):
    struct.pack_into(">Q", d, at + 48, size)
    struct.pack_into(">HBB", d, at + 56, 65535, 16, 255)
    csum(at, 512, 64)
open(path, "wb").write(d)
PY
}

# A parent full of data grows from 4 MiB to 8 MiB; the child's tail lands.
$V create -f vhd -o size=exact base.vhd 4M
$W base.vhd 0 4194304 1
$V create -f vhd -b base.vhd top.vhd
enlarge top.vhd 8388608
$V check top.vhd >/dev/null || fail "the enlarged child is not clean"
$W top.vhd 1048576 7340032 2
$V convert -O raw top.vhd before.raw
$V commit top.vhd >out.txt || { cat out.txt; fail "commit into a smaller parent"; }
grep -q 'grew from 4194304 to 8388608 bytes' out.txt && grep -q 'Image committed' out.txt ||
    { cat out.txt; fail "commit output"; }
$V info base.vhd | grep '(8388608 bytes)' >/dev/null || fail "the parent did not grow"
$V compare -s base.vhd before.raw >/dev/null || fail "the parent lacks the child's tail"
$V compare -s top.vhd before.raw >/dev/null || fail "the child changed"
$V check base.vhd >/dev/null || fail "the grown parent is not clean"
if command -v qemu-img >/dev/null; then
    qemu-img compare -f vpc base.vhd -F raw before.raw >/dev/null || fail "qemu-img reads the grown parent differently"
fi

# An empty dynamic parent whose BAT fills its sector: the footer moves.
$V create -f vhd -o size=exact,block_size=4K e.vhd 512K
$V create -f vhd -b e.vhd te.vhd
enlarge te.vhd 201326592
$W te.vhd 201322496 4096 3
$V convert -O raw te.vhd te.raw
$V commit te.vhd | grep 'grew from 524288 to 201326592' >/dev/null || fail "commit into an empty parent"
$V compare -s e.vhd te.raw >/dev/null && $V check e.vhd >/dev/null || fail "the empty parent after growing"
if command -v qemu-img >/dev/null; then
    qemu-img compare -f vpc e.vhd -F raw te.raw >/dev/null || fail "qemu-img reads the moved footer differently"
fi

# No room: a parent of 512 KiB blocks holding data has room for 128 entries
# (64 MiB); a child of 200 MiB is refused and nothing is written.
$V create -f vhd -o size=exact,block_size=512K small.vhd 4M
$W small.vhd 0 4194304 4
$V create -f vhd -b small.vhd big.vhd
enlarge big.vhd 209715200
$W big.vhd 209711104 4096 5
sha256sum small.vhd >sum.txt
expect_fail 1 "cannot commit big.vhd \(209715200 bytes\) into its smaller parent \(4194304 bytes\): .*small.vhd: cannot grow to 209715200 bytes: its block table has room for 128 blocks" \
    $V commit big.vhd
sha256sum -c sum.txt >/dev/null || fail "a refused commit changed the parent"

# A fixed parent grows too: its footer moves to the new end.
$V create -f vhd -o subformat=fixed,size=exact f.vhd 4M
$V create -f vhd -b f.vhd tf.vhd
enlarge tf.vhd 8388608
$W tf.vhd 8384512 4096 6
$V commit tf.vhd >/dev/null || fail "commit into a fixed parent"
$V compare -s f.vhd tf.vhd >/dev/null || fail "the grown fixed parent differs from the child"
$V check f.vhd >/dev/null || fail "check of the grown fixed parent"
[ "$(stat -c %s f.vhd)" = $((8388608 + 512)) ] || fail "the fixed parent's file is not size + footer"
echo OK
