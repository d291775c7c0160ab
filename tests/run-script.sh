#!/usr/bin/env bash
# Runs one integration test script in a fresh scratch directory ($WORK),
# removed afterwards unless KEEP_WORK=1. Exit 77 means skipped.
set -u
script=$1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/p2vkit-${TESTNAME:-test}.XXXXXX")
export WORK
cd "$WORK" || exit 1
bash -eu -o pipefail "$script"
rc=$?
if [ "${KEEP_WORK:-0}" = 1 ] || [ $rc -ne 0 -a $rc -ne 77 ]; then
    echo "scratch directory kept: $WORK" >&2
else
    rm -rf "$WORK"
fi
exit $rc
