# Every damaged-image path: exit 1 with one clear line (naming the file and
# the offset), never a crash (this also runs under ASan/UBSan); vdisk check
# lists the problem and exits 1.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
PY=/usr/bin/python3

# patch FILE OFFSET FORMAT VALUE [footer|header]: overwrites a big-endian
# field at OFFSET in the file, or in the footer (the one at the end, copied
# to offset 0) with its checksum recomputed, or in the header likewise.
patch() {
    $PY - "$@" <<'PY'
import struct, sys
path, off, fmt, val = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4], 0)
fix = sys.argv[5] if len(sys.argv) > 5 else ""
data = bytearray(open(path, "rb").read())
struct.pack_into(">" + fmt, data, off + (len(data) - 512 if fix == "footer" else 0), val)
def resum(at, length, csum_at):
    struct.pack_into(">I", data, at + csum_at, 0)
    struct.pack_into(">I", data, at + csum_at, ~sum(data[at:at + length]) & 0xffffffff)
if fix == "footer":
    resum(len(data) - 512, 512, 64)
    if data[0:8] == b"conectix":
        data[0:512] = data[-512:]
if fix == "header":
    resum(512, 1024, 36)
open(path, "wb").write(data)
PY
}

# both_fail PATTERN FILE: info and convert fail with one matching line, check
# reports the damage.
both_fail() {
    expect_fail 1 "$1" $V info "$2"
    expect_fail 1 "$1" $V convert -O raw "$2" out.raw
    [ ! -e out.raw ] || fail "convert of a damaged image left out.raw"
    local rc=0; $V check "$2" >check.txt 2>&1 || rc=$?
    [ $rc = 2 ] || { cat check.txt; fail "check of $2 exited $rc (2: damaged)"; }
}

fresh() {   # a dynamic VHD with two allocated blocks
    rm -f d.vhd; $V create -f vhd -o size=exact d.vhd 8M
    "$BUILD/tests/vd-write" d.vhd 0 4096 && "$BUILD/tests/vd-write" d.vhd 4194304 4096
}
BAT=1536

fresh; truncate -s 3000000 d.vhd
both_fail "d.vhd: BAT entry [0-9]+ points to a block at offset [0-9]+ that ends beyond" d.vhd
fresh; truncate -s 1000 d.vhd
expect_fail 1 "d.vhd: no VHD footer at the end of the file" $V info d.vhd
$V create -f vhd -o subformat=fixed f.vhd 1M; truncate -s 700000 f.vhd
expect_fail 1 "f.vhd: no VHD footer at the end of the file \(offset 699488\)" $V info -f vhd f.vhd

fresh; printf '\x01' | dd of=d.vhd bs=1 seek=$(( $(stat -c %s d.vhd) - 512 + 40 )) conv=notrunc status=none
both_fail "d.vhd: bad VHD footer checksum at offset [0-9]+" d.vhd
grep -q 'bad VHD footer checksum' check.txt || fail "check names the checksum"

fresh; printf '\x01' | dd of=d.vhd bs=1 seek=600 conv=notrunc status=none
both_fail "d.vhd: bad dynamic header checksum at offset 512" d.vhd

fresh; patch d.vhd $BAT I 0x7fffff00
both_fail "d.vhd: BAT entry 0 points to a block at offset [0-9]+ that ends beyond the data end" d.vhd
grep -q 'BAT entry 0 at offset 1536' check.txt || { cat check.txt; fail "check BAT beyond EOF"; }

fresh; first=$($PY -c "import struct;d=open('d.vhd','rb').read();print(struct.unpack('>I',d[$BAT:$BAT+4])[0])")
patch d.vhd $((BAT + 8)) I $((first + 8))
both_fail "d.vhd: blocks at offsets [0-9]+ and [0-9]+ overlap" d.vhd
grep -q 'overlaps block' check.txt || { cat check.txt; fail "check overlap"; }

fresh; patch d.vhd $BAT I 3
both_fail "d.vhd: BAT entry 0 points to a block at offset 1536 inside the metadata" d.vhd
grep -q 'overlaps BAT' check.txt || { cat check.txt; fail "check metadata overlap"; }

fresh; patch d.vhd 48 Q $((1 << 60)) footer
both_fail "d.vhd: absurd virtual size [0-9]+ bytes in the footer at offset [0-9]+" d.vhd
fresh; patch d.vhd $((512 + 28)) I 0x7fffffff header
both_fail "d.vhd: the BAT has 2147483647 entries" d.vhd
fresh; patch d.vhd $((512 + 32)) I 3000000 header
both_fail "d.vhd: block size 3000000 at offset 544 is not a power of two" d.vhd
fresh; patch d.vhd 60 I 9 footer
both_fail "d.vhd: unknown VHD disk type 9" d.vhd

# Garbage, empty and tiny files named as VHD.
head -c 100000 /dev/urandom > g.vhd
expect_fail 1 "g.vhd: no VHD footer at the end" $V info -f vhd g.vhd
: > empty.vhd
expect_fail 1 "empty.vhd: 0 bytes is too small for a VHD" $V info -f vhd empty.vhd

# Parents: missing, wrong UUID, loops.
$V create -f vhd -o size=exact p.vhd 4M
$V create -f vhd -b p.vhd c.vhd
mv p.vhd p.gone
both_fail "c.vhd: parent 'p.vhd' not found \(tried '\./p.vhd'" c.vhd
grep -q "parent 'p.vhd' not found" check.txt || fail "check missing parent"
$V create -f vhd -o size=exact p.vhd 4M
both_fail "c.vhd: parent '\./p.vhd' has UUID [0-9a-f-]+, but this differencing disk expects [0-9a-f-]+ \(wrong parent\)" c.vhd
cp c.vhd p.vhd      # p.vhd is now a child of ./p.vhd: itself
both_fail "backing chain loops back to '\./p.vhd'" c.vhd
expect_fail 1 "loops" $V convert -O raw p.vhd out.raw
expect_fail 1 "loops" $V info p.vhd

# A parent locator naming a FIFO must not hang the open.
rm -f p.vhd c.vhd; $V create -f vhd -o size=exact p.vhd 4M; $V create -f vhd -b p.vhd c.vhd
rm p.vhd; mkfifo p.vhd
expect_fail 1 "not a regular file or block device" timeout 10 $V info c.vhd
rm p.vhd

# Creating: absurd sizes are refused before anything is written.
expect_fail 1 "more than the VHD maximum of 2040 GiB" $V create -f vhd big.vhd 2041G
expect_fail 1 "more than the VHD maximum of 2040 GiB" $V create -f vhd -o subformat=fixed big.vhd 3T
[ ! -e big.vhd ] || fail "big.vhd was created"
echo OK
