# VMDK interop. Every subformat qemu-img writes (monolithicSparse,
# monolithicFlat, twoGbMaxExtentSparse, twoGbMaxExtentFlat, streamOptimized)
# and a vmfs descriptor read back identically through vdisk; every subformat
# vdisk writes (monolithicSparse, monolithicFlat, streamOptimized) reads
# back identically through qemu-img and libvmdk (python3-libvmdk), and
# vmdkinfo names its type. Delta disks both ways, with the CID check.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
W=$BUILD/tests/vd-write
PY=/usr/bin/python3
need qemu-img qemu-io vmdkinfo
$PY -c 'import pyvmdk' 2>/dev/null || skip "needs python3-libvmdk (pyvmdk)"

# Data, text, zeros and a last sector that is not a whole grain's:
# 20 MiB + 1536 B.
truncate -s 20973056 src.raw
head -c 2500000 /dev/urandom | dd of=src.raw conv=notrunc status=none
$PY -c "import sys; sys.stdout.write('server log line\\n' * 62500)" | dd of=src.raw bs=1M seek=7 conv=notrunc status=none
head -c 4096 /dev/urandom | dd of=src.raw bs=4096 seek=3000 conv=notrunc status=none
head -c 1536 /dev/urandom | dd of=src.raw bs=512 seek=40960 conv=notrunc status=none

pyvmdk_sha() {   # the whole media as libvmdk reads it, and its size [PARENT]
    $PY - "$@" <<'PY'
import hashlib, sys, pyvmdk
h = pyvmdk.handle(); h.open(sys.argv[1]); h.open_extent_data_files()
if len(sys.argv) > 2:
    p = pyvmdk.handle(); p.open(sys.argv[2]); p.open_extent_data_files(); h.set_parent(p)
size = h.get_media_size(); d = hashlib.sha256(); off = 0
while off < size:
    n = min(1 << 20, size - off); d.update(h.read_buffer_at_offset(n, off)); off += n
print(d.hexdigest(), size)
PY
}
sha_size() { echo "$(sha256sum <"$1" | cut -d' ' -f1) $(stat -c %s "$1")"; }

# qemu-img's subformats through vdisk.
for sub in monolithicSparse monolithicFlat twoGbMaxExtentSparse twoGbMaxExtentFlat streamOptimized; do
    qemu-img convert -f raw -O vmdk -o subformat=$sub src.raw q.vmdk
    [ "$($V info --output=json q.vmdk | grep -c vmdk)" -ge 1 ] || fail "q $sub not probed as vmdk"
    $V convert -O raw q.vmdk back.raw
    cmp src.raw back.raw || fail "vdisk reads qemu's $sub differently"
    $V compare src.raw q.vmdk >/dev/null || fail "vdisk compare of qemu's $sub"
    rm -f q*.vmdk back.raw
done

# A vmfs descriptor (ESXi's flat disk: createType vmfs, a VMFS extent).
qemu-img convert -f raw -O vmdk -o subformat=monolithicFlat src.raw e.vmdk
sed -i -e 's/createType="monolithicFlat"/createType="vmfs"/' \
    -e 's/^RW \([0-9]*\) FLAT "\(.*\)" 0$/RW \1 VMFS "\2"/' e.vmdk
grep '^RW [0-9]* VMFS "e-flat.vmdk"$' e.vmdk >/dev/null || fail "vmfs descriptor not made"
$V convert -O raw e.vmdk back.raw
cmp src.raw back.raw || fail "vdisk reads a vmfs descriptor differently"
rm -f e.vmdk e-flat.vmdk back.raw

# vdisk's subformats through qemu-img, libvmdk and vmdkinfo.
declare -A kind=([monolithicSparse]="Monolithic sparse" [monolithicFlat]="Monolithic flat"
                 [streamOptimized]="Stream optimized")
for sub in monolithicSparse monolithicFlat streamOptimized; do
    for a in ide lsilogic; do
        $V convert -O vmdk -o subformat=$sub,adapter_type=$a src.raw ours.vmdk
        [ ! -e ours.vmdk.vdisk-tmp ] || fail "temporary file left"
        qemu-img compare -q -f raw -F vmdk src.raw ours.vmdk || fail "qemu-img reads our $sub differently"
        qemu-img check -q ours.vmdk || fail "qemu-img check of our $sub"
        [ "$(pyvmdk_sha ours.vmdk)" = "$(sha_size src.raw)" ] || fail "libvmdk reads our $sub differently"
        vmdkinfo ours.vmdk >info.txt 2>&1 || { cat info.txt; fail "vmdkinfo refuses our $sub"; }
        grep "Disk type:.*${kind[$sub]}" info.txt >/dev/null || { cat info.txt; fail "vmdkinfo: $sub"; }
        grep "ddb.adapterType = \"$a\"" ours.vmdk >/dev/null 2>&1 ||
            head -c 12k ours.vmdk | grep -a "ddb.adapterType = \"$a\"" >/dev/null || fail "adapter $a"
        rm -f ours.vmdk ours-flat.vmdk info.txt
    done
done

# streamOptimized as VMware's tools want it: header version 3, compressed
# grains with markers, gdOffset "at the end" in the header and the real one
# in the footer, the end-of-stream marker last.
$V convert -O vmdk -o subformat=streamOptimized,hwversion=7 src.raw s.vmdk
$PY - s.vmdk <<'PY' || fail "streamOptimized layout"
import struct, sys
d = open(sys.argv[1], "rb").read()
magic, ver, flags, cap, grain, doff, dsize, ngte, rgd, gd, over = struct.unpack_from("<4sIIQQQQIQQQ", d, 0)
assert magic == b"KDMV" and ver == 3 and flags == 0x30001, (ver, hex(flags))
assert gd == 0xffffffffffffffff and rgd == 0 and grain == 128 and ngte == 512
desc = d[doff * 512:(doff + dsize) * 512].split(b"\0")[0].decode()
assert 'createType="streamOptimized"' in desc and 'ddb.virtualHWVersion = "7"' in desc, desc
assert d[-512:] == bytes(512), "no end-of-stream marker"
val, size, typ = struct.unpack_from("<QII", d, len(d) - 1536)
assert (val, size, typ) == (1, 0, 3), "footer marker"
fgd = struct.unpack_from("<Q", d, len(d) - 1024 + 56)[0]
assert struct.unpack_from("<QII", d, fgd * 512 - 512)[2] == 2, "GD marker"
# Grains in increasing LBA order, each marker's LBA its grain's.
pos, last = over * 512, -1
while True:
    lba, size = struct.unpack_from("<QI", d, pos)
    if size == 0:
        break
    assert lba > last and lba % 128 == 0, (pos, lba)
    last = lba; pos += (12 + size + 511) // 512 * 512
PY
rm -f s.vmdk

# Peak memory stays small whatever the size: a 1 TiB disk with data at
# both ends and in the middle, to and from both sparse subformats.
if [ -x /usr/bin/time ]; then
    truncate -s 1T big.raw
    head -c 3M /dev/urandom | dd of=big.raw bs=1M seek=500000 conv=notrunc status=none
    head -c 1M /dev/urandom | dd of=big.raw bs=1M conv=notrunc status=none
    printf 'end' | dd of=big.raw bs=1 seek=$(( (1 << 40) - 3 )) conv=notrunc status=none
    for sub in monolithicSparse streamOptimized; do
        /usr/bin/time -o rss.txt -f %M $V convert -O vmdk -o subformat=$sub big.raw big.vmdk
        [ "$(cat rss.txt)" -lt $((256 * 1024)) ] || fail "convert to $sub peaked at $(cat rss.txt) KiB"
        /usr/bin/time -o rss.txt -f %M $V compare big.raw big.vmdk >/dev/null ||
            fail "1 TiB $sub differs"
        [ "$(cat rss.txt)" -lt $((256 * 1024)) ] || fail "reading $sub peaked at $(cat rss.txt) KiB"
        rm -f big.vmdk
    done
    rm -f big.raw rss.txt
fi

# A created streamOptimized image is a complete, empty stream; the first
# open for writing appends to it, a later one is refused.
$V create -f vmdk -o subformat=streamOptimized e.vmdk 3M
truncate -s 3M z.raw
qemu-img compare -q -f raw -F vmdk z.raw e.vmdk || fail "qemu-img: empty stream"
$V compare z.raw e.vmdk >/dev/null || fail "vdisk: empty stream"
$W e.vmdk 70000 5000 3 >/dev/null
$W z.raw 70000 5000 3 >/dev/null
qemu-img compare -q -f raw -F vmdk z.raw e.vmdk || fail "qemu-img: stream written after create"
expect_fail 1 "a streamOptimized image is written once" $W e.vmdk 0 512 4
rm -f e.vmdk z.raw

# Options: qemu's names, bad values refused before anything is written.
expect_fail 1 "subformat 'twoGbMaxExtentSparse' is not one vdisk writes" \
    $V create -f vmdk -o subformat=twoGbMaxExtentSparse x.vmdk 1M
expect_fail 1 "adapter_type 'scsi'" $V create -f vmdk -o adapter_type=scsi x.vmdk 1M
expect_fail 1 "compat6 and hwversion" $V create -f vmdk -o compat6=on,hwversion=7 x.vmdk 1M
$V create -f vmdk -o compat6=on c6.vmdk 1M
head -c 12k c6.vmdk | grep -a 'ddb.virtualHWVersion = "6"' >/dev/null || fail "compat6"
rm -f c6.vmdk

# Delta disks: qemu's child over qemu's base reads through vdisk; vdisk's
# child over it reads through qemu-img; a base changed since refuses.
qemu-img convert -f raw -O vmdk src.raw base.vmdk
qemu-img create -q -f vmdk -b base.vmdk -F vmdk qchild.vmdk
qemu-io -c 'write -P 0x55 1M 100k' -c 'write -P 0x66 19M 64k' qchild.vmdk >/dev/null
qemu-img convert -O raw qchild.vmdk want.raw
$V convert -O raw qchild.vmdk got.raw
cmp want.raw got.raw || fail "vdisk reads qemu's delta disk differently"
$V create -f vmdk -b base.vmdk vchild.vmdk
$W vchild.vmdk 3000 70000 5 >/dev/null
$W vchild.vmdk 20971000 2056 6 >/dev/null
qemu-img convert -O raw vchild.vmdk want.raw
$V convert -O raw vchild.vmdk got.raw
cmp want.raw got.raw || fail "qemu-img reads vdisk's delta disk differently"
cmp -n 3000 src.raw got.raw || fail "vdisk's delta disk lost the parent's bytes"
[ "$(pyvmdk_sha vchild.vmdk base.vmdk | cut -d' ' -f1)" = "$(sha256sum <want.raw | cut -d' ' -f1)" ] ||
    fail "libvmdk reads vdisk's delta disk differently"
# A write to the base gives it a new CID: its children no longer open.
$W base.vmdk 0 512 7 >/dev/null
expect_fail 1 "parent 'base.vmdk' has content ID [0-9a-f]+, but this delta disk expects" \
    $V convert -O raw vchild.vmdk x.raw
expect_fail 1 "has content ID" $V convert -O raw qchild.vmdk x.raw
rm -f base.vmdk qchild.vmdk vchild.vmdk want.raw got.raw
# qemu-img writes a CID without leading zeros (1 in 16 has 7 digits): the
# new one fits in as many, and still changes.
qemu-img convert -f raw -O vmdk -o subformat=monolithicFlat src.raw flat.vmdk
sed -i 's/^CID=.*/CID=5a/' flat.vmdk
$V create -f vmdk -b flat.vmdk child.vmdk
$W flat.vmdk 0 512 7 >/dev/null
grep -q '^CID=[0-9a-f][0-9a-f]$' flat.vmdk && ! grep -q '^CID=5a$' flat.vmdk ||
    fail "a two-digit CID was not changed in place: $(grep ^CID= flat.vmdk)"
expect_fail 1 "has content ID" $V convert -O raw child.vmdk x.raw
rm -f flat.vmdk flat-flat.vmdk child.vmdk

# Zeroed grains (qemu's zeroed_grain=on): a child's zeroed grains read as
# zeros over the parent's data, and vdisk commit makes them zeroed entries
# of the parent, which qemu-img reads as the child read.
qemu-img create -q -f vmdk -o zeroed_grain=on zb.vmdk 4M
qemu-io -c 'write -P 0x11 0 4M' zb.vmdk >/dev/null
qemu-img create -q -f vmdk -o zeroed_grain=on -b zb.vmdk -F vmdk zc.vmdk
qemu-io -c 'write -z 64k 128k' -c 'write -P 0x22 1M 10k' -c 'write -z 2M 1000' zc.vmdk >/dev/null
qemu-img convert -O raw zc.vmdk want.raw
$V compare want.raw zc.vmdk >/dev/null || fail "vdisk reads zeroed grains wrongly"
$V map zc.vmdk | grep '^0x10000 *0x20000 *zero$' >/dev/null || fail "zeroed grains not mapped as zero"
$V commit zc.vmdk >/dev/null
qemu-img compare -q -f raw -F vmdk want.raw zb.vmdk || fail "commit of zeroed grains"
qemu-img check -q zb.vmdk || fail "qemu-img check after commit"
$V map zb.vmdk | grep '^0x10000 *0x20000 *zero$' >/dev/null || fail "commit allocated zeros"
rm -f zb.vmdk zc.vmdk want.raw

# Descriptors from outside: extent names are followed only relative to the
# descriptor, and a missing extent is one clear line.
qemu-img convert -f raw -O vmdk -o subformat=monolithicFlat src.raw d.vmdk
sed 's|"d-flat.vmdk"|"/etc/passwd"|' d.vmdk > abs.vmdk
expect_fail 1 "extent file name '/etc/passwd' is absolute" $V convert -O raw abs.vmdk x.raw
sed 's|"d-flat.vmdk"|"gone-flat.vmdk"|' d.vmdk > gone.vmdk
expect_fail 1 "cannot open extent file '.*gone-flat.vmdk'" $V info gone.vmdk
# A RDONLY extent reads, and keeps the image from being opened for writing
# (before its CID changes).
sed 's|^RW |RDONLY |' d.vmdk > ro.vmdk
$V compare src.raw ro.vmdk >/dev/null || fail "a RDONLY extent does not read"
expect_fail 1 "extent 1 is read-only in the descriptor" $W ro.vmdk 0 512 1
cmp <(grep -v '^RDONLY' ro.vmdk) <(grep -v '^RW' d.vmdk) || fail "refused write changed ro.vmdk"
# A sparse extent in a descriptor file is written in place; qemu agrees.
qemu-img convert -f raw -O vmdk -o subformat=twoGbMaxExtentSparse src.raw split.vmdk
$W split.vmdk 1000000 200000 8 >/dev/null
cp src.raw split.raw && $W split.raw 1000000 200000 8 >/dev/null
qemu-img compare -q -f raw -F vmdk split.raw split.vmdk || fail "write into a split sparse VMDK"
rm -f split*.vmdk split.raw
# vdisk check finds a grain table entry past the end of the file and a
# redundant table that differs; reading the grain gives one line.
$V convert -O vmdk src.raw dmg.vmdk
$V check dmg.vmdk >/dev/null || fail "check of a good image"
$PY - dmg.vmdk <<'PY'
import struct, sys
f = open(sys.argv[1], "r+b"); h = f.read(512)
rgd, gd = struct.unpack_from("<QQ", h, 48)
f.seek(gd * 512); gt = struct.unpack("<I", f.read(4))[0]
f.seek(gt * 512); f.write(struct.pack("<I", 0x7fffff00))
PY
rc=0; $V check dmg.vmdk >check.txt 2>&1 || rc=$?
[ $rc = 2 ] || { cat check.txt; fail "check of a damaged image exited $rc"; }
grep "grain 0 at offset .* runs past the end of the file" check.txt >/dev/null || { cat check.txt; fail "check: grain past the end"; }
grep "grain 0: redundant grain table entry .* differs" check.txt >/dev/null || { cat check.txt; fail "check: redundant table"; }
expect_fail 1 "dmg.vmdk: .*offset" $V convert -O raw dmg.vmdk x.raw
rm -f dmg.vmdk check.txt
# streamOptimized cut short: no footer.
$V convert -O vmdk -o subformat=streamOptimized src.raw st.vmdk
head -c $(( $(stat -c %s st.vmdk) - 1024 )) st.vmdk > cut.vmdk
expect_fail 1 "no footer marker" $V convert -O raw cut.vmdk x.raw
[ ! -e x.raw ] || fail "a failed convert left its output"
exit 0
