#!/usr/bin/env bash
# p2v capture speed against the anchors, in one run, over loopback.
#   bench/p2v/run.sh P2V_BINARY [WORKDIR] [ROUNDS]
# Builds a 4 GiB MBR disk with one NTFS volume about 54 % in use (ELF
# binaries, IIS-style logs, random data, small files), "fresh" (free space
# zeros) and "aged" (free space full of old random data), then times:
#   ours      p2v capture -> p2v serve (-O vhd, or raw when vhd is missing)
#   ours+zstd the same with --compress zstd (bytes on the wire)
#   ours-nodig the same with --digest none (chunk checksums only)
#   nbd-ext   nbdkit file + extentlist (the volume's used extents from
#             partclone.ntfs -D) -> qemu-img convert -O vpc: the virt-p2v
#             pipeline made as good as it gets
#   nbdcopy   the same nbdkit export -> nbdcopy to null: (transport only)
#   ntfsclone ntfsclone --save-image of the volume
# Medians of ROUNDS (default 3); the 1-minute load average is recorded
# before and after every round ("KIND load N"). Needs root (losetup for ntfsclone/mkntfs).
# The disks are built in WORKDIR, then copied (sparse) to OUT (tmpfs,
# default /dev/shm/p2v-bench-out) where every tool reads them and writes
# its output: on a shared machine the page cache does not hold a 4 GiB file,
# and shared/reference/capture.md also wrote to tmpfs (p2v's fsyncs then
# cost what the anchors' unsynced writes cost).
# IMAGES=DIR puts the images the tools write in DIR instead of OUT: a
# directory on a disk measures what a conversion host does (ntfsclone and
# p2v make their images durable before they exit; qemu-img convert's
# default cache mode, unsafe, never syncs). Every timed run starts after
# a sync, so that no tool pays for another's write-back.
set -eu
P2V=$(realpath "$1")
W=${2:-/tmp/p2v-bench}
ROUNDS=${3:-3}
OUT=${OUT:-/dev/shm/p2v-bench-out}
IMAGES=${IMAGES:-$OUT}
mkdir -p "$W" "$OUT" "$IMAGES"
IMAGES=$(realpath "$IMAGES")
IMAGES_FS=$(stat -f -c %T "$IMAGES")
cd "$W"
DISK_BYTES=$((4 << 30))
P_START=2048
P_SECTORS=$((DISK_BYTES / 512 - P_START))
echo "p2vtoken-bench-0123456789" >token

LOOP=
cleanup() {
    [ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null || true
    jobs -p | xargs -r kill 2>/dev/null || true
}
trap cleanup EXIT

make_content() {
    [ -d content ] && return
    mkdir -p content/small
    # ~700 MiB of real ELF code and data
    find /usr/lib /usr/bin /usr/libexec -type f -size +100k 2>/dev/null | sort |
        xargs cat 2>/dev/null | head -c $((700 << 20)) >content/elf.bin
    python3 - content/iis.log <<'PY'
import random, sys
r = random.Random(1)
paths = ["/index.html", "/default.aspx", "/images/logo.gif", "/scripts/app.js", "/api/orders"]
with open(sys.argv[1], "w") as f:
    n = 0
    while n < 600 << 20:
        line = "2004-%02d-%02d %02d:%02d:%02d 10.0.%d.%d GET %s - 80 - 192.168.%d.%d Mozilla/4.0+(compatible;+MSIE+6.0) %d 0 0 %d\n" % (
            r.randint(1, 12), r.randint(1, 28), r.randint(0, 23), r.randint(0, 59), r.randint(0, 59),
            r.randint(0, 9), r.randint(1, 254), r.choice(paths), r.randint(0, 255), r.randint(1, 254),
            r.choice([200, 200, 200, 304, 404]), r.randint(100, 90000))
        f.write(line)
        n += len(line)
PY
    head -c $((900 << 20)) /dev/urandom >content/random.bin
    for i in $(seq 500); do head -c $((i * 7 % 3000 + 100)) /dev/urandom >content/small/f$i; done
}

# make_disk NAME fresh|aged
make_disk() {
    local img=$1.img
    [ -f "$img" ] && return
    if [ "$2" = aged ]; then
        head -c $DISK_BYTES /dev/urandom >"$img.tmp"
    else
        truncate -s $DISK_BYTES "$img.tmp"
    fi
    printf 'label: dos\nlabel-id: 0x2003beef\nstart=%d, size=%d, type=7, bootable\n' $P_START $P_SECTORS |
        sfdisk -q "$img.tmp"
    LOOP=$(losetup -f --show -o $((P_START * 512)) --sizelimit $((P_SECTORS * 512)) "$img.tmp")
    mkntfs -q -F -Q -p $P_START -H 255 -S 63 "$LOOP" >/dev/null
    for f in content/elf.bin content/iis.log content/random.bin; do
        ntfscp -q -f "$LOOP" "$f" "/$(basename "$f")" >/dev/null
    done
    for f in content/small/*; do ntfscp -q -f "$LOOP" "$f" "/$(basename "$f")" >/dev/null; done
    losetup -d "$LOOP"
    LOOP=
    mv "$img.tmp" "$img"
}

# The volume's used extents, read by partclone (not by p2v), as an
# nbdkit extent list for the whole disk: the first MiB, then the volume.
make_extents() {
    local img=$1.img
    [ -f "$1.extents" ] && return
    LOOP=$(losetup -r -f --show -o $((P_START * 512)) --sizelimit $((P_SECTORS * 512)) "$img")
    partclone.ntfs -D -s "$LOOP" -o "$1.domain" -L /dev/null >/dev/null 2>&1
    losetup -d "$LOOP"
    LOOP=
    { echo "0 $((P_START * 512))"
      awk -v base=$((P_START * 512)) '$3 == "+" { printf "%d %d\n", base + strtonum($1), strtonum($2) }' "$1.domain"
    } >"$1.extents"
    awk '{ s += $2 } END { print s }' "$1.extents" >"$1.used"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# time_cmd OUT CMD...: wall, user+sys seconds of CMD into OUT ("wall cpu").
time_cmd() {
    local out=$1; shift
    sync
    /usr/bin/time -f "%e %U %S" -o "$out.t" "$@" >/dev/null 2>"$out.err" || { cat "$out.err" >&2; return 1; }
    awk '{ print $1, $2 + $3 }' "$out.t" >"$out"
}

FMT=vhd
"$P2V" serve --listen 127.0.0.1:1 --dir /nonexistent -O vhd --token-file "$W/token" 2>&1 | grep -q "not in this build" && FMT=raw

# ours NAME [capture args]: wall and CPU (agent + server), image size, wire bytes.
ours() {
    local name=$1; shift
    local port; port=$(free_port)
    rm -rf "$IMAGES/out" && mkdir "$IMAGES/out"
    /usr/bin/time -f "%U %S" -o srv.t "$P2V" serve --listen 127.0.0.1:$port --dir "$IMAGES/out" --token-file "$W/token" \
        -O $FMT --once 2>/dev/null &
    local srv=$!
    for _ in $(seq 100); do grep -q listening "$IMAGES/out/serve.log" 2>/dev/null && break; sleep 0.05; done
    time_cmd agent.r "$P2V" capture --server 127.0.0.1:$port --token-file "$W/token" --name b --disk "$name.img" \
        --state "$OUT/b.session" -p "$@"
    wait $srv
    local wire; wire=$(grep -o 'wire [0-9]*' agent.r.err | tail -1 | awk '{ print $2 }')
    echo "$(cat agent.r) $(awk '{ print $1 + $2 }' srv.t) $(stat -c %s "$IMAGES/out/b/disk0.$FMT") ${wire:-0}"
}

# nbd_run NAME OUT CMD...: CMD against a fresh nbdkit export of NAME with
# its used extents; OUT gets "wall cpu" with nbdkit's CPU added.
nbd_run() {
    local name=$1 out=$2; shift 2
    local port; port=$(free_port)
    rm -f nbdkit.pid
    /usr/bin/time -f "%U %S" -o nbdkit.t nbdkit -r -f -P nbdkit.pid -i 127.0.0.1 -p $port \
        --filter=extentlist file "$name.img" extentlist="$OUT/$name.extents" &
    local t=$!
    for _ in $(seq 100); do nbdinfo --size nbd://127.0.0.1:$port >/dev/null 2>&1 && break; sleep 0.05; done
    local cmd=() a
    for a in "$@"; do cmd+=("${a//@URI@/nbd://127.0.0.1:$port}"); done
    time_cmd "$out" "${cmd[@]}"
    kill "$(cat nbdkit.pid)"
    wait $t 2>/dev/null || true
    awk -v extra="$(awk '{ print $1 + $2 }' nbdkit.t | tail -1)" '{ print $1, $2 + extra }' "$out" >"$out.x"
    mv "$out.x" "$out"
}

anchor_nbd() {
    local name=$1
    rm -f "$IMAGES/anchor.vhd"
    nbd_run "$name" anchor.r qemu-img convert -f raw -O vpc @URI@ "$IMAGES/anchor.vhd"
    nbd_run "$name" copy.r nbdcopy @URI@ null:
    echo "$(cat anchor.r) $(stat -c %s "$IMAGES/anchor.vhd") $(cat copy.r)"
    rm -f "$IMAGES/anchor.vhd"
}

# The aged disk without the extent list: what qemu-img's zero detection
# alone makes of stale free space (size only).
anchor_zero_detect() {
    rm -f "$OUT/zd.vhd"
    qemu-img convert -f raw -O vpc "$1.img" "$OUT/zd.vhd"
    stat -c %s "$OUT/zd.vhd"
    rm -f "$OUT/zd.vhd"
}

anchor_ntfsclone() {
    local name=$1
    LOOP=$(losetup -r -f --show -o $((P_START * 512)) --sizelimit $((P_SECTORS * 512)) "$name.img")
    rm -f "$IMAGES/clone.img"
    time_cmd clone.r ntfsclone -q --save-image -O "$IMAGES/clone.img" "$LOOP"
    losetup -d "$LOOP"
    LOOP=
    echo "$(cat clone.r) $(stat -c %s "$IMAGES/clone.img")"
    rm -f "$IMAGES/clone.img"
}

make_content
for kind in fresh aged; do make_disk $kind $kind; make_extents $kind; done
for kind in fresh aged; do
    cp --sparse=always $kind.img "$OUT/$kind.img"
    cp $kind.extents $kind.used "$OUT/"
done
cd "$OUT"

rm -f "$W/results.txt"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for kind in fresh aged; do
    used=$(cat $kind.used)
    for r in $(seq "$ROUNDS"); do
        echo "$kind load $(cut -d' ' -f1 /proc/loadavg)" >>"$W/results.txt"
        echo "$kind ours $(ours $kind)" >>"$W/results.txt"
        echo "$kind zstd $(ours $kind --compress zstd)" >>"$W/results.txt"
        echo "$kind nodig $(ours $kind --digest none)" >>"$W/results.txt"
        echo "$kind nbd $(anchor_nbd $kind)" >>"$W/results.txt"
        echo "$kind ntfsclone $(anchor_ntfsclone $kind)" >>"$W/results.txt"
        echo "$kind load $(cut -d' ' -f1 /proc/loadavg)" >>"$W/results.txt"
    done
    echo "$kind used $used" >>"$W/results.txt"
    echo "$kind qemu-img-zero-detect-only $(anchor_zero_detect $kind)" >>"$W/results.txt"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
cd "$W"
rm -rf "$OUT" "$IMAGES/out"
echo "all images $IMAGES $IMAGES_FS" >>results.txt
cat results.txt
