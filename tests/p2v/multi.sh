# Two agents at once; a machine with two disks (an MBR disk and an
# unpartitioned FAT12 floppy image); unreadable sectors (test-only fault
# injection, docs/p2v.md) listed in the manifest while the capture goes on;
# TLS 1.3 with a pinned certificate.
source "$SRC/tests/p2v/lib.sh"
need mkntfs ntfscp ntfsls ntfstruncate mkfs.fat mcopy mdel mkfs.ext4 debugfs sfdisk python3 \
     openssl xmllint partclone.fat32 partclone.extfs ntfsclone dumpe2fs
[ "$FMT" = raw ] || need qemu-img

make_disk "$WORK/src.img" aged
# Data in the gap before the first partition, which is always read in full.
head -c $((11 * 512)) /dev/urandom | dd of="$WORK/src.img" bs=512 seek=100 conv=notrunc status=none
mkfs.fat -C "$WORK/floppy.img" 2880 >/dev/null   # FAT12, 2.88 MB: a last chunk shorter than 1 MiB
MTOOLS_SKIP_CHECK=1 mcopy -i "$WORK/floppy.img" "$WORK/files/log.txt" ::/LOG.TXT
start_server "$WORK/out"

# 1. Two agents at once (rate-limited so that they overlap).
capture_bg --name one --disk "$WORK/src.img" --state "$WORK/one.session" --rate 15
a1=$AGENT_PID
capture_bg --name two --disk "$WORK/src.img" --disk "$WORK/floppy.img" --state "$WORK/two.session" --rate 15
a2=$AGENT_PID
wait $a1 || fail "agent one failed"
wait $a2 || fail "agent two failed"
python3 - "$WORK/out/serve.log" <<'PY' || fail "the two captures did not overlap"
import sys
lines = open(sys.argv[1]).read().splitlines()
auth = [i for i, l in enumerate(lines) if "agent authenticated" in l and ("[one]" in l or "[two]" in l)]
done = [i for i, l in enumerate(lines) if "capture complete" in l and ("[one]" in l or "[two]" in l)]
sys.exit(0 if len(auth) >= 2 and len(done) == 2 and max(auth[:2]) < min(done) else 1)
PY
expected_disk "$WORK/src.img" "$WORK/expect.raw"
for n in one two; do
    to_raw "$WORK/out/$n/disk0.$FMT" "$WORK/$n.raw"
    cmp "$WORK/expect.raw" "$WORK/$n.raw" || fail "$n: disk 0 differs"
done
# The second disk of "two": an unpartitioned FAT12 volume.
to_raw "$WORK/out/two/disk1.$FMT" "$WORK/floppy.raw"
MTOOLS_SKIP_CHECK=1 mcopy -n -i "$WORK/floppy.raw" ::/LOG.TXT "$WORK/log.out"
cmp "$WORK/files/log.txt" "$WORK/log.out" || fail "floppy: file differs"
fat_oracle "$WORK/floppy.img" "$WORK/floppy.ref"
cmp "$WORK/floppy.ref" "$WORK/floppy.raw" || fail "floppy: used blocks differ"
grep -q 'index="1" source="[^"]*floppy.img"' "$WORK/out/two/manifest.xml" || fail "disk 1 not in the manifest"
# Both disks' digests (the floppy's with its short last chunk) as the
# test computes them from the images read back by qemu-img.
for f in two.raw floppy.raw; do
    want=$(disk_digest "$WORK/$f")
    grep -q "sha256=\"$want\" digest=\"sha256\" verified=\"true\"" "$WORK/out/two/manifest.xml" || fail "$f: manifest digest is not $want"
done
grep -q 'scheme="none" filesystem="fat12"' "$WORK/out/two/manifest.xml" || fail "floppy not recognised as FAT12"
xmllint --noout --schema "$SRC/docs/manifest.xsd" "$WORK/out/two/manifest.xml" 2>/dev/null ||
    fail "manifest of two does not validate"

# A block device (a read-only loop device over the source) is captured the
# same way as the file, and described as a device.
if loopdev=$(losetup -r -f --show "$WORK/src.img" 2>/dev/null); then
    trap 'losetup -d "$loopdev" 2>/dev/null || true; cleanup_servers' EXIT
    capture --name dev --disk "$loopdev" --state "$WORK/dev.session"
    losetup -d "$loopdev"
    to_raw "$WORK/out/dev/disk0.$FMT" "$WORK/dev.raw"
    cmp "$WORK/expect.raw" "$WORK/dev.raw" || fail "capture of $loopdev differs"
    grep -q 'kind="device"' "$WORK/out/dev/manifest.xml" || fail "$loopdev not described as a device"
else
    echo "no loop device here: block device capture not exercised" >&2
fi

# 2. Unreadable sectors: retried, listed, sent as zeros; the capture goes on.
P2V_TEST_BAD_SECTORS=100-103,2049,69700 capture --name bad --disk "$WORK/src.img" --state "$WORK/bad.session"
m=$WORK/out/bad/manifest.xml
xmllint --noout --schema "$SRC/docs/manifest.xsd" "$m" 2>/dev/null || fail "manifest of bad does not validate"
grep -q '<bad-sectors count="6">' "$m" || fail "bad sector count"
for r in 'first="100" count="4"' 'first="2049" count="1"' 'first="69700" count="1"'; do
    grep -q "<range $r/>" "$m" || fail "bad sector range $r not listed"
done
grep -q 'verified="true"' "$m" || fail "capture with bad sectors not verified"
for s in 100 101 102 103 2049 69700; do
    dd if=/dev/zero of="$WORK/expect.raw" bs=512 seek=$s count=1 conv=notrunc status=none
done
to_raw "$WORK/out/bad/disk0.$FMT" "$WORK/bad.raw"
cmp "$WORK/expect.raw" "$WORK/bad.raw" || fail "capture with bad sectors differs from the source with those sectors zeroed"
stop_server

# 3. TLS 1.3 with a pinned server certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
pin=$(openssl x509 -in "$WORK/cert.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
PORT=     # a new server: port 0, the one it gets is read from its log
start_server "$WORK/tls" --tls --cert "$WORK/cert.pem" --key "$WORK/key.pem"
capture --name pinned --disk "$WORK/floppy.img" --state "$WORK/p.session" --tls --server-cert-sha256 "$pin"
capture --name ca --disk "$WORK/floppy.img" --state "$WORK/ca.session" --tls --ca "$WORK/cert.pem"
for n in pinned ca; do
    to_raw "$WORK/tls/$n/disk0.$FMT" "$WORK/$n.raw"
    cmp "$WORK/floppy.ref" "$WORK/$n.raw" || fail "TLS capture $n differs"
done
expect_fail 1 "does not match the pinned SHA-256" \
    "$P2V" capture --server "127.0.0.1:$PORT" --token-file "$WORK/token" --name w --disk "$WORK/floppy.img" \
    --state "$WORK/w.session" --retry-for 0 --tls --server-cert-sha256 "$(printf '%064d' 0)"
expect_fail 1 "no answer to HELLO \\(a TLS server\\? then --tls\\)" \
    "$P2V" capture --server "127.0.0.1:$PORT" --token-file "$WORK/token" --name plain --disk "$WORK/floppy.img" \
    --state "$WORK/pl.session" --retry-for 0
grep -q "TLS handshake failed" "$WORK/tls/serve.log" || fail "plain agent on the TLS port not logged"
stop_server
echo ok
