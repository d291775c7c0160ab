# Helpers for the platform tests (sourced after tests/lib.sh): guests are
# built once per build tree into $BUILD/tests/platform/guests, under a
# lock so that tests running in parallel share them.
GUESTS=$BUILD/tests/platform/guests

# guest KIND: builds (once) the guests of build-KIND.sh and prints their dir;
# a changed build script builds them again.
guest() {
    local kind=$1 dir=$GUESTS/$1 stamp
    stamp=$(sha256sum <"$SRC/tests/platform/guests/build-$kind.sh")
    mkdir -p "$GUESTS"
    (
        flock 9
        if [ "$(cat "$dir/.done" 2>/dev/null)" != "$stamp" ]; then
            rm -rf "$dir.tmp"
            rc=0
            "$SRC/tests/platform/guests/build-$kind.sh" "$dir.tmp" >&2 || rc=$?
            [ "$rc" -eq 0 ] || exit "$rc"
            rm -rf "$dir"
            mv "$dir.tmp" "$dir"
            echo "$stamp" >"$dir/.done"
        fi
    ) 9>"$GUESTS/.lock-$kind" || exit $?
    echo "$dir"
}

# check_verdict WANT_RC WANT_REGEX vmm-args...: runs vmm --check and
# compares the exit status and the verdict line.
check_verdict() {
    local want_rc=$1 want=$2; shift 2
    local rc=0
    "$BIN/vmm" --check "$@" >verdict.txt 2>stderr.txt || rc=$?
    cat verdict.txt
    [ "$rc" -eq "$want_rc" ] || { cat stderr.txt >&2; fail "vmm exited $rc, wanted $want_rc"; }
    [ "$(wc -l <verdict.txt)" -eq 1 ] || fail "wanted exactly one verdict line"
    grep -Eq -- "^verdict: $want" verdict.txt || fail "verdict does not match /^verdict: $want/"
}

# The network guest (guests/build-linux-net.sh) under vmm started in the
# background as VMM_PID, its COM1 in serial.txt, --check's verdict in
# verdict.txt and its stderr in stderr.txt.
# net_wait_listen VMM_PID: waits until the guest listens on its port 80.
net_wait_listen() {
    local _
    for _ in $(seq 240); do
        grep -q -e VMM-NET-LISTEN -e VMM-NET-DONE serial.txt 2>/dev/null && break
        kill -0 "$1" 2>/dev/null || break
        sleep 1
    done
    grep -q VMM-NET-LISTEN serial.txt || { wait "$1" || true; cat serial.txt stderr.txt >&2; fail "the guest never listened"; }
}
# net_ask_guest HOST PORT: the guest's answer to the host's request there,
# on standard output.
net_ask_guest() {
    python3 - "$1" "$2" <<'PY' || fail "the host could not connect to $1:$2 (the guest's port 80)"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
s.sendall(b"GET /from-host HTTP/1.0\r\n\r\n")
data = b""
while b"GUEST-PAYLOAD" not in data:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
s.close()
sys.stdout.write(data.decode(errors="replace"))
PY
}
# net_wait_poweroff VMM_PID: vmm must end with the guest powered off; its
# COM1 output is then in log.txt.
net_wait_poweroff() {
    local rc=0
    wait "$1" || rc=$?
    cat verdict.txt
    tr -d '\r' <serial.txt >log.txt
    [ "$rc" -eq 0 ] || { cat log.txt stderr.txt >&2; fail "vmm exited $rc"; }
    grep -q '^verdict: booted guest powered off cleanly' verdict.txt || fail "unexpected verdict"
}
