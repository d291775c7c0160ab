# Sourced by the p2v tests: builds test source disks at test time, without
# mounting anything (mkntfs + ntfscp, mkfs.fat + mtools, mkfs.ext4 -d +
# debugfs). Defines make_disk OUT fresh|aged.
#
# Layout (512-byte sectors), MBR with an extended partition:
#   p1 NTFS  start   2048 size 65536 (32 MiB, active), about half full
#   p2 FAT32 start  69632 size 81920 (40 MiB)
#   p3 extended 153600 .. end, holding p5 ext4 start 155648 size 49152 (24 MiB)
# "aged": each filesystem's area is filled with random bytes before mkfs, and
# junk files are written then deleted after the real files, so free space is
# full of stale data while the real files sit exactly where they do on the
# fresh disk.

P1_START=2048;   P1_SECTORS=65536
P2_START=69632;  P2_SECTORS=81920
P3_START=153600
P5_START=155648; P5_SECTORS=49152
DISK_SECTORS=212992

# Deterministic content: the same files for fresh and aged disks.
make_files() {
    local dir=$1
    mkdir -p "$dir"
    python3 - "$dir" <<'PY'
import os, random, sys
d = sys.argv[1]
r = random.Random(6)
def put(name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
put("random.bin", r.randbytes(8 << 20))
put("log.txt", "".join("GET /index.html HTTP/1.1 200 %d\n" % i for i in range(60000)).encode())
# A long zero run inside a file (zero detection must not lose it). The file
# ends in data: the slack after a file's last byte is allocated space and
# is captured as it is (fresh: zeros, aged: stale bytes), see docs/p2v.md.
put("sparse.bin", b"\0" * (1 << 20) + r.randbytes(300000) + b"\0" * 500000 + b"end\n")
for i in range(20):
    put("small%02d.txt" % i, ("file %d\n" % i).encode() * (i * 37 + 1))
PY
}

make_junk() {
    local dir=$1
    mkdir -p "$dir"
    for i in 1 2 3; do
        head -c $((2 << 20)) /dev/urandom >"$dir/junk$i"
    done
}

# blank IMG SECTORS aged|fresh: zeros, or random bytes standing for old data.
blank() {
    if [ "$3" = aged ]; then
        head -c $(($2 * 512)) /dev/urandom >"$1"
    else
        truncate -s $(($2 * 512)) "$1"
    fi
}

# make_ntfs IMG FILES JUNK aged|fresh
make_ntfs() {
    local img=$1 files=$2 junk=$3 kind=$4
    blank "$img" $P1_SECTORS "$kind"
    mkntfs -q -F -Q -s 512 -p $P1_START -H 255 -S 63 -L P2VNTFS "$img" >/dev/null 2>&1
    for f in "$files"/*; do
        ntfscp -q -f "$img" "$f" "/$(basename "$f")" >/dev/null
    done
    for f in "$junk"/*; do
        local name; name=$(basename "$f")
        if [ "$kind" = aged ]; then
            ntfscp -q -f "$img" "$f" "/$name" >/dev/null
        else
            : >"$junk/empty"
            ntfscp -q -f "$img" "$junk/empty" "/$name" >/dev/null
            rm -f "$junk/empty"
        fi
        local inode; inode=$(ntfsls -i -f "$img" | awk -v n="$name" '$2 == n { print $1 }')
        ntfstruncate -f "$img" "$inode" 0x80 0 >/dev/null 2>&1
    done
}

make_fat() {
    local img=$1 files=$2 junk=$3 kind=$4
    blank "$img" $P2_SECTORS "$kind"
    mkfs.fat -F 32 -S 512 -s 1 -h $P2_START -n P2VFAT "$img" >/dev/null
    for f in "$files"/*; do
        MTOOLS_SKIP_CHECK=1 mcopy -i "$img" "$f" "::/$(basename "$f")"
    done
    if [ "$kind" = aged ]; then
        for f in "$junk"/*; do
            MTOOLS_SKIP_CHECK=1 mcopy -i "$img" "$f" "::/$(basename "$f")"
            MTOOLS_SKIP_CHECK=1 mdel -i "$img" "::/$(basename "$f")"
        done
    fi
}

make_ext4() {
    local img=$1 files=$2 junk=$3 kind=$4
    blank "$img" $P5_SECTORS "$kind"
    mkfs.ext4 -q -F -E nodiscard,root_owner=0:0 -L p2vext -d "$files" "$img" >/dev/null
    if [ "$kind" = aged ]; then
        for f in "$junk"/*; do
            debugfs -w -R "write $f $(basename "$f")" "$img" >/dev/null 2>&1
            debugfs -w -R "rm $(basename "$f")" "$img" >/dev/null 2>&1
        done
    fi
}

# make_disk OUT fresh|aged [FILESDIR]: the MBR disk described above.
make_disk() {
    local out=$1 kind=$2 tmp=$1.parts
    mkdir -p "$tmp"
    [ -d "$WORK/files" ] || make_files "$WORK/files"
    make_junk "$tmp/junk"
    truncate -s $((DISK_SECTORS * 512)) "$out"
    # Recognisable boot code, so that the MBR is seen to travel in full.
    printf 'P2VKIT-TEST-BOOT-CODE' | dd of="$out" conv=notrunc status=none
    sfdisk -q "$out" <<EOT
label: dos
label-id: 0x1234abcd
start=$P1_START, size=$P1_SECTORS, type=7, bootable
start=$P2_START, size=$P2_SECTORS, type=c
start=$P3_START, type=5
start=$P5_START, size=$P5_SECTORS, type=83
EOT
    make_ntfs "$tmp/p1" "$WORK/files" "$tmp/junk" "$kind"
    make_fat "$tmp/p2" "$WORK/files" "$tmp/junk" "$kind"
    make_ext4 "$tmp/p5" "$WORK/files" "$tmp/junk" "$kind"
    dd if="$tmp/p1" of="$out" bs=512 seek=$P1_START conv=notrunc status=none
    dd if="$tmp/p2" of="$out" bs=512 seek=$P2_START conv=notrunc status=none
    dd if="$tmp/p5" of="$out" bs=512 seek=$P5_START conv=notrunc status=none
    rm -rf "$tmp"
}
