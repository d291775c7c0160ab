# A disk whose size is not a multiple of 512 (an image file, a device of an
# odd size) is captured into VHD: the image's last sector padded with zeros,
# the manifest and the digest with the disk's true size. It used to end in
# "the server cannot create the images" and a wrong-size disk0.vhd.
source "$SRC/tests/p2v/lib.sh"
need python3 qemu-img
[ "$FMT" = vhd ] || skip "about VHD images"

head -c $((3 * 1048576 + 100)) /dev/urandom >"$WORK/odd.img"   # a short last chunk and sector
head -c 1000 /dev/urandom >"$WORK/tiny.img"                     # one chunk, shorter than 2 sectors
start_server "$WORK/out"
capture --name odd --disk "$WORK/odd.img" --disk "$WORK/tiny.img" --state "$WORK/odd.session"
capture --name oddz --disk "$WORK/odd.img" --state "$WORK/oddz.session" --compress zstd
stop_server

check() {   # check NAME INDEX SOURCE
    local img=$WORK/out/$1/disk$2.vhd size; size=$(stat -c %s "$3")
    local padded=$(( (size + 511) / 512 * 512 ))
    [ "$(qemu-img info --output=json -f vpc "$img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')" = "$padded" ] ||
        fail "$1 disk $2: the VHD is not $padded bytes"
    qemu-img convert -f vpc -O raw "$img" "$WORK/$1.$2.raw"
    cmp -n "$size" "$3" "$WORK/$1.$2.raw" || fail "$1 disk $2: content differs"
    [ "$(tail -c +$((size + 1)) "$WORK/$1.$2.raw" | tr -d '\0' | wc -c)" = 0 ] || fail "$1 disk $2: padding is not zeros"
    grep -q "<disk index=\"$2\" source=\"[^\"]*\" kind=\"file\" size=\"$size\"" "$WORK/out/$1/manifest.xml" ||
        fail "$1 disk $2: the manifest does not keep the true size $size"
    grep -q "sha256=\"$(disk_digest "$3")\" digest=\"sha256\" verified=\"true\"" "$WORK/out/$1/manifest.xml" ||
        fail "$1 disk $2: the digest is not that of the $size-byte disk"
}
check odd 0 "$WORK/odd.img"
check odd 1 "$WORK/tiny.img"
check oddz 0 "$WORK/odd.img"
grep -q "disk 0: 3145828 bytes, not whole 512-byte sectors: the image's last sector is padded with 412 zero bytes" \
    "$WORK/out/odd/log" || fail "the padding is not logged"
echo ok
