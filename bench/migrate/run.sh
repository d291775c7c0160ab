#!/usr/bin/env bash
# p2v migrate end to end on the generated 1 GiB Windows Server 2003 image
# (the drivers-inject bench's: RAID boot driver, IDE drivers only in
# driver.cab, dirty Setup flag, stale MountedDevices) to Hyper-V (VHDX),
# without the boot check: inspect, repair into an overlay, convert, define,
# report. With ANCHOR=1 and virt-v2v installed, `virt-v2v -i disk -o local`
# on an identical image for comparison (minutes under TCG). The issue's bar:
# migrate takes less time than virt-v2v. Wall times; record them in
# docs/BENCHMARKS.md with the machine and its load.
# Usage: bench/migrate/run.sh [BUILD_DIR]
set -eu -o pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-migrate.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
source "$SRC/tests/lib.sh"
source "$SRC/tests/drivers-inject/guest.sh"
BIN=$BUILD/bin

t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
make_guest disk.img w2k3 cab dirty stale size=1024
echo "p2v migrate --to hyperv --no-verify: $(t "$BIN/p2v" migrate --to hyperv --no-verify --disk disk.img -o hv) s"
echo "  steps: $(python3 -c 'import json,sys; print(", ".join("%s %.2f s" % (s["name"], s.get("seconds") or 0) for s in json.load(open(sys.argv[1]))["steps"]))' hv/report.json)"
if [ "${ANCHOR:-0}" = 1 ] && command -v virt-v2v >/dev/null; then
    make_guest anchor.img w2k3 cab dirty stale size=1024
    mkdir out
    export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
    echo "virt-v2v -i disk -o local: $(t virt-v2v -i disk anchor.img -o local -os out -of raw) s"
fi
