#!/usr/bin/env bash
# Builds the p2v live media (docs/live.md): installs what is needed,
# configures build/ if it is not yet, and runs the p2v-live target, which
# writes build/live/p2v-live.iso (CD, or USB stick with dd) and
# build/live/pxe/ (for a TFTP server) from Debian i386 packages.
# Exit status: 0 built, non-zero otherwise.
set -eu -o pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/install-deps.sh
[ -f build/CMakeCache.txt ] || cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target p2v-live
