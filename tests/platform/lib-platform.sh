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
