#!/usr/bin/env bash
# The issue's comparison: the generated 1 GiB Windows Server 2003 image
# (the drivers-inject bench's: RAID boot driver, IDE drivers only in
# driver.cab, dirty Setup flag, stale MountedDevices) migrated to Hyper-V
# end to end without the boot check (p2v migrate --to hyperv --no-verify:
# inspect, repair into an overlay, convert to VHDX, define, report),
# against `virt-v2v -i disk -o local` on the same image (its libguestfs
# appliance under TCG unless LIBGUESTFS_BACKEND_SETTINGS says otherwise;
# it does not repair this guest for IDE, so its result does not boot).
# Each run is timed by /usr/bin/time; the image is checked unchanged
# after both. The issue's bar: p2v migrate takes less wall time than
# virt-v2v. Figures go to docs/BENCHMARKS.md with the machine and its load.
# Usage: bench/migrate/run.sh [BUILD_DIR]     (RUNS=N repeats each run)
set -eu -o pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-migrate.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
source "$SRC/tests/lib.sh"
source "$SRC/tests/drivers-inject/guest.sh"
BIN=$BUILD/bin
[ -x /usr/bin/time ] || { echo "bench/migrate: needs /usr/bin/time (Debian package time)" >&2; exit 1; }
RUNS=${RUNS:-1}

# timed LABEL CMD...: runs CMD under /usr/bin/time, prints one line with
# the wall, user and system seconds and the peak RSS, and its exit status.
timed() {
    local label=$1 rc=0
    shift
    /usr/bin/time -o time.txt -f '%e %U %S %M' "$@" >run.out 2>run.err || rc=$?
    read -r wall user sys rss <time.txt
    printf '%-34s %8.2f s wall %8.2f s user %7.2f s sys %8d KiB max RSS  exit %d\n' \
        "$label" "$wall" "$user" "$sys" "$rss" "$rc"
    [ "$rc" -eq 0 ] || { echo "  last lines of its output:"; tail -n 3 run.out run.err | sed 's/^/  /'; }
    return 0
}

make_guest disk.img w2k3 cab dirty stale size=1024
sum=$(sha256sum <disk.img)
echo "image: disk.img, $(stat -c %s disk.img) bytes (raw, $(du -k disk.img | cut -f1) KiB allocated), Windows Server 2003 layout"
echo "host: $(nproc) CPU(s), load $(cut -d' ' -f1-3 /proc/loadavg)"

for i in $(seq 1 "$RUNS"); do
    rm -rf hv
    timed "p2v migrate --to hyperv --no-verify" "$BIN/p2v" migrate --to hyperv --no-verify --disk disk.img -o hv
    [ ! -f hv/report.json ] || python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
print("  steps: " + ", ".join("%s %s %.2f s" % (s["name"], s["status"], s.get("seconds") or 0) for s in d["steps"]))
print("  output: " + ", ".join("%s %d bytes" % (x["file"], x["size"]) for x in d["vm"]["disks"]) + ", " + str(d["definition"]))' hv/report.json
done

if command -v virt-v2v >/dev/null; then
    export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
    echo "anchor: $(virt-v2v --version 2>/dev/null | head -n 1) (libguestfs backend settings: $LIBGUESTFS_BACKEND_SETTINGS)"
    for i in $(seq 1 "$RUNS"); do
        rm -rf v2v && mkdir v2v
        timed "virt-v2v -i disk -o local" virt-v2v -i disk disk.img -o local -os v2v -of raw -on v2v
    done
else
    echo "anchor: virt-v2v is not installed (Debian package virt-v2v): no comparison"
fi
[ "$(sha256sum <disk.img)" = "$sum" ] || { echo "bench/migrate: the source image changed" >&2; exit 1; }
