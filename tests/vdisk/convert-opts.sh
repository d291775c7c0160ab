# convert's qemu-img options: -O raw by default, -n into an existing image
# and into a block device (a loop device standing for an LV or a LUN),
# --target-is-zero, -B (the output as a child of BACKING, holding only what
# differs), -S (zero detection unit; 0 allocates everything), and what is
# refused (-c, -l, a bad -o key as a usage error). Also --version/-V.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
need python3

truncate -s 8M src.raw
head -c 1000000 /dev/urandom | dd of=src.raw conv=notrunc status=none
head -c 4096 /dev/urandom | dd of=src.raw bs=4096 seek=1500 conv=notrunc status=none
$V convert -O vhd src.raw src.vhd

# No -O: raw, as qemu-img.
$V convert src.vhd plain && cmp -n 8388608 src.raw plain && $V info plain | grep -q '^file format: raw$' ||
    fail "convert without -O is not raw"

# -n onto an existing raw full of other bytes: every byte ends up as the
# source's, zeros included; the file keeps its name (no temporary).
head -c 9M /dev/urandom >t.raw
ino=$(stat -c %i t.raw)
$V convert -n src.vhd t.raw || fail "convert -n"
cmp -n 8388608 src.raw t.raw || fail "convert -n left old bytes"
[ "$(stat -c %i t.raw)" = "$ino" ] || fail "convert -n replaced the file"
# -n onto an existing VHD (-O names its format).
$V create -f vhd t.vhd 8M
"$BUILD/tests/vd-write" t.vhd 5000000 4096 9
$V convert -n -O vpc src.raw t.vhd && $V compare src.raw t.vhd >/dev/null || fail "convert -n into a VHD"
# --target-is-zero: the caller's promise; zeros are skipped.
truncate -s 8M z.raw
$V convert -n --target-is-zero src.raw z.raw && cmp src.raw z.raw || fail "--target-is-zero"
# Too small a target, the source itself, a missing one: refused.
truncate -s 1M small.raw
expect_fail 1 "small.raw: the raw target holds 1048576 bytes, less than the 8388608" \
    $V convert -n src.raw small.raw
expect_fail 1 "refusing to write 'src.raw'" $V convert -n src.raw src.raw
expect_fail 1 "cannot open 'nothere.raw'" $V convert -n src.raw nothere.raw
expect_fail 2 "--target-is-zero needs -n" $V convert --target-is-zero src.raw x.raw
expect_fail 2 "-n writes into an existing OUT: -o cannot apply" $V convert -n -o subformat=fixed -O vhd src.raw t.vhd

# -n onto a block device.
if dev=$(losetup -f --show t.raw 2>/dev/null); then
    trap 'losetup -d "$dev" 2>/dev/null' EXIT
    head -c 8M /dev/urandom | dd of="$dev" bs=1M oflag=direct status=none
    $V convert -n -p src.vhd "$dev" 2>progress.txt || fail "convert -n onto $dev"
    cmp -n 8388608 src.raw "$dev" || fail "convert -n onto $dev: content"
    grep -q '(100.0%)' progress.txt || fail "-p onto $dev"
    losetup -d "$dev"; trap - EXIT
else
    echo "NOTE: no loop device here (not root, or no /dev/loop-control): convert -n onto a block device not tested"
fi

# -B: the output is a child of BACKING holding only what differs.
cp src.raw new.raw
head -c 4096 /dev/urandom | dd of=new.raw bs=4096 seek=1900 conv=notrunc status=none
dd if=/dev/zero of=new.raw bs=4096 seek=10 count=1 conv=notrunc status=none
for fmt in vhd vmdk; do
    $V convert -O $fmt src.raw base.$fmt
    $V convert -O $fmt -B base.$fmt new.raw child.$fmt || fail "-B $fmt"
    $V compare new.raw child.$fmt >/dev/null || fail "-B $fmt: content"
    $V info --output=json child.$fmt | python3 -c 'import json,sys; j = json.load(sys.stdin); assert j["backing-filename"].endswith("base.'$fmt'"), j' ||
        fail "-B $fmt: backing file"
    # Only the two changed 4 KiB granules are stored in the child.
    [ "$($V map --output=json child.$fmt | python3 -c '
import json,sys; print(sum(e["length"] for e in json.load(sys.stdin) if e["depth"] == 0 and e["present"]))')" -le $((2 * 65536)) ] ||
        fail "-B $fmt stored more than what differs"
done
expect_fail 1 "refusing to write 'base.vhd'" $V convert -O vhd -B base.vhd new.raw base.vhd

# -S: 0 allocates every byte; a bad size is a usage error.
$V convert -S 0 src.raw full.raw && cmp src.raw full.raw || fail "-S 0"
[ "$(stat -c %b full.raw)" -ge 16384 ] || fail "-S 0 left holes"
$V convert -S 64k src.raw s64.raw && cmp src.raw s64.raw || fail "-S 64k"
expect_fail 2 "-S takes 0 or a multiple of 512" $V convert -S 1000 src.raw x.raw

# Refused: compression, snapshots, a -o key the format does not have.
expect_fail 2 "-c: compression is not supported" $V convert -c -O vmdk src.raw x.vmdk
expect_fail 1 "format raw has no internal snapshots" $V convert -l snap src.raw x.raw
expect_fail 2 "format vhd has no option 'bogus'" $V convert -O vhd -o bogus=1 src.raw x.vhd
expect_fail 2 "format vhd has no option 'bogus'" $V create -f vhd -o bogus=1 x.vhd 1M
[ ! -e x.vhd ] && [ ! -e x.raw ] || fail "a refused convert left an output"
# -W is accepted (every copy here writes out of order).
$V convert -W src.raw w.raw && cmp src.raw w.raw || fail "-W"

# --version and -V on every tool.
for tool in vdisk p2v drivers-inject vmm; do
    for opt in --version -V; do
        $BIN/$tool $opt >ver.txt || fail "$tool $opt"
        grep -Eq "^$tool \(p2vkit\) [0-9]" ver.txt || { cat ver.txt; fail "$tool $opt output"; }
    done
done
echo OK
