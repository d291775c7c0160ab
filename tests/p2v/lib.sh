# Sourced by the p2v tests: server start/stop over loopback and oracles.
source "$SRC/tests/lib.sh"
source "$SRC/tests/p2v/mkdisk.sh"

P2V=$BIN/p2v
SERVER_PIDS=()
cleanup_servers() {
    local p
    for p in "${SERVER_PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${SERVER_PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
}
trap cleanup_servers EXIT

echo "p2vkit-test-token-0123456789" >"$WORK/token"

# The image format the server writes: vhd (the default), or what the test
# asks for (errors.sh covers -O raw).
FMT=${P2V_TEST_FORMAT:-vhd}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server DIR [extra args...]: starts `p2v serve` on a free loopback
# port in the background; sets PORT and SERVER_PID.
start_server() {
    local dir=$1; shift
    mkdir -p "$dir"
    # Port 0 on the first start: the server logs the port it was given, and
    # restarts reuse it (no race with another process picking a free port).
    local want=${PORT:-0} before=0 line
    [ -f "$dir/serve.log" ] && before=$(grep -c 'listening on' "$dir/serve.log" || true)
    "$P2V" serve --listen "127.0.0.1:$want" --dir "$dir" --token-file "$WORK/token" -O "$FMT" "$@" \
        2>>"$WORK/server.err" &
    SERVER_PID=$!
    SERVER_PIDS+=("$SERVER_PID")
    local i
    for i in $(seq 100); do
        line=$(grep 'listening on 127.0.0.1:' "$dir/serve.log" 2>/dev/null | sed -n "$((before + 1))p" || true)
        if [ -n "$line" ]; then
            PORT=$(sed 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/' <<<"$line")
            [ "$want" = 0 ] || [ "$PORT" = "$want" ] || fail "server listens on $PORT, not $want"
            [ "$PORT" != 0 ] || fail "server logged port 0 instead of the port it got"
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err" >&2; fail "server did not start"; }
        sleep 0.05
    done
    fail "server did not start listening within 5 s"
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

# The session file is this test's own (a later --state wins): the default,
# /var/tmp/p2v-capture-NAME.session, is one per host and NAME, which tests
# running at once share.
capture() {
    "$P2V" capture --server "127.0.0.1:$PORT" --token-file "$WORK/token" --retry-for 20 \
        --state "$WORK/capture.session" "$@"
}
# capture_bg ARGS...: the same in the background; AGENT_PID is p2v itself.
capture_bg() {
    "$P2V" capture --server "127.0.0.1:$PORT" --token-file "$WORK/token" --retry-for 20 \
        --state "$WORK/capture.session" "$@" &
    AGENT_PID=$!
}

# to_raw IMAGE OUT: the image's disk content as a raw file, read by an
# independent tool (qemu-img) when it is a VHD.
to_raw() {
    if [ "$FMT" = vhd ]; then
        qemu-img convert -f vpc -O raw "$1" "$2"
    else
        cp --sparse=always "$1" "$2"
    fi
}

# The whole-disk digest as docs/protocol.md defines it, computed here
# independently of p2v: SHA-256(le64 size || leaf of each 1 MiB chunk), a
# leaf being the SHA-256 of the SHA-256s of the chunk's 64 KiB pieces.
disk_digest() {
    python3 - "$1" <<'PY'
import hashlib, os, struct, sys
size = os.path.getsize(sys.argv[1])
h = hashlib.sha256(struct.pack("<Q", size))
with open(sys.argv[1], "rb") as f:
    while True:
        b = f.read(1 << 20)
        if not b:
            break
        pieces = b"".join(hashlib.sha256(b[i:i + (1 << 16)]).digest() for i in range(0, len(b), 1 << 16))
        h.update(hashlib.sha256(pieces).digest())
print(h.hexdigest())
PY
}

# Bytes the image file occupies on the host.
allocated() {
    echo $(( $(stat -c '%b * %B' "$1") ))
}

# part_extract DISK START SECTORS OUT
part_extract() {
    dd if="$1" of="$4" bs=512 skip="$2" count="$3" status=none
}

# zero_unused_itables VOLUME COPY: partclone copies whole inode tables; the
# tail the kernel never reads (dumpe2fs: "N unused inodes") is expected as
# zeros in a capture, so it is zeroed in COPY.
zero_unused_itables() {
    dumpe2fs "$1" 2>/dev/null | python3 -c '
import re, sys
t = sys.stdin.read()
if not re.search(r"Filesystem features:.*(metadata_csum|uninit_bg)", t):
    sys.exit(0)     # without group checksums every inode table is read
bs = int(re.search(r"Block size:\s+(\d+)", t).group(1))
ipg = int(re.search(r"Inodes per group:\s+(\d+)", t).group(1))
isz = int(re.search(r"Inode size:\s+(\d+)", t).group(1))
with open(sys.argv[1], "r+b") as f:
    for g in re.finditer(r"Inode table at (\d+)-(\d+).*?(\d+) unused inodes", t, re.S):
        a, b, unused = map(int, g.groups())
        keep = ((ipg - unused) * isz + bs - 1) // bs
        f.seek((a + keep) * bs)
        f.write(bytes((b - a + 1 - keep) * bs))
' "$2"
}

# FAT from the specification, in Python: partclone.fat 0.3.23 drops most of
# a FAT12 volume's clusters (it loses file data on the very volumes made
# here), so it cannot be the oracle for FAT. Reserved area, FATs and root
# directory, then every cluster whose entry is neither free nor bad.
fat_oracle() {
    python3 - "$1" "$2" <<'PY'
import struct, sys
src = open(sys.argv[1], "rb").read()
b = src[:512]
bps, spc, rsvd, nfats, root = struct.unpack_from("<HBHBH", b, 11)
total = struct.unpack_from("<H", b, 19)[0] or struct.unpack_from("<I", b, 32)[0]
fatsz = struct.unpack_from("<H", b, 22)[0] or struct.unpack_from("<I", b, 36)[0]
data = rsvd + nfats * fatsz + (root * 32 + bps - 1) // bps
clusters = (total - data) // spc
bits = 12 if clusters < 4085 else 16 if clusters < 65525 else 32
fat = src[rsvd * bps:(rsvd + fatsz) * bps]
def entry(c):
    if bits == 12:
        v = struct.unpack_from("<H", fat, c * 3 // 2)[0]
        return v >> 4 if c & 1 else v & 0xFFF
    if bits == 16:
        return struct.unpack_from("<H", fat, 2 * c)[0]
    return struct.unpack_from("<I", fat, 4 * c)[0] & 0x0FFFFFFF
bad = {12: 0xFF7, 16: 0xFFF7, 32: 0x0FFFFFF7}[bits]
out = bytearray(len(src))
out[:data * bps] = src[:data * bps]
cs = spc * bps
for c in range(2, clusters + 2):
    if entry(c) not in (0, bad):
        o = data * bps + (c - 2) * cs
        out[o:o + cs] = src[o:o + cs]
tail = data * bps + clusters * cs
out[tail:] = src[tail:]
open(sys.argv[2], "wb").write(out)
PY
}

# expected_disk SRC OUT: what a capture of SRC must produce, built with the
# filesystems' own tools: each volume as ntfsclone/partclone copy it (used
# blocks only, zeros elsewhere), everything outside the volumes as it is.
expected_disk() {
    local src=$1 out=$2 t=$WORK/expect.$$
    mkdir -p "$t"
    cp "$src" "$out"
    part_extract "$src" $P1_START $P1_SECTORS "$t/p1"
    ntfsclone -q --overwrite "$t/p1.ref" "$t/p1" >/dev/null 2>&1
    part_extract "$src" $P2_START $P2_SECTORS "$t/p2"
    truncate -s $((P2_SECTORS * 512)) "$t/p2.ref"
    partclone.fat32 -q -b -O "$t/p2.ref" -s "$t/p2" -L "$t/pc.log" >/dev/null 2>&1
    part_extract "$src" $P5_START $P5_SECTORS "$t/p5"
    truncate -s $((P5_SECTORS * 512)) "$t/p5.ref"
    partclone.extfs -q -b -O "$t/p5.ref" -s "$t/p5" -L "$t/pc.log" >/dev/null 2>&1
    zero_unused_itables "$t/p5" "$t/p5.ref"
    dd if="$t/p1.ref" of="$out" bs=512 seek=$P1_START conv=notrunc status=none
    dd if="$t/p2.ref" of="$out" bs=512 seek=$P2_START conv=notrunc status=none
    dd if="$t/p5.ref" of="$out" bs=512 seek=$P5_START conv=notrunc status=none
    rm -rf "$t"
}

# check_files IMAGE: every file of $WORK/files, read back from each volume
# of the captured (raw) IMAGE with the filesystem's own tools.
check_files() {
    local img=$1 t=$WORK/files.$$ f name
    mkdir -p "$t"
    part_extract "$img" $P1_START $P1_SECTORS "$t/p1"
    part_extract "$img" $P2_START $P2_SECTORS "$t/p2"
    part_extract "$img" $P5_START $P5_SECTORS "$t/p5"
    for f in "$WORK"/files/*; do
        name=$(basename "$f")
        ntfscat -f "$t/p1" "/$name" >"$t/out" 2>/dev/null || fail "ntfscat $name failed"
        cmp -s "$f" "$t/out" || fail "NTFS: $name differs"
        MTOOLS_SKIP_CHECK=1 mcopy -n -i "$t/p2" "::/$name" "$t/out" || fail "mcopy $name failed"
        cmp -s "$f" "$t/out" || fail "FAT32: $name differs"
        rm -f "$t/out"
        debugfs -R "dump /$name $t/out" "$t/p5" >/dev/null 2>&1
        cmp -s "$f" "$t/out" || fail "ext4: $name differs"
    done
    rm -rf "$t"
}
