#!/usr/bin/env bash
# Two p2v builds and ntfsclone, interleaved round by round on the fresh
# disk that bench/p2v/run.sh built, so that a change is measured against
# the code before it at the same moment of a host whose speed drifts.
#   bench/p2v/ab.sh P2V_BEFORE P2V_AFTER [WORKDIR] [ROUNDS]
# Prints one line per round: wall and CPU seconds (agent, server) of each
# p2v (default mode, VHD), wall and CPU of ntfsclone --save-image.
# COLD=1: the source is read from WORKDIR's own disk with the page cache
# dropped before every run (root), instead of from tmpfs; extra capture
# arguments can come in CAPTURE_ARGS (e.g. "--digest none"). IMAGES=DIR:
# the images are written to DIR (e.g. on a disk) instead of tmpfs; every
# run starts after a sync.
set -eu
A=$(realpath "$1")
B=$(realpath "$2")
W=$(realpath "${3:-/tmp/p2v-bench}")
ROUNDS=${4:-5}
OUT=${OUT:-/dev/shm/p2v-bench-ab}
[ -f "$W/fresh.img" ] || { echo "ab.sh: run bench/p2v/run.sh first (no $W/fresh.img)" >&2; exit 1; }
IMAGES=${IMAGES:-$OUT}
mkdir -p "$OUT" "$IMAGES"
IMAGES=$(realpath "$IMAGES")
cd "$OUT"
if [ "${COLD:-0}" = 1 ]; then
    ln -sf "$W/fresh.img" fresh.img
else
    cp --sparse=always "$W/fresh.img" fresh.img
fi
cold() { sync; [ "${COLD:-0}" = 1 ] && echo 3 >/proc/sys/vm/drop_caches || true; }
LOOP=
trap '[ -n "$LOOP" ] && losetup -d "$LOOP"; rm -rf "$OUT" "$IMAGES/out" "$IMAGES/clone.img"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# capture P2V: "wall agent-cpu server-cpu"
capture() {
    local port; port=$(free_port)
    rm -rf "$IMAGES/out" b.session && mkdir "$IMAGES/out"
    /usr/bin/time -f "%U %S" -o srv.t "$1" serve --listen 127.0.0.1:$port --dir "$IMAGES/out" \
        --token-file "$W/token" -O vhd --once 2>/dev/null &
    local srv=$!
    for _ in $(seq 100); do grep -q listening "$IMAGES/out/serve.log" 2>/dev/null && break; sleep 0.05; done
    cold
    # shellcheck disable=SC2086
    /usr/bin/time -f "%e %U %S" -o agent.t "$1" capture --server 127.0.0.1:$port \
        --token-file "$W/token" --name b --disk fresh.img --state b.session ${CAPTURE_ARGS:-} >/dev/null 2>&1
    wait $srv
    echo "$(awk '{ print $1, $2 + $3 }' agent.t) $(awk '{ print $1 + $2 }' srv.t)"
}

ntfsclone_run() {
    LOOP=$(losetup -r -f --show -o $((2048 * 512)) --sizelimit $(((4 << 30) - 2048 * 512)) fresh.img)
    rm -f "$IMAGES/clone.img"
    cold
    /usr/bin/time -f "%e %U %S" -o clone.t ntfsclone -q --save-image -O "$IMAGES/clone.img" "$LOOP" >/dev/null 2>&1
    losetup -d "$LOOP"
    LOOP=
    rm -f "$IMAGES/clone.img"
    awk '{ print $1, $2 + $3 }' clone.t
}

echo "round | before: wall agent server | after: wall agent server | ntfsclone: wall cpu"
for r in $(seq "$ROUNDS"); do
    echo "$r | $(capture "$A") | $(capture "$B") | $(ntfsclone_run)"
done
