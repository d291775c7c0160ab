# Helpers for the p2v migrate tests (sourced after tests/lib.sh).
source "$SRC/tests/p2v/lib.sh"                  # start_server, capture
source "$SRC/tests/platform/lib-platform.sh"    # guest (cached build)

# capture_sample NAME: the platform tests' 32-bit Linux disk captured by
# p2v capture -> p2v serve --once over loopback into $WORK/srv/NAME; sets
# SAMPLE_DIR and MARKER.
capture_sample() {
    local g; g=$(guest linux)
    MARKER=$(cat "$g/marker.txt")
    start_server "$WORK/srv" --once
    capture --name "$1" --disk "$g/linux.raw" --compress zstd >/dev/null
    local rc=0
    wait "$SERVER_PID" || rc=$?
    [ "$rc" -eq 0 ] || { cat "$WORK/server.err" >&2; fail "p2v serve --once exited $rc"; }
    SAMPLE_DIR=$WORK/srv/$1
    [ -f "$SAMPLE_DIR/manifest.xml" ] || fail "no capture in $SAMPLE_DIR"
}

# tree_sum DIR: SHA-256 of every file of DIR, to prove it unchanged.
tree_sum() { (cd "$1" && find . -type f ! -name serve.log -print0 | sort -z | xargs -0 sha256sum); }

# json EXPR FILE: a value of a JSON file (python3: an independent reader).
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[2])); print(eval(sys.argv[1], {"d": d}))' "$1" "$2"; }
