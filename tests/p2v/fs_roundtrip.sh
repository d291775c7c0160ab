# Round trip of each filesystem map (formats/fs) over its variants: a
# volume made by the filesystem's own tools, with files, some of them
# deleted, captured as a whole disk; the image must hold every file and
# equal what ntfsclone/partclone copy (used blocks, zeros elsewhere).
source "$SRC/tests/p2v/lib.sh"
need mkntfs ntfscp ntfscat ntfsclone ntfsinfo ntfsls ntfstruncate mkfs.fat mcopy mdel mke2fs debugfs \
     dumpe2fs partclone.extfs python3
[ "$FMT" = raw ] || need qemu-img

mkdir -p "$WORK/f"
head -c 300000 /dev/urandom >"$WORK/f/a.bin"
seq 1 40000 >"$WORK/f/b.txt"
head -c 70000 /dev/urandom >"$WORK/f/gone.bin"

# Each volume starts full of random bytes, so that free space is stale.
blank_vol() { head -c $(($2 << 20)) /dev/urandom >"$1"; }

# make_vol KIND IMG: a volume with a.bin and b.txt, gone.bin deleted.
make_vol() {
    local kind=$1 img=$2
    case $kind in
    ntfs-*)
        blank_vol "$img" 8
        mkntfs -q -F -Q -s 512 -c "${kind#ntfs-}" "$img" >/dev/null 2>&1
        for f in a.bin b.txt gone.bin; do ntfscp -q -f "$img" "$WORK/f/$f" "/$f" >/dev/null; done
        local inode; inode=$(ntfsls -i -f "$img" | awk '$2 == "gone.bin" { print $1 }')
        ntfstruncate -f "$img" "$inode" 0x80 0 >/dev/null 2>&1 ;;
    fat12|fat16|fat32)
        local mb=4 opts="-F ${kind#fat}"
        [ "$kind" = fat16 ] && mb=20
        [ "$kind" = fat32 ] && { mb=40; opts="$opts -s 1"; }
        blank_vol "$img" $mb
        mkfs.fat $opts "$img" >/dev/null
        for f in a.bin b.txt gone.bin; do MTOOLS_SKIP_CHECK=1 mcopy -i "$img" "$WORK/f/$f" "::/$f"; done
        MTOOLS_SKIP_CHECK=1 mdel -i "$img" ::/gone.bin ;;
    ext2-1k|ext3-4k|ext4-4k|ext4-nocsum)
        blank_vol "$img" 16
        local t=${kind%%-*} b=4096 o=
        [ "$kind" = ext2-1k ] && b=1024
        [ "$kind" = ext4-nocsum ] && o="-O ^metadata_csum,^uninit_bg"
        mke2fs -q -F -t "$t" -b $b $o -E nodiscard -d "$WORK/f" "$img" >/dev/null 2>&1
        debugfs -w -R "rm gone.bin" "$img" >/dev/null 2>&1 ;;
    esac
}

# The oracle: the volume as its own cloning tool copies it.
oracle() {
    local kind=$1 img=$2 out=$3
    case $kind in
    ntfs-*) ntfsclone -q --overwrite "$out" "$img" >/dev/null 2>&1 ;;
    fat*) fat_oracle "$img" "$out" ;;
    ext*) truncate -s "$(stat -c %s "$img")" "$out"
          partclone.extfs -q -b -O "$out" -s "$img" -L "$WORK/pc.log" >/dev/null 2>&1
          # the never-read inode table tail is expected as zeros (see lib.sh)
          zero_unused_itables "$img" "$out" ;;
    esac
}

# read_back KIND IMG FILE OUT: a file read from a volume by its own tools.
read_back() {
    case $1 in
    ntfs-*) ntfscat -f "$2" "/$3" >"$4" 2>/dev/null ;;
    fat*) MTOOLS_SKIP_CHECK=1 mcopy -n -i "$2" "::/$3" "$4" ;;
    ext*) debugfs -R "dump /$3 $4" "$2" >/dev/null 2>&1 ;;
    esac
}

start_server "$WORK/out"
for kind in ntfs-512 ntfs-4096 ntfs-65536 fat12 fat16 fat32 ext2-1k ext3-4k ext4-4k ext4-nocsum; do
    img=$WORK/$kind.img
    make_vol "$kind" "$img"
    capture --name "$kind" --disk "$img" --state "$WORK/$kind.session"
    to_raw "$WORK/out/$kind/disk0.$FMT" "$WORK/$kind.cap"
    oracle "$kind" "$img" "$WORK/$kind.ref"
    cmp "$WORK/$kind.ref" "$WORK/$kind.cap" || fail "$kind: capture differs from the oracle"
    cmp -s "$img" "$WORK/$kind.cap" && fail "$kind: no stale data was left out: test is void"
    for f in a.bin b.txt; do
        rm -f "$WORK/out.f"
        read_back "$kind" "$WORK/$kind.cap" "$f" "$WORK/out.f"
        cmp -s "$WORK/f/$f" "$WORK/out.f" || fail "$kind: $f differs"
    done
    fs=$(grep -o 'scheme="none" filesystem="[a-z0-9]*"' "$WORK/out/$kind/manifest.xml")
    echo "$kind: $fs, $(grep -o 'read-bytes="[0-9]*"' "$WORK/out/$kind/manifest.xml")"
    rm -f "$img" "$WORK/$kind.cap" "$WORK/$kind.ref"
done
# A GPT disk (FAT16 and ext4 partitions): the table, both GPT headers and
# the gaps in full, the volumes as their oracles copy them.
gpt=$WORK/gpt.img
truncate -s 64M "$gpt"
sfdisk -q "$gpt" <<EOT
label: gpt
start=2048, size=40960, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=data
start=45056, size=61440, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=linux
EOT
make_vol fat16 "$WORK/g1"
make_vol ext4-4k "$WORK/g2"
truncate -s $((40960 * 512)) "$WORK/g1"
truncate -s $((61440 * 512)) "$WORK/g2"
dd if="$WORK/g1" of="$gpt" bs=512 seek=2048 conv=notrunc status=none
dd if="$WORK/g2" of="$gpt" bs=512 seek=45056 conv=notrunc status=none
capture --name gpt --disk "$gpt" --state "$WORK/gpt.session"
to_raw "$WORK/out/gpt/disk0.$FMT" "$WORK/gpt.cap"
cp "$gpt" "$WORK/gpt.expect"
fat_oracle "$WORK/g1" "$WORK/g1.ref"
oracle ext4-4k "$WORK/g2" "$WORK/g2.ref"
dd if="$WORK/g1.ref" of="$WORK/gpt.expect" bs=512 seek=2048 conv=notrunc status=none
dd if="$WORK/g2.ref" of="$WORK/gpt.expect" bs=512 seek=45056 conv=notrunc status=none
cmp "$WORK/gpt.expect" "$WORK/gpt.cap" || fail "GPT disk differs from the oracle"
m=$WORK/out/gpt/manifest.xml
grep -q 'scheme="gpt"' "$m" || fail "GPT not in the manifest"
grep -q 'number="1" .*filesystem="fat16"' "$m" || fail "GPT partition 1 not FAT16"
grep -q 'number="2" .*filesystem="ext4"' "$m" || fail "GPT partition 2 not ext4"
rm -f "$gpt" "$WORK"/gpt.* "$WORK"/g1* "$WORK"/g2*

# NTFS whose $Bitmap lost every bit (the damage ntfs-3g PR #40 calls
# "oddly common"): the files survive, because every cluster an MFT record
# references is captured whatever $Bitmap says, and the manifest says so.
img=$WORK/badbitmap.img
make_vol ntfs-4096 "$img"
ntfscat -f "$img" '$Bitmap' >"$WORK/bitmap.bin"
python3 - "$img" "$WORK/bitmap.bin" <<'PY'
import sys
img, bm = sys.argv[1], open(sys.argv[2], "rb").read()
data = bytearray(open(img, "rb").read())
at = data.find(bm)
assert at > 0 and data.find(bm, at + 1) < 0, "cannot locate $Bitmap uniquely"
data[at:at + len(bm)] = bytes(len(bm))
open(img, "wb").write(data)
PY
capture --name badbitmap --disk "$img" --state "$WORK/bb.session"
to_raw "$WORK/out/badbitmap/disk0.$FMT" "$WORK/badbitmap.cap"
for f in a.bin b.txt; do
    rm -f "$WORK/out.f"
    read_back ntfs-4096 "$WORK/badbitmap.cap" "$f" "$WORK/out.f"
    cmp -s "$WORK/f/$f" "$WORK/out.f" || fail "damaged \$Bitmap: $f lost"
done
grep -q 'are free in \$Bitmap; kept them' "$WORK/out/badbitmap/manifest.xml" ||
    fail "damaged \$Bitmap not noted in the manifest"

# NTFS whose $MFT runs on in an extension record named by an attribute
# list, as a fragmented $MFT does (ntfs_mft_list.py moves the runs from
# record 32 on into record 16; ntfs-3g reads the result): mapped, not read
# in full, so it equals ntfsclone's copy and keeps the files past record 32.
img=$WORK/mftlist.img
make_vol ntfs-512 "$img"
python3 "$SRC/tests/p2v/ntfs_mft_list.py" "$img" 64
ntfsinfo -i 0 -f "$img" >"$WORK/mft0.txt"
grep -q 'from mft record 16' "$WORK/mft0.txt" || fail "ntfs_mft_list.py: no extension record"
capture --name mftlist --disk "$img" --state "$WORK/ml.session"
to_raw "$WORK/out/mftlist/disk0.$FMT" "$WORK/mftlist.cap"
oracle ntfs-512 "$img" "$WORK/mftlist.ref"
cmp "$WORK/mftlist.ref" "$WORK/mftlist.cap" || fail "\$MFT with an attribute list: capture differs from the oracle"
for f in a.bin b.txt; do
    rm -f "$WORK/out.f"
    read_back ntfs-512 "$WORK/mftlist.cap" "$f" "$WORK/out.f"
    cmp -s "$WORK/f/$f" "$WORK/out.f" || fail "\$MFT with an attribute list: $f differs"
done
stop_server
echo ok
