# seSparse (ESXi 6.5+ snapshots), which qemu-img cannot write: a generator
# below builds one from the layout VMware documents (constant and volatile
# headers, 64-bit grain directory and tables, shuffled grain numbers) as
# the child of a monolithicSparse base; vdisk reads it as the generator
# says and as qemu-img (which reads seSparse) does. Damaged ones give one
# line.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
PY=/usr/bin/python3

head -c $((40 << 20)) /dev/urandom > base.raw
$V convert -O vmdk base.raw base.vmdk
cid=$(head -c 12k base.vmdk | grep -a '^CID=' | cut -d= -f2)

# gen.py CHILD PARENT_CID BASE_RAW EXPECT_RAW [DAMAGE]
cat > gen.py <<'PY'
import struct, sys
child, pcid, base, expect = sys.argv[1:5]
damage = sys.argv[5] if len(sys.argv) > 5 else ""
SECTORS = 40 << 11                      # 40 MiB
GRAIN, GT_ENTRIES = 4096, 4096          # a table covers 16 MiB
data = bytearray(open(base, "rb").read())
vol_off, jh_off, j_off, gd_off, gt_off = 1, 2, 3, 16, 32
n_tables = 2
fb_off = gt_off + 64 * n_tables
bm_off = fb_off + 8
grains_off = 256
grains_n = 4200                         # grain numbers above 4095 use the high bits
hdr = [0] * 26
hdr[0], hdr[1], hdr[2], hdr[3], hdr[4] = 0xcafebabe, 0x0000000200000001, SECTORS, 8, 64
hdr[10:26] = [vol_off, 1, jh_off, 1, j_off, 8, gd_off, 8, gt_off, 64 * n_tables,
              fb_off, 8, bm_off, 8, grains_off, grains_n * 8]
if damage == "version":
    hdr[1] = 0x0000000300000001
f = open(child, "wb")
f.write(struct.pack("<26Q", *hdr).ljust(512, b"\0"))
f.seek(vol_off * 512)
f.write(struct.pack("<4Q", 0xcafecafe, 0, 1, 1 if damage == "journal" else 0))
# Directory: the first 16 MiB in table 1, the next 16 MiB left to the
# parent, the last 8 MiB in table 0.
gd = [0x1000000000000001, 0, 0x1000000000000000]
if damage == "gd":
    gd[0] = 0x2000000000000001
f.seek(gd_off * 512)
f.write(struct.pack("<3Q", *gd))
tables = {1: [0] * GT_ENTRIES, 0: [0] * GT_ENTRIES}
def enc(grain_no):
    return 0x3 << 60 | (grain_no & 0xfff) << 48 | grain_no >> 12
def put(vgrain, grain_no, fill):
    table = gd[vgrain // GT_ENTRIES] & 0xffffffff
    tables[table][vgrain % GT_ENTRIES] = enc(grain_no)
    f.seek((grains_off + grain_no * 8) * 512)
    f.write(fill)
    data[vgrain * GRAIN:(vgrain + 1) * GRAIN] = fill
put(0, 4100, b"\xa5" * GRAIN)                           # high bits of the number
put(1, 7, bytes(range(256)) * 16)
put(4095, 4199, b"last of table" + bytes(GRAIN - 13))
put(2 * GT_ENTRIES + 5, 0, b"\x5a" * GRAIN)             # in the last 8 MiB
put(2 * GT_ENTRIES + 2047, 4096, b"E" * GRAIN)          # the disk's last grain
for vgrain, kind in ((10, 2), (11, 1), (2 * GT_ENTRIES + 6, 2)):   # zeroed, unmapped
    tables[gd[vgrain // GT_ENTRIES] & 0xffffffff][vgrain % GT_ENTRIES] = kind << 60
    data[vgrain * GRAIN:(vgrain + 1) * GRAIN] = bytes(GRAIN)
if damage == "gte":
    tables[1][3] = 0x5 << 60
for t, entries in tables.items():
    f.seek((gt_off + 64 * t) * 512)
    f.write(struct.pack("<%dQ" % GT_ENTRIES, *entries))
f.truncate((grains_off + grains_n * 8) * 512)
f.close()
open(expect, "wb").write(data)
name = child.rsplit("/", 1)[-1]
desc = ('# Disk DescriptorFile\nversion=1\nencoding="UTF-8"\nCID=1234abcd\nparentCID=%s\n'
        'createType="seSparse"\nparentFileNameHint="base.vmdk"\n\n# Extent description\n'
        'RW %d SESPARSE "%s"\n\n# The Disk Data Base\n#DDB\n\nddb.adapterType = "lsilogic"\n'
        'ddb.virtualHWVersion = "14"\n' % (pcid, SECTORS, name))
open(child.replace("-sesparse.vmdk", ".vmdk"), "w").write(desc)
PY

$PY gen.py snap-sesparse.vmdk "$cid" base.raw expect.raw
$V info snap.vmdk | grep 'create-type: seSparse' >/dev/null || fail "info of the seSparse disk"
$V convert -O raw snap.vmdk got.raw
cmp expect.raw got.raw || fail "vdisk reads the seSparse disk wrongly"
$V compare expect.raw snap.vmdk >/dev/null || fail "vdisk compare of the seSparse disk"
if command -v qemu-img >/dev/null; then
    qemu-img convert -f vmdk -O raw snap.vmdk qemu.raw
    cmp expect.raw qemu.raw || fail "qemu-img reads the generated seSparse disk differently"
fi
# Read-only: a writable open is refused before anything changes.
expect_fail 1 "seSparse extents are read-only" $BUILD/tests/vd-write snap.vmdk 0 512 1

for damage in version journal gd gte; do
    $PY gen.py bad-sesparse.vmdk "$cid" base.raw x.raw $damage
    expect_fail 1 "bad-sesparse.vmdk: .*(seSparse|journal)" $V convert -O raw bad.vmdk x.raw
done
# The parent changed: its CID no longer matches.
$PY gen.py cid-sesparse.vmdk 0badc1d0 base.raw x.raw
expect_fail 1 "has content ID $cid, but this delta disk expects 0badc1d0" $V info cid.vmdk
exit 0
