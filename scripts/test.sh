#!/usr/bin/env bash
# Installs what the tests need, then builds and runs every test twice: a
# normal build, and one with AddressSanitizer + UndefinedBehaviorSanitizer.
# Both builds treat warnings as errors.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/install-deps.sh
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DP2V_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"
cmake -S . -B build-san -DCMAKE_BUILD_TYPE=Debug -DP2V_WERROR=ON \
      -DP2V_SANITIZE=address,undefined -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build build-san -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-san --output-on-failure -j"$jobs" -LE no-sanitize
# Fuzzing: every libFuzzer harness in tests/fuzz, 20 s each (28 of them), on a seed corpus
# made at run time (tests/fuzz/run.sh).
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DP2V_WERROR=ON -DP2V_FUZZ=ON \
      -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz vdisk
tests/fuzz/run.sh build-fuzz 20
