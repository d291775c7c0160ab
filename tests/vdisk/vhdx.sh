# VHDX read: every variant qemu-img writes (fixed, dynamic, block sizes 1
# to 256 MiB) reads back identically through vdisk; differencing disks built
# by vhdx_gen.py from MS-VHDX (qemu cannot write them) read as libvhdi reads
# them; a dirty log (a log entry that changes the BAT) is replayed in memory
# as qemu replays it read-write, and the file is left unchanged; parent
# locators, linkage and damage give one clear error.
source "$SRC/tests/lib.sh"
need qemu-img
PY=/usr/bin/python3
$PY -c 'import pyvhdi' 2>/dev/null || skip "needs python3-libvhdi (pyvhdi)"
V=$BIN/vdisk
GEN="$PY $SRC/tests/vdisk/vhdx_gen.py"

sha() { sha256sum <"$1" | cut -d' ' -f1; }
pyvhdi_sha() {  # IMAGE [PARENT...]: the content as libvhdi reads it (parents last to first)
    $PY - "$@" <<'PY'
import hashlib, sys, pyvhdi
chain = []
for path in reversed(sys.argv[1:]):
    f = pyvhdi.file(); f.open(path)
    if chain: f.set_parent(chain[-1])
    chain.append(f)
c = chain[-1]; size = c.get_media_size(); h = hashlib.sha256()
for o in range(0, size, 1 << 20):
    h.update(c.read_buffer_at_offset(min(1 << 20, size - o), o))
print(h.hexdigest())
PY
}

# A 64 MiB source: random data, a hole, more data, a hole.
head -c 12582912 /dev/urandom >src.raw
truncate -s 64M src.raw
dd if=/dev/urandom of=src.raw bs=1M seek=40 count=3 conv=notrunc status=none
want=$(sha src.raw)

for o in subformat=dynamic subformat=fixed block_size=1M block_size=8M block_size=256M \
         subformat=fixed,block_size=32M block_state_zero=off log_size=4M; do
    qemu-img convert -f raw -O vhdx -o $o src.raw q.vhdx
    $V info q.vhdx | grep -q '^file format: vhdx$' || fail "$o: not probed as vhdx"
    $V convert -O raw q.vhdx out.raw
    [ "$(sha out.raw)" = "$want" ] || fail "$o: vdisk reads qemu's VHDX differently"
    $V check q.vhdx >/dev/null || fail "$o: check of qemu's VHDX"
    $V compare src.raw q.vhdx >/dev/null || fail "$o: compare"
done
qemu-img convert -f raw -O vhdx -o subformat=dynamic src.raw d.vhdx
$V info d.vhdx >info.txt
for k in 'subformat: dynamic' 'block_size: ' 'logical_sector_size: 512' 'header: ' \
         'data_write_guid: {' 'log: 1048576 bytes at offset [0-9]+, clean' 'bat: ' 'metadata: '; do
    grep -Eq "^$k" info.txt || { cat info.txt; fail "info lacks '$k'"; }
done
$V map d.vhdx >/dev/null

# Differencing (AVHDX): sectors written in partially present blocks, a
# fully present block, a 4 KiB-sector child; libvhdi reads the same.
$GEN child d.vhdx c.avhdx W:1048576:524288:B W:4194304:4096:C W:33553920:1024:E F:5:D
$V convert -O raw c.avhdx c.raw
[ "$(sha c.raw)" = "$(pyvhdi_sha c.avhdx d.vhdx)" ] || fail "differencing: vdisk and libvhdi differ"
$PY - <<'PY' || fail "differencing: content"
d = bytearray(open("src.raw", "rb").read())
for off, n, ch in ((1048576, 524288, b"B"), (4194304, 4096, b"C"), (33553920, 1024, b"E"),
                   (5 * 2097152, 2097152, b"D")):
    d[off:off + n] = ch * n
assert open("c.raw", "rb").read() == bytes(d)
PY
$V info c.avhdx | grep -q '^parent_linkage: {' || fail "info shows parent_linkage"
$V info c.avhdx | grep -q '^parent_locator: relative_path=.\\d.vhdx' || fail "info shows the locator"
$GEN child --lss 4096 --block 1 d.vhdx c4.avhdx W:0:8192:X W:12582912:4096:Y
$V convert -O raw c4.avhdx c4.raw
[ "$(sha c4.raw)" = "$(pyvhdi_sha c4.avhdx d.vhdx)" ] || fail "4K child: vdisk and libvhdi differ"
# A chain of two children.
$GEN child c.avhdx cc.avhdx W:1049600:512:Q
$V convert -O raw cc.avhdx cc.raw
[ "$(sha cc.raw)" = "$(pyvhdi_sha cc.avhdx c.avhdx d.vhdx)" ] || fail "chain: vdisk and libvhdi differ"
# A zero block reads zeros over the parent's data (MS-VHDX; libvhdi 20210425
# reads the parent there, so this one is checked against the spec only).
$GEN child d.vhdx z.avhdx Z:1
$V convert -O raw z.avhdx z.raw
cmp -s -n 2097152 <(dd if=z.raw bs=1M skip=2 count=2 status=none) /dev/zero || fail "zero block"

# Parent errors: wrong linkage, missing parent, the paths tried.
$GEN child --linkage '{00000000-0000-0000-0000-000000000001}' d.vhdx bad.avhdx W:0:512:B
expect_fail 1 "bad.avhdx: parent '.*d.vhdx' has DataWriteGuid \{.*\}, but this differencing disk expects \{00000000-0000-0000-0000-000000000001\}" \
    $V info bad.avhdx
$GEN child --relative '..\gone\p.vhdx' d.vhdx lost.avhdx W:0:512:B
expect_fail 1 "lost.avhdx: parent not found \(tried '\./\.\./gone/p\.vhdx', '/nowhere/d\.vhdx'\)" \
    $V info lost.avhdx

# A dirty log: a log entry points block 3 at a new block (and zeroes its
# first 4 KiB). Read-only opens replay it in memory and leave the file as it
# is; qemu, which replays only read-write, is the oracle on a copy.
qemu-img convert -f raw -O vhdx -o block_size=8M src.raw l.vhdx
$GEN dirty l.vhdx 3 L
before=$(sha l.vhdx)
$V info l.vhdx >info.txt
grep -q '^log: .*dirty (replayed in memory)' info.txt || { cat info.txt; fail "info: dirty log"; }
$V convert -O raw l.vhdx l.raw
$V check l.vhdx >/dev/null || fail "check of a dirty-log image"
[ "$(sha l.vhdx)" = "$before" ] || fail "a read-only open wrote the dirty-log image"
cp l.vhdx lq.vhdx
qemu-img check -q -r all lq.vhdx >/dev/null 2>&1 || true
qemu-img convert -O raw lq.vhdx lq.raw
[ "$(sha l.raw)" = "$(sha lq.raw)" ] || fail "log replay differs from qemu's"
[ "$(sha l.raw)" != "$want" ] || fail "the log changed nothing"
# A sequence of three entries (each one's tail the first).
qemu-img convert -f raw -O vhdx -o block_size=8M src.raw l3.vhdx
$GEN dirty l3.vhdx 3 L 4 M 6 N
$V convert -O raw l3.vhdx l3.raw
cp l3.vhdx l3q.vhdx
qemu-img check -q -r all l3q.vhdx >/dev/null 2>&1 || true
qemu-img convert -O raw l3q.vhdx l3q.raw
[ "$(sha l3.raw)" = "$(sha l3q.raw)" ] || fail "a log sequence replays differently from qemu"
$PY - <<'PY' || fail "a log sequence: content"
d = open("l3.raw", "rb").read()
for blk, ch in ((3, b"L"), (4, b"M"), (6, b"N")):
    b = d[blk * 8 << 20:(blk + 1) * 8 << 20]
    assert b[:4096] == bytes(4096) and b[4096:] == ch * ((8 << 20) - 4096), blk
PY

# A log whose every 4 KiB claims to start a log-long entry: refused with
# one line instead of checksumming the log once per position.
cp l.vhdx lbad.vhdx
$PY - <<'PY'
import os, struct, sys
sys.path.insert(0, os.environ["SRC"] + "/tests/vdisk")
import vhdx_gen as g
p = g.read_image("lbad.vhdx"); d = bytearray(p["data"]); h = p["header"]
log_len, log_off = struct.unpack_from("<IQ", h, 68)
for pos in range(0, log_len, 4096):
    e = bytearray(64)
    e[0:4] = b"loge"
    struct.pack_into("<IIQ", e, 8, log_len, 0, 1)
    e[32:48] = h[48:64]
    d[log_off + pos:log_off + pos + 64] = e
open("lbad.vhdx", "wb").write(d)
PY
expect_fail 1 "lbad.vhdx: the log at offset [0-9]+ holds too many overlapping entries" $V info lbad.vhdx

# Disk2vhd writes two identical headers (equal sequence numbers): accepted.
cp d.vhdx eq.vhdx
$PY - <<'PY'
d = bytearray(open("eq.vhdx", "rb").read())
d[128 << 10:(128 << 10) + 4096] = d[64 << 10:(64 << 10) + 4096]
open("eq.vhdx", "wb").write(d)
PY
$V convert -O raw eq.vhdx eq.raw && [ "$(sha eq.raw)" = "$want" ] || fail "two equal headers"
$V check eq.vhdx >/dev/null || fail "check: two equal headers"

# Damage: one clear line, exit 2 (qemu-img check: corruption).
cp d.vhdx h.vhdx
printf 'XXXX' | dd of=h.vhdx bs=1 seek=65536 conv=notrunc status=none
$V convert -O raw h.vhdx h.raw && [ "$(sha h.raw)" = "$want" ] || fail "one damaged header copy"
rc=0; $V check h.vhdx >check.txt 2>&1 || rc=$?
[ $rc = 2 ] && grep -q 'header copy at offset 65536 is damaged' check.txt || { cat check.txt; fail "check: header copy"; }
printf 'XXXX' | dd of=h.vhdx bs=1 seek=131072 conv=notrunc status=none
expect_fail 1 "h.vhdx: no valid VHDX header" $V info h.vhdx
cp d.vhdx r.vhdx
printf 'XXXX' | dd of=r.vhdx bs=1 seek=196608 conv=notrunc status=none
$V convert -O raw r.vhdx r.raw && [ "$(sha r.raw)" = "$want" ] || fail "damaged first region table"
rc=0; $V check r.vhdx >check.txt 2>&1 || rc=$?
[ $rc = 2 ] && grep -q 'region table copy at offset 196608 is damaged' check.txt || { cat check.txt; fail "check: region copy"; }
# Two BAT entries pointing at one block.
cp d.vhdx o2.vhdx
$PY - <<'PY'
import struct, sys
sys.path.insert(0, "$SRC/tests/vdisk".replace("$SRC", __import__("os").environ["SRC"]))
import vhdx_gen as g
p = g.read_image("o2.vhdx"); d = bytearray(p["data"]); b = p["bat"][0]
struct.pack_into("<Q", d, b + 8, struct.unpack_from("<Q", d, b)[0])
open("o2.vhdx", "wb").write(d)
PY
rc=0; $V check o2.vhdx >check.txt 2>&1 || rc=$?
[ $rc = 2 ] && grep -q 'BAT entries 0 and 1 point to overlapping blocks' check.txt || { cat check.txt; fail "check: overlap"; }
expect_fail 1 "o2.vhdx: BAT entries 0 and 1 point to overlapping blocks" $V info o2.vhdx
printf 'XXXX' | dd of=r.vhdx bs=1 seek=262144 conv=notrunc status=none
expect_fail 1 "r.vhdx: bad region table at offset 196608" $V info r.vhdx
cp d.vhdx t.vhdx; truncate -s 5000000 t.vhdx
expect_fail 1 "t.vhdx: BAT entry 0 points to a block at offset [0-9]+ that ends beyond" $V info t.vhdx
rc=0; $V check t.vhdx >check.txt 2>&1 || rc=$?
[ $rc = 2 ] && grep -q 'BAT entry 0' check.txt || { cat check.txt; fail "check of a truncated VHDX"; }
# ---- writing ----
# Every variant vdisk writes reads back identically through qemu-img (which
# refuses 4 KiB logical sectors) and libvhdi; qemu-img check finds it clean.
for o in "" subformat=fixed block_size=1M block_size=256M,log_size=2M \
         logical_sector_size=4096 physical_sector_size=512; do
    rm -f o.vhdx
    $V convert -O vhdx ${o:+-o $o} src.raw o.vhdx
    [ "$(pyvhdi_sha o.vhdx)" = "$want" ] || fail "-o '$o': libvhdi reads vdisk's VHDX differently"
    $V compare src.raw o.vhdx >/dev/null || fail "-o '$o': vdisk reads its VHDX differently"
    $V check o.vhdx >/dev/null || fail "-o '$o': check"
    case $o in *logical_sector_size=4096*) continue ;; esac
    qemu-img compare -q -f raw -F vhdx src.raw o.vhdx || fail "-o '$o': qemu-img reads it differently"
    qemu-img check -q o.vhdx || fail "-o '$o': qemu-img check"
done
# A fixed VHDX is fully allocated (Windows refuses a sparse one), payload
# 1 MiB aligned.
$V create -f vhdx -o subformat=fixed,block_size=1M fx.vhdx 8M
[ "$(stat -c %b fx.vhdx)" -ge $(( $(stat -c %s fx.vhdx) / 512 )) ] || fail "fixed VHDX is sparse"
$V info fx.vhdx | grep -q '^subformat: fixed' || fail "info: fixed"
$V create -f vhdx -o block_size=3M bad.vhdx 8M 2>/dev/null && fail "block_size=3M accepted"
expect_fail 1 "block_size must be a power of two" $V create -f vhdx -o block_size=3M x.vhdx 8M

# Differencing children written by vdisk: libvhdi reads them as vdisk does,
# and only what was written shadows the parent; a write into the parent
# changes its DataWriteGuid, so the child no longer opens.
$V convert -O vhdx -o block_size=8M src.raw p.vhdx
$V create -f vhdx -b p.vhdx k.avhdx
"$BUILD/tests/vd-write" k.avhdx 1000 5000 3
"$BUILD/tests/vd-write" k.avhdx 3000000 70000 4
"$BUILD/tests/vd-write" k.avhdx 30000000 8388608 5
$V convert -O raw k.avhdx k.raw
[ "$(sha k.raw)" = "$(pyvhdi_sha k.avhdx p.vhdx)" ] || fail "vdisk's child: libvhdi differs"
cmp -s -n 1000 src.raw k.raw || fail "child: bytes before the first write"
cmp -s -i 6000:6000 -n 2990000 src.raw k.raw || fail "child: bytes between writes are the parent's"
$V check k.avhdx >/dev/null || fail "check of vdisk's child"
$V info k.avhdx | grep -q '^parent_locator: relative_path=.\\p.vhdx' || fail "child locator"
$V create -f vhdx -b k.avhdx kk.avhdx && "$BUILD/tests/vd-write" kk.avhdx 1024 512 6
$V convert -O raw kk.avhdx kk.raw
[ "$(sha kk.raw)" = "$(pyvhdi_sha kk.avhdx k.avhdx p.vhdx)" ] || fail "grandchild: libvhdi differs"
# vdisk commit writes the child into its parent, which keeps the
# DataWriteGuid the child links to: the child reads the same afterwards.
cp p.vhdx pc.vhdx && $V create -f vhdx -b pc.vhdx kc.avhdx
"$BUILD/tests/vd-write" kc.avhdx 1000 5000 3
$V convert -O raw kc.avhdx kc.raw
$V commit kc.avhdx >/dev/null
$V compare kc.raw pc.vhdx >/dev/null || fail "commit: the parent does not hold the child's content"
$V compare kc.raw kc.avhdx >/dev/null || fail "commit: the child no longer reads the same"
# Any other write to a parent gives it a new DataWriteGuid: its children
# no longer open.
"$BUILD/tests/vd-write" p.vhdx 0 512 7
expect_fail 1 "k.avhdx: parent '.*p.vhdx' has DataWriteGuid" $V info k.avhdx
expect_fail 1 "a VHDX differencing disk needs a VHDX parent" $V create -f vhdx -b src.raw x.avhdx

# A read-write open replays a dirty log into the file and clears it.
cp l.vhdx lw.vhdx
"$BUILD/tests/vd-write" lw.vhdx 0 512 8
$V info lw.vhdx | grep -q '^log: .*, clean$' || fail "read-write open left the log dirty"
$V convert -O raw lw.vhdx lw.raw
cmp -s -i 512 l.raw lw.raw || fail "read-write replay differs from the read-only one"
qemu-img convert -O raw lw.vhdx lwq.raw && cmp -s lw.raw lwq.raw || fail "qemu reads the replayed file differently"
# p2v serve -O vhdx: a capture lands in a VHDX that qemu-img and libvhdi
# read as the captured disk.
printf '0123456789abcdef0123\n' >token
mkdir -p landed
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN/p2v" serve --listen 127.0.0.1:$port --dir landed --token-file token -O vhdx --once \
    >serve.log 2>&1 & spid=$!
# The agent fails fast when no server answers yet: wait for the listener.
for i in $(seq 100); do
    grep -q 'listening on' serve.log 2>/dev/null && break
    kill -0 $spid 2>/dev/null || { cat serve.log; fail "p2v serve did not start"; }
    sleep 0.05
done
"$BIN/p2v" capture --server 127.0.0.1:$port --token-file token --retry-for 20 --disk src.raw \
    --name m --state m.session >capture.log 2>&1 || { cat capture.log serve.log; fail "capture to a VHDX"; }
wait $spid || { cat serve.log; fail "p2v serve -O vhdx"; }
qemu-img compare -q -f raw -F vhdx src.raw landed/m/disk0.vhdx || fail "qemu-img reads the captured VHDX differently"
[ "$(pyvhdi_sha landed/m/disk0.vhdx)" = "$want" ] || fail "libvhdi reads the captured VHDX differently"
$V check landed/m/disk0.vhdx >/dev/null || fail "check of the captured VHDX"
# A source that is not whole sectors: rounded up, as qemu-img does.
head -c 1000000 src.raw >odd.raw
$V convert -O vhdx odd.raw odd.vhdx
[ "$($V info --output=json odd.vhdx | grep -o '"virtual-size": [0-9]*')" = '"virtual-size": 1000448' ] ||
    fail "a 1000000-byte source as VHDX: $($V info odd.vhdx | grep virtual)"
qemu-img compare -q -f raw -F vhdx odd.raw odd.vhdx || fail "qemu-img reads the rounded VHDX differently"
echo "vhdx ok"
