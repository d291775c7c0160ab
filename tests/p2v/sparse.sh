# Captured VHDs stay sparse: the free space inside each VHD block (zeros in
# the captured chunks) is not written, direct writes or not. On an aged
# ext4 with thousands of small files (every other one deleted, so free
# blocks sit between used ones) and on the aged MBR disk (NTFS, FAT32, ext4
# with large files), each image allocates at most 1.02x what `vdisk
# convert` allocates for the same content, and holds the right content.
source "$SRC/tests/p2v/lib.sh"
need mkntfs ntfscp ntfsls ntfstruncate mkfs.fat mcopy mdel mkfs.ext4 debugfs sfdisk python3 \
     partclone.fat32 partclone.extfs ntfsclone dumpe2fs qemu-img
[ "$FMT" = vhd ] || skip "about VHD images"

# Many small files, random sizes 1-24 KiB, and a few large ones; deleting
# every other one ages the volume: stale data between the live files.
mkdir -p "$WORK/small"
python3 - "$WORK/small" <<'PY'
import os, random, sys
r = random.Random(11)
for i in range(3000):
    with open(os.path.join(sys.argv[1], "f%04d" % i), "wb") as f:
        f.write(r.randbytes(r.randint(1, 24 << 10)))
for i in range(4):
    with open(os.path.join(sys.argv[1], "big%d" % i), "wb") as f:
        f.write(r.randbytes(3 << 20))
PY
head -c $((96 << 20)) /dev/urandom >"$WORK/small.img"
mkfs.ext4 -q -F -b 4096 -E nodiscard,root_owner=0:0 -d "$WORK/small" "$WORK/small.img" >/dev/null
{ for i in $(seq 0 2 2999); do printf 'rm f%04d\n' "$i"; done; echo "rm big1"; } >"$WORK/rm.cmds"
debugfs -w -f "$WORK/rm.cmds" "$WORK/small.img" >/dev/null 2>&1
make_disk "$WORK/mbr.img" aged

start_server "$WORK/out"
capture --name sp --disk "$WORK/small.img" --disk "$WORK/mbr.img" --state "$WORK/sp.session"
stop_server

# The content, against the oracles the other tests use.
truncate -s "$(stat -c %s "$WORK/small.img")" "$WORK/small.expect"
partclone.extfs -q -b -O "$WORK/small.expect" -s "$WORK/small.img" -L "$WORK/pc.log" >/dev/null 2>&1
zero_unused_itables "$WORK/small.img" "$WORK/small.expect"
expected_disk "$WORK/mbr.img" "$WORK/mbr.expect"
i=0
for name in small mbr; do
    img=$WORK/out/sp/disk$i.vhd
    to_raw "$img" "$WORK/$name.cap"
    cmp "$WORK/$name.expect" "$WORK/$name.cap" || fail "$name: captured disk differs from the used-block oracle"
    # The same content converted by vdisk: the allocation to match.
    "$BIN/vdisk" convert -f raw -O vhd -o subformat=dynamic,size=exact "$WORK/$name.cap" "$WORK/$name.ref.vhd"
    got=$(allocated "$img")
    ref=$(allocated "$WORK/$name.ref.vhd")
    echo "$name: captured VHD allocates $got bytes, vdisk convert $ref"
    [ $((got * 100)) -le $((ref * 102)) ] ||
        fail "$name: the captured VHD allocates $got bytes, over 1.02x vdisk convert's $ref"
    i=$((i + 1))
done
echo ok
