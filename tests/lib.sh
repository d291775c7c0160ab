# Helpers for integration test scripts (sourced). BIN, SRC, WORK are set by
# tests/run-script.sh.

skip() { echo "SKIP: $*" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
need() { for c in "$@"; do command -v "$c" >/dev/null 2>&1 || skip "needs $c"; done; }

# expect_fail EXIT_CODE PATTERN CMD...: CMD must exit with EXIT_CODE and print
# exactly one line on stderr matching PATTERN.
expect_fail() {
    local want=$1 pattern=$2; shift 2
    local rc=0
    "$@" >"$WORK/out.txt" 2>"$WORK/err.txt" || rc=$?
    [ "$rc" -eq "$want" ] || { cat "$WORK/err.txt" >&2; fail "'$*' exited $rc, wanted $want"; }
    local lines; lines=$(wc -l <"$WORK/err.txt")
    [ "$lines" -eq 1 ] || { cat "$WORK/err.txt" >&2; fail "'$*' printed $lines error lines, wanted 1"; }
    grep -Eq -- "$pattern" "$WORK/err.txt" || { cat "$WORK/err.txt" >&2; fail "'$*': error does not match /$pattern/"; }
}

# Under `set -o pipefail`, `cmd | grep -q X` fails now and then: grep -q
# exits at the first match and cmd, still writing, dies of SIGPIPE (seen on
# `vmm -h | grep -q`). So grep -q here reads all of its input: the quiet
# flag is dropped from the option cluster and the output discarded.
grep() {
    local args=() quiet=false opts=true a
    for a in "$@"; do
        { [ "$a" = -- ] || [[ $a != -* ]]; } && opts=false
        if $opts && ! $quiet && [[ $a =~ ^-[a-zA-Z]*q[a-zA-Z]*$ ]]; then
            quiet=true
            a=${a/q/}
            [ "$a" = - ] && continue
        fi
        args+=("$a")
    done
    if $quiet; then command grep "${args[@]}" >/dev/null; else command grep "${args[@]}"; fi
}

# A bound on how long a guest may take to reach a fast verdict: 10 s in a
# normal build (what the verdict tests promise); a sanitizer build (CI sets
# ASAN_OPTIONS) runs the emulator several times slower, so it gets 60 s.
FAST_VERDICT_TIMEOUT=10
[ -z "${ASAN_OPTIONS:-}" ] || FAST_VERDICT_TIMEOUT=60

# kill_after_writes PID LOG DELAY: kills (SIGKILL) the writer PID, which
# logs a line per write to LOG, DELAY seconds after its first writes,
# however slow a loaded machine is to start it; fails unless it wrote.
kill_after_writes() {
    local pid=$1 log=$2 delay=$3
    for _ in $(seq 1 3000); do
        [ "$(wc -l <"$log")" -gt 3 ] || ! kill -0 "$pid" 2>/dev/null && break
        sleep 0.01
    done
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
    [ "$(wc -l <"$log")" -gt 3 ] || fail "the writer did not get going ($log)"
}

# granules_from SRC PART: PART (a killed copy's output read back as raw) is
# SRC granule by granule (4 KiB) or zeros there; bytes PART has past SRC's
# end (a size rounded up to a sector) are not compared.
granules_from() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import sys
src, part = open(sys.argv[1], "rb"), open(sys.argv[2], "rb")
zero, n = bytes(4096), 0
while True:
    a = src.read(4096)
    if not a:
        break
    b = part.read(4096)[:len(a)]
    if b != a and b != zero[:len(b)]:
        sys.exit("granule %d of %s is neither %s's nor zeros" % (n, sys.argv[2], sys.argv[1]))
    n += 1
PY
}
