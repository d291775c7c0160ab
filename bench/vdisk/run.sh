#!/usr/bin/env bash
# vdisk convert vs qemu-img convert on the same inputs, in the same run:
# raw -> VHD dynamic, raw -> VHD fixed, VHD dynamic -> raw. Page cache warm,
# every output synced inside the timed command, outputs removed and the
# host synced (untimed) before each run; cases interleaved round-robin.
# Reports median wall time, CPU (user+sys), peak RSS and output sizes.
# usage: bench/vdisk/run.sh [ROUNDS] [SIZE_GIB]   (BENCH_DIR, default /tmp/vdisk-bench)
set -eu
rounds=${1:-3} gib=${2:-4}
top=$(cd "$(dirname "$0")/../.." && pwd)
V=$top/build/bin/vdisk
dir=${BENCH_DIR:-/tmp/vdisk-bench}
mkdir -p "$dir"
cd "$dir"
[ -x "$V" ] || { echo "build vdisk first (cmake --build build)" >&2; exit 2; }
if [ ! -e src.raw ] || [ "$(stat -c %s src.raw)" != $((gib << 30)) ]; then
    echo "making a ${gib} GiB image shaped like a used server disk..."
    /usr/bin/python3 "$top/bench/vdisk/make-image.py" src.raw "$gib"
fi
# The dynamic VHD input for the VHD -> raw case, made by qemu-img (so
# neither tool reads its own output).
[ -e in-dyn.vhd ] || qemu-img convert -f raw -O vpc -o subformat=dynamic src.raw in-dyn.vhd
cat src.raw in-dyn.vhd >/dev/null

declare -A cmd
cmd[qemu:raw-dyn]="qemu-img convert -f raw -O vpc -o subformat=dynamic src.raw out"
cmd[vdisk:raw-dyn]="$V convert -f raw -O vhd -o subformat=dynamic src.raw out"
cmd[qemu:raw-fixed]="qemu-img convert -f raw -O vpc -o subformat=fixed src.raw out"
cmd[vdisk:raw-fixed]="$V convert -f raw -O vhd -o subformat=fixed src.raw out"
cmd[qemu:dyn-raw]="qemu-img convert -f vpc -O raw in-dyn.vhd out"
cmd[vdisk:dyn-raw]="$V convert -f vhd -O raw in-dyn.vhd out"
cases="raw-dyn raw-fixed dyn-raw"

: > results.txt
for r in $(seq "$rounds"); do
    for c in $cases; do
        for tool in qemu vdisk; do
            rm -f out; sync
            /usr/bin/time -f "%e %U %S %M" -o t.txt sh -c "${cmd[$tool:$c]} && sync out"
            read -r wall user sys rss <t.txt
            echo "$c $tool $wall $(awk "BEGIN{print $user + $sys}") $rss $(stat -c %s out) $(( $(stat -c %b out) * 512 )) $(cut -d' ' -f1 /proc/loadavg)" >>results.txt
        done
    done
done
rm -f out t.txt
echo "vdisk $($V --version | cut -d' ' -f3), $(qemu-img --version | head -1), $(nproc) CPUs, $rounds rounds"
/usr/bin/python3 - results.txt <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
print("| case | tool | median s | best s | CPU s (median) | peak RSS MiB | output apparent / allocated MiB | load (1 min) |")
print("|---|---|---|---|---|---|---|---|")
med = {}
for case in ("raw-dyn", "raw-fixed", "dyn-raw"):
    for tool in ("qemu", "vdisk"):
        rs = [r for r in rows if r[0] == case and r[1] == tool]
        if not rs: continue
        wall = [float(r[2]) for r in rs]; cpu = [float(r[3]) for r in rs]
        med[case, tool] = statistics.median(wall)
        print("| %s | %s | %.2f | %.2f | %.2f | %.0f | %.0f / %.0f | %s |" % (
            case, "qemu-img" if tool == "qemu" else "vdisk", statistics.median(wall), min(wall),
            statistics.median(cpu), max(int(r[4]) for r in rs) / 1024,
            int(rs[-1][5]) / 2**20, int(rs[-1][6]) / 2**20, "/".join(r[7] for r in rs)))
for case in ("raw-dyn", "raw-fixed", "dyn-raw"):
    if (case, "qemu") in med:
        print("%s: vdisk is %.2fx faster than qemu-img (median wall)" % (case, med[case, "qemu"] / med[case, "vdisk"]))
PY
