# VDI interop. VDIs written by vdisk (dynamic and static) read back
# identically through qemu-img, whose check is clean; qemu-img's VDIs and
# VDIs laid out as VirtualBox lays them out (vdi-vbox.py, after VDICore.h:
# 0x190 header, blocks out of order, discarded blocks, a size that is not
# a whole number of blocks, or of sectors) read back identically through
# vdisk; writes into an existing image, aligned or not, read back through
# qemu-img; damage is reported by check and refused by open in one line.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
W=$BUILD/tests/vd-write
PY=/usr/bin/python3
need qemu-img

truncate -s 5243393 src.raw   # 5 MiB + 1025 bytes
head -c 1500000 /dev/urandom | dd of=src.raw conv=notrunc status=none
head -c 4096 /dev/urandom | dd of=src.raw bs=4096 seek=1000 conv=notrunc status=none
printf 'tail' | dd of=src.raw bs=1 seek=5243389 conv=notrunc status=none

for o in static=off static=on; do
    rm -f ours.vdi
    $V convert -O vdi -o $o src.raw ours.vdi
    qemu-img check -q ours.vdi || fail "qemu-img check: ours ($o)"
    qemu-img convert -O raw ours.vdi qemu.raw
    cmp -n 5243393 src.raw qemu.raw || fail "qemu-img reads ours ($o) differently"
    [ "$(stat -c %s qemu.raw)" = 5243904 ] || fail "size rounded to a sector ($o)"
    $V check ours.vdi >/dev/null || fail "vdisk check: ours ($o)"
    # Writes into it, unaligned and across blocks, then both read it.
    $W ours.vdi 1000 3000 3 && $W ours.vdi 2000000 1500000 4 && $W ours.vdi 5243000 900 5
    qemu-img check -q ours.vdi || fail "qemu-img check after writes ($o)"
    qemu-img convert -O raw ours.vdi qemu.raw
    $V convert -O raw ours.vdi ours.raw
    cmp qemu.raw ours.raw || fail "written $o reads differently"
    rm -f qemu.raw ours.raw
done
# A new dynamic block past the end of the file is a hole but for its data
# (src.raw holds about 1.5 MiB in 4 blocks of 1 MiB: written in full, they
# would take 4 MiB); one over a block a kill left behind (data written, map
# entry not) gets zeros around its data, not the old bytes.
# One worker: the blocks are made in order, so the one left behind is the
# last (src.raw's "tail", at byte 509 of its block).
rm -f ours.vdi
$V convert -m 1 -O vdi src.raw ours.vdi
[ $(( $(stat -c %b ours.vdi) * 512 )) -lt $((3 << 20)) ] || fail "new blocks written in full"
$PY - ours.vdi <<'PY'
import struct, sys
f = open(sys.argv[1], 'r+b'); h = f.read(512)
bmap, nblocks, alloc = struct.unpack_from('<I', h, 340)[0], *struct.unpack_from('<II', h, 384)
f.seek(bmap); m = list(struct.unpack('<%dI' % nblocks, f.read(4 * nblocks)))
i = m.index(max(e for e in m if e < 0xfffffffe))   # the last block in the file
f.seek(bmap + 4 * i); f.write(struct.pack('<I', 0xffffffff))
f.seek(388); f.write(struct.pack('<I', alloc - 1))

PY
$V convert -O raw ours.vdi before.raw
$W ours.vdi 2101248 512 9
$V convert -O raw ours.vdi after.raw
cmp -n 2101248 before.raw after.raw && cmp -i 2101760 before.raw after.raw ||
    fail "a block over a left-behind one reads old bytes"
qemu-img check -q ours.vdi || fail "qemu-img check after reusing a left-behind block"
rm -f before.raw after.raw

for o in static=off static=on; do
    rm -f q.vdi
    qemu-img convert -O vdi -o $o src.raw q.vdi
    $V convert -O raw q.vdi q.raw
    cmp -n 5243393 src.raw q.raw || fail "vdisk reads qemu-img's $o differently"
    $V check q.vdi >/dev/null || fail "vdisk check: qemu-img's $o"
done
for kind in dynamic static; do
    for size in 5243393 4194304 3145728; do
        head -c $size src.raw > s.raw
        $PY "$SRC/tests/vdisk/vdi-vbox.py" s.raw vb.vdi $kind
        $V convert -O raw vb.vdi vb.raw
        cmp s.raw vb.raw || fail "VirtualBox-style $kind VDI of $size bytes reads differently"
        $V check vb.vdi >/dev/null || fail "vdisk check: VirtualBox-style $kind"
        if [ $((size % 512)) = 0 ]; then
            qemu-img compare -q s.raw vb.vdi || fail "qemu-img disagrees on the $kind layout"
        fi
        rm -f vb.vdi vb.raw
    done
done
$V info q.vdi | grep "subformat: static" >/dev/null || fail "info: subformat"

# Damage: a block map entry beyond the file; a truncated file.
cp q.vdi bad.vdi
printf '\x40\x00\x00\x00' | dd of=bad.vdi bs=1 seek=512 conv=notrunc status=none
expect_fail 1 "bad.vdi: block map entry 0 points to data block 64" $V convert -O raw bad.vdi x.raw
rc=0; $V check bad.vdi >/dev/null || rc=$?
[ $rc = 2 ] || fail "check of a bad block map: rc $rc"
head -c 1049000 q.vdi > cut.vdi
expect_fail 1 "cut.vdi: .*truncated" $V convert -O raw cut.vdi x.raw
printf '\x04\x00\x00\x00' | dd of=bad.vdi bs=1 seek=76 conv=notrunc status=none
expect_fail 1 "bad.vdi: a differencing \(snapshot\) VDI" $V info bad.vdi
exit 0
