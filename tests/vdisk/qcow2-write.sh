# qcow2 write interop. qcow2 written by vdisk (plain, and compressed by
# convert -c with zlib and zstd) reads back identically through qemu-img
# (whose check finds no leak or corruption) and libqcow (qcowinfo, and
# qcowmount where FUSE works),
# including an overlay on a VHD with its backing format recorded; writes into
# qemu-img's images of every refcount width keep refcounts exact; an image
# left dirty is repaired by a writable open or check -r; a convert or a writer killed
# mid-write leaves an image both checks call consistent.
source "$SRC/tests/vdisk/qcow2-lib.sh"

# Bad create options: one line each, nothing created.
expect_fail 1 "cluster_size must be a power of two from 512 to 2M, not '3K'" \
    $V create -f qcow2 -o cluster_size=3K x.qcow2 1M
expect_fail 1 "compression_type=zstd needs compat=1.1" \
    $V create -f qcow2 -o compat=0.10,compression_type=zstd x.qcow2 1M
expect_fail 1 "backing_fmt given without a backing file" \
    $V create -f qcow2 -o backing_fmt=raw x.qcow2 1M
[ ! -e x.qcow2 ] || fail "a failed create left x.qcow2"

# Ours through qemu-img and libqcow.
for o in "" compat=0.10 cluster_size=512 cluster_size=4K cluster_size=2M; do
    rm -f w.qcow2
    $V convert -O qcow2 ${o:+-o $o} src.raw w.qcow2
    qemu-img check -q w.qcow2 || fail "qemu-img check: ours ($o)"
    qemu-img compare -q src.raw w.qcow2 || fail "qemu-img reads ours ($o) differently"
    $V check w.qcow2 >/dev/null || fail "vdisk check: ours ($o)"
    qcowinfo w.qcow2 >info.txt || fail "qcowinfo rejects ours ($o)"
    grep "Media size.*20972544 bytes" info.txt >/dev/null || fail "qcowinfo size ($o)"
done
# Compressed (convert -c), zlib and zstd, by 4 workers: smaller than plain,
# clean for both checks, the same content through qemu-img (and libqcow for
# zlib); then overwritten in part through the API.
$V convert -O qcow2 src.raw plain.qcow2
for c in zlib zstd; do
    rm -f c.qcow2
    $V convert -c -m 4 -O qcow2 -o compression_type=$c src.raw c.qcow2
    [ "$(stat -c %s c.qcow2)" -lt "$(stat -c %s plain.qcow2)" ] || fail "-c $c is not smaller"
    qemu-img check c.qcow2 | grep "compressed clusters" >/dev/null || fail "-c $c: none compressed"
    qemu-img check -q c.qcow2 || fail "qemu-img check: -c $c"
    qemu-img compare -q src.raw c.qcow2 || fail "qemu-img reads -c $c differently"
    $V check c.qcow2 >/dev/null || fail "vdisk check: -c $c"
    if [ $c = zlib ]; then qcowinfo c.qcow2 >/dev/null || fail "qcowinfo rejects -c $c"; fi
    $W c.qcow2 7340000 100000 6
    qemu-img check -q c.qcow2 || fail "qemu-img check: -c $c overwritten"
    same c.qcow2 "-c $c overwritten"
done
rm -f plain.qcow2 c.qcow2
# convert skips zero 4 KiB granules: clusters with one inside still end up
# compressed (the parts are merged), as qemu-img -c compresses them.
python3 - <<'PY'
with open("z.raw", "wb") as f:
    for i in range(200):
        c = bytearray(("cluster %d text line\n" % i).encode() * 4000)[:65536]
        if i % 2:
            c[8192:12288] = bytes(4096)
        f.write(c)
PY
$V convert -c -O qcow2 z.raw z.qcow2
qemu-img check z.qcow2 | grep "100.00% compressed clusters" >/dev/null || fail "-c: split clusters not compressed"
qemu-img check -q z.qcow2 && qemu-img compare -q z.raw z.qcow2 || fail "-c: split clusters"
rm -f z.raw z.qcow2

# Through libqcow's FUSE mount (qcowmount), where FUSE works here: ours,
# plain and compressed, read as the source.
qcow_mount_same() {   # IMAGE: its content through qcowmount equals src.raw
    mkdir -p mnt
    qcowmount "$1" mnt >/dev/null 2>&1 & local mpid=$!
    for _ in $(seq 50); do [ -e mnt/qcow1 ] && break; sleep 0.1; done
    if [ ! -e mnt/qcow1 ]; then
        kill $mpid 2>/dev/null || true; wait $mpid 2>/dev/null || true
        echo "note: qcowmount does not mount here (no FUSE); skipped" >&2
        return 0
    fi
    local rc=0; cmp -n 20972520 mnt/qcow1 src.raw || rc=1
    fusermount -u mnt || umount mnt || true
    wait $mpid 2>/dev/null || true
    [ $rc = 0 ] || fail "qcowmount reads $1 differently"
}
if command -v fusermount >/dev/null && [ -c /dev/fuse ]; then
    $V convert -O qcow2 src.raw m.qcow2 && qcow_mount_same m.qcow2
    rm -f m.qcow2 && $V convert -c -O qcow2 src.raw m.qcow2 && qcow_mount_same m.qcow2
    rm -f m.qcow2
fi

# An overlay on a VHD, written through the API, partly and unaligned.
qemu-img convert -O vpc src.raw base.vhd
$V create -f qcow2 -b base.vhd ov.qcow2
qemu-img info ov.qcow2 | grep "backing file format: vpc" >/dev/null || fail "backing format"
$W ov.qcow2 1000 3000 3 && $W ov.qcow2 5000000 300000 4 && $W ov.qcow2 20971000 1000 5
$V convert -O raw ov.qcow2 ov-ours.raw
qemu-img convert -O raw ov.qcow2 ov-qemu.raw
cmp ov-ours.raw ov-qemu.raw || fail "overlay on a VHD reads differently"
qemu-img check -q ov.qcow2 || fail "qemu-img check: overlay"
cmp -n 1000 ov-ours.raw src.raw || fail "overlay lost the parent's bytes"
# The backing name is recorded as readers resolve it, from the overlay's
# folder: the bare name next to it, an absolute path elsewhere.
mkdir -p d1 d2
cp base.vhd d1/p.vhd
$V create -f qcow2 -b d1/p.vhd d1/ov.qcow2
qemu-img info d1/ov.qcow2 | grep "^backing file: p.vhd " >/dev/null || fail "name next to it"
$V create -f qcow2 -b d1/p.vhd d2/ov.qcow2
qemu-img info d2/ov.qcow2 | grep "^backing file: /.*/d1/p.vhd$" >/dev/null || fail "absolute name"
for o in d1/ov.qcow2 d2/ov.qcow2; do
    qemu-img compare -q $o base.vhd || fail "qemu-img does not find the parent of $o"
    $V compare $o base.vhd >/dev/null || fail "vdisk does not find the parent of $o"
done
rm -rf d1 d2

# Zero writes: whole clusters become zero clusters over the parent.
$V convert -O qcow2 src.raw z.qcow2
qemu-io -c 'write -z 0 2M' z.qcow2 >/dev/null
same z.qcow2 "zero clusters"
rm -f ov-*.raw z.qcow2

# Writes into qemu-img's images of every refcount width (1 to 64 bits, as
# QEMU packs them) and into v2 and compressed images keep refcounts exact.
for o in refcount_bits=1 refcount_bits=2 refcount_bits=4 refcount_bits=8 refcount_bits=32 \
         refcount_bits=64 compat=0.10,cluster_size=4K; do
    rm -f r.qcow2
    qemu-img convert -O qcow2 -o $o src.raw r.qcow2
    $W r.qcow2 100 5000 3 && $W r.qcow2 9000000 3000000 4 && $W r.qcow2 20972000 520 5
    qemu-img check -q r.qcow2 || fail "qemu-img check after writing into $o"
    same r.qcow2 "written $o"
done
# qemu-img's 512 B-cluster image has a refcount table for 8 MiB of file:
# writing more grows it (moved to the end of the file, the old one freed).
rm -f r.qcow2
qemu-img create -q -f qcow2 -o cluster_size=512 r.qcow2 20972520
$W r.qcow2 0 14000000 3 && $W r.qcow2 16000000 4000000 4
qemu-img create -q -f qcow2 -o cluster_size=512 t.qcow2 1M
rt_where() { od -A n -t x1 -j 48 -N 12 "$1"; }   # refcount table offset and clusters
[ "$(rt_where r.qcow2)" != "$(rt_where t.qcow2)" ] || fail "the refcount table did not grow"
qemu-img check -q r.qcow2 || fail "qemu-img check after growing the refcount table"
same r.qcow2 "grown refcount table"
rm -f r.qcow2 t.qcow2
qemu-img convert -c -O qcow2 src.raw r.qcow2
$W r.qcow2 100 5000 3 && $W r.qcow2 65536 65536 4
qemu-img check -q r.qcow2 || fail "qemu-img check after overwriting compressed clusters"
same r.qcow2 "overwritten compressed clusters"

# Left dirty by a crash (lazy refcounts, qemu-io aborted): vdisk check says
# so; a writable open repairs the refcounts (also where whole refcount
# blocks are missing: 512 B clusters) before it writes.
for cs in 64K 512; do
    rm -f d.qcow2
    qemu-img create -q -f qcow2 -o lazy_refcounts=on,cluster_size=$cs d.qcow2 64M
    (ulimit -c 0; qemu-io -c 'write -P 3 0 1M' -c 'write -P 4 20M 300k' -c abort d.qcow2 \
        >/dev/null 2>&1) || true
    rc=0; $V check d.qcow2 >out.txt || rc=$?
    [ $rc = 2 ] && grep "the dirty bit is set" out.txt >/dev/null || fail "check of dirty ($cs)"
    qemu-img convert -O raw d.qcow2 before.raw
    if [ $cs = 64K ]; then   # vdisk check -r repairs it without writing
        $V check -r all d.qcow2 >/dev/null || fail "check -r of dirty ($cs)"
        qemu-img check -q d.qcow2 || fail "qemu-img check after check -r ($cs)"
    fi
    $W d.qcow2 10000000 5000 3
    qemu-img check -q d.qcow2 || fail "qemu-img check after repairing a dirty image ($cs)"
    $V check d.qcow2 >/dev/null || fail "vdisk check after repairing a dirty image ($cs)"
    $V convert -O raw d.qcow2 after.raw
    cmp -n 10000000 before.raw after.raw || fail "repair changed the content ($cs)"
done
rm -f before.raw after.raw d.qcow2

# vdisk convert -O qcow2 (plain and -c) killed mid-copy: the temporary file
# passes both checks (leaks allowed) and every 4 KiB granule reads as the
# source's or as zeros.
head -c $((48 << 20)) /dev/urandom > big.raw  # + text: a size not of whole sectors
python3 -c "import sys; sys.stdout.write('log line\\n' * 2000000)" >> big.raw
for c in "" -c; do
    for delay in 0.05 0.3; do
        rm -f k.qcow2 k.qcow2.vdisk-tmp
        $V convert $c -m 2 -O qcow2 big.raw k.qcow2 & pid=$!
        sleep $delay; kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
        [ -e k.qcow2.vdisk-tmp ] || continue
        rc=0; $V check k.qcow2.vdisk-tmp >/dev/null 2>&1 || rc=$?
        [ $rc = 0 ] || [ $rc = 3 ] || fail "killed convert $c left a damaged qcow2 (exit $rc)"
        rc=0; qemu-img check -q k.qcow2.vdisk-tmp || rc=$?
        [ $rc = 0 ] || [ $rc = 3 ] || fail "qemu-img check after a killed convert $c: rc $rc"
        $V convert -O raw k.qcow2.vdisk-tmp part.raw
        granules_from big.raw part.raw || fail "killed convert $c left wrong data"
        rm -f part.raw
    done
done
rm -f big.raw k.qcow2 k.qcow2.vdisk-tmp

# A writer killed mid-write: consistent for both checks (leaks allowed).
rm -f k.qcow2 log.txt
$V create -f qcow2 -o cluster_size=4K k.qcow2 64M
$W k.qcow2 --loop 65536 7 >log.txt & pid=$!
kill_after_writes $pid log.txt 0.5
rc=0; $V check k.qcow2 >/dev/null 2>&1 || rc=$?
[ $rc = 0 ] || [ $rc = 3 ] || fail "killed writer left a damaged qcow2 (exit $rc)"
rc=0; qemu-img check -q k.qcow2 || rc=$?
[ $rc = 0 ] || [ $rc = 3 ] || fail "qemu-img check after a kill: rc $rc (2: corruption)"
$W k.qcow2 --verify 65536 log.txt || fail "killed writer: content differs from the log"
exit 0
