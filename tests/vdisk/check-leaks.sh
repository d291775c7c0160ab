# vdisk check -r leaks|all repairs the leaked clusters of a clean qcow2
# (refcount above the references: a table entry dropped) so that qemu-img
# check finds nothing and the content is unchanged; without -r the leak is only noted; a refcount below the
# references is reported and left as it was by -r leaks, repaired by -r all
# (as qemu-img check -r does). A write through an L2 entry pointing past
# the end of the file fails cleanly.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
need qemu-img qemu-io python3

# poke leak|far|corrupt IMAGE: leak drops the second L2 entry of L1 entry 0
# (its cluster stays counted: a leak); far points the first one 1 TiB past
# the end of the file; corrupt sets the refcount of the first data cluster
# to 0 (below its one reference).
poke() {
    python3 - "$1" "$2" <<'PY'
import struct, sys
f = open(sys.argv[2], 'r+b')
h = f.read(104)
cbits = struct.unpack('>I', h[20:24])[0]
l1_off, rt_off = struct.unpack('>Q', h[40:48])[0], struct.unpack('>Q', h[48:56])[0]
f.seek(l1_off); l2 = struct.unpack('>Q', f.read(8))[0] & 0x00fffffffffffe00
if sys.argv[1] == 'leak':
    f.seek(l2 + 8); f.write(b'\0' * 8)
elif sys.argv[1] == 'far':
    f.seek(l2); f.write(struct.pack('>Q', (1 << 63) | (1 << 40)))
else:
    f.seek(l2); data = struct.unpack('>Q', f.read(8))[0] & 0x00fffffffffffe00
    f.seek(rt_off); rb = struct.unpack('>Q', f.read(8))[0]
    f.seek(rb + 2 * (data >> cbits)); f.write(b'\0\0')
PY
}

for o in compat=1.1 compat=0.10,cluster_size=4096; do
    rm -f l.qcow2
    qemu-img create -q -f qcow2 -o $o l.qcow2 8M
    qemu-io -c 'write -P 1 0 256k' -c 'write -P 2 1M 4k' l.qcow2 >/dev/null
    poke leak l.qcow2
    $V convert l.qcow2 l.raw
    rc=0; qemu-img check l.qcow2 >/dev/null 2>&1 || rc=$?
    [ $rc = 3 ] || fail "$o: the test image has no leaks (qemu-img check exited $rc)"
    rc=0; $V check l.qcow2 >out.txt 2>err.txt || rc=$?
    [ $rc = 3 ] && grep -q "note: 1 leaked clusters" out.txt && grep -q "1 leaked cluster " err.txt ||
        fail "$o: vdisk check does not report the leak with exit 3 (exit $rc)"
    $V check -r leaks l.qcow2 >out.txt || fail "$o: check -r leaks"
    grep -q "leaked" out.txt && fail "$o: leaks left after check -r leaks"
    qemu-img check l.qcow2 >/dev/null || fail "$o: qemu-img check after check -r leaks"
    qemu-img compare l.qcow2 l.raw >/dev/null || fail "$o: check -r changed the content"
    poke leak l.qcow2
    $V check -r all l.qcow2 >/dev/null || fail "$o: check -r all"
    qemu-img check l.qcow2 >/dev/null || fail "$o: qemu-img check after check -r all"
    command -v qcowinfo >/dev/null && { qcowinfo l.qcow2 >/dev/null || fail "$o: qcowinfo after the repair"; }
done

# Corruption (a used cluster counted 0) is reported and left alone.
qemu-img create -q -f qcow2 c.qcow2 8M
qemu-io -c 'write -P 1 0 64k' c.qcow2 >/dev/null
poke corrupt c.qcow2
sha256sum c.qcow2 >sum.txt
rc=0; $V check -r leaks c.qcow2 >out.txt 2>err.txt || rc=$?
[ $rc = 2 ] || fail "check -r leaks of a corrupt image exited $rc, wanted 2"
grep -q "its refcount is 0 (corrupt)" out.txt || fail "the corruption is not reported"
grep -q "what remains cannot be repaired by vdisk" err.txt || fail "the error line does not say it stays"
sha256sum -c sum.txt >/dev/null || fail "check -r leaks changed a corrupt image"
# -r all counts the references again, as qemu-img check -r all.
$V check -r all c.qcow2 >/dev/null || fail "check -r all of a refcount too low"
qemu-img check c.qcow2 >/dev/null || fail "qemu-img check after check -r all"
# A write through an L2 entry pointing past the end of the file is one
# error line; the file does not stretch to that offset (a fuzzer found it
# growing a sparse file to 1 TiB, which check then could not count).
qemu-img create -q -f qcow2 far.qcow2 8M
qemu-io -c 'write -P 1 0 64k' far.qcow2 >/dev/null
poke far far.qcow2
size=$(stat -c %s far.qcow2)
expect_fail 1 "points to offset 1099511627776, beyond the end of the file \(corrupt\)" $BUILD/tests/vd-write far.qcow2 0 4096 1
[ "$(stat -c %s far.qcow2)" = "$size" ] || fail "a write through a damaged entry stretched the file"
echo OK
