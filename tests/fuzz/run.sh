#!/usr/bin/env bash
# Runs every libFuzzer harness of a P2V_FUZZ build briefly on its seed
# corpus: run.sh BUILD_DIR SECONDS. A harness fuzz_X gets its seeds from
# tests/fuzz/seeds-X.sh when that script exists (given vdisk and a folder),
# and extra libFuzzer flags from tests/fuzz/fuzz_X.options (one per line).
# The mutation seed is fixed (FUZZ_SEED, default 1) so that CI explores the
# same inputs every run and a red run reproduces; for a longer random
# search, run it by hand with FUZZ_SEED=0 (random) and more seconds.
set -eu
build=$(cd "$1" && pwd) seconds=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
corpus_root=$(mktemp -d "${TMPDIR:-/tmp}/p2vkit-fuzz.XXXXXX")
trap 'rm -rf "$corpus_root"' EXIT
status=0
for harness in "$build"/fuzz/fuzz_*; do
    [ -x "$harness" ] || continue
    name=$(basename "$harness"); name=${name#fuzz_}
    corpus=$corpus_root/$name
    mkdir -p "$corpus"
    if [ -x "$here/seeds-$name.sh" ]; then
        "$here/seeds-$name.sh" "$build/bin/vdisk" "$corpus"
    fi
    extra=()
    [ -f "$here/fuzz_$name.options" ] && mapfile -t extra <"$here/fuzz_$name.options"
    echo "fuzz_$name: $(ls "$corpus" | wc -l) seeds, ${seconds}s ${extra[*]}"
    ASAN_OPTIONS=detect_leaks=1 "$harness" -seed="${FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=1024 -print_final_stats=0 "${extra[@]}" "$corpus" >"$corpus_root/$name.log" 2>&1 || {
        tail -40 "$corpus_root/$name.log" >&2
        echo "fuzz_$name found a problem" >&2
        status=1
    }
done
exit $status
