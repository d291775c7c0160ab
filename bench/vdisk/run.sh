#!/usr/bin/env bash
# vdisk convert vs qemu-img convert on the same inputs, in the same run, for
# every format pair issues 14 and 15 set a speed bar for. Inputs in other
# formats are made by qemu-img (neither tool reads its own output). Page
# cache warm, every output synced inside the timed command, outputs removed
# and the host synced (untimed) before each run; the two tools alternate.
# Reports median wall time, CPU (user+sys), peak RSS and output sizes.
# usage: bench/vdisk/run.sh [ROUNDS] [SIZE_GIB] [CASE...]
#        (BENCH_DIR, default /tmp/vdisk-bench; no CASE: all of them)
set -eu
rounds=${1:-3} gib=${2:-4}
shift $(( $# < 2 ? $# : 2 ))
top=$(cd "$(dirname "$0")/../.." && pwd)
V=$top/build/bin/vdisk
dir=${BENCH_DIR:-/tmp/vdisk-bench}/${gib}g
mkdir -p "$dir"
cd "$dir"
[ -x "$V" ] || { echo "build vdisk first (cmake --build build)" >&2; exit 2; }
if [ ! -e src.raw ] || [ "$(stat -c %s src.raw)" != $((gib << 30)) ]; then
    echo "making a ${gib} GiB image shaped like a used server disk..."
    /usr/bin/python3 "$top/bench/vdisk/make-image.py" src.raw "$gib"
fi

# CASE: input (made by qemu-img from src.raw with the given -O/-o), then
# qemu-img's and vdisk's convert arguments (input and output appended).
declare -A input qemu vdisk
add() { input[$1]=$2; qemu[$1]=$3; vdisk[$1]=$4; cases+=" $1"; }
cases=
add raw-vhd-dyn     raw                          "-f raw -O vpc -o subformat=dynamic" "-f raw -O vhd -o subformat=dynamic"
add raw-vhd-fixed   raw                          "-f raw -O vpc -o subformat=fixed"   "-f raw -O vhd -o subformat=fixed"
add vhd-dyn-raw     "vpc -o subformat=dynamic"   "-f vpc -O raw"                      "-f vhd -O raw"
add vhd-fixed-raw   "vpc -o subformat=fixed"     "-f vpc -O raw"                      "-f vhd -O raw"
add raw-vhdx-dyn    raw                          "-f raw -O vhdx -o subformat=dynamic" "-f raw -O vhdx -o subformat=dynamic"
add raw-vhdx-fixed  raw                          "-f raw -O vhdx -o subformat=fixed"  "-f raw -O vhdx -o subformat=fixed"
add vhdx-dyn-raw    "vhdx -o subformat=dynamic"  "-f vhdx -O raw"                     "-f vhdx -O raw"
add vhdx-fixed-raw  "vhdx -o subformat=fixed"    "-f vhdx -O raw"                     "-f vhdx -O raw"
add raw-vmdk-sparse raw                          "-f raw -O vmdk"                     "-f raw -O vmdk"
add raw-vmdk-stream raw                          "-f raw -O vmdk -o subformat=streamOptimized" "-f raw -O vmdk -o subformat=streamOptimized"
add vmdk-sparse-raw vmdk                         "-f vmdk -O raw"                     "-f vmdk -O raw"
add raw-qcow2       raw                          "-f raw -O qcow2"                    "-f raw -O qcow2"
add qcow2-raw       qcow2                        "-f qcow2 -O raw"                    "-f qcow2 -O raw"
add raw-qcow2-c     raw                          "-f raw -O qcow2 -c"                 "-f raw -O qcow2 -c"
add raw-qcow2-zstd  raw                          "-f raw -O qcow2 -c -o compression_type=zstd" "-f raw -O qcow2 -c -o compression_type=zstd"
add raw-vdi         raw                          "-f raw -O vdi"                      "-f raw -O vdi"
add vdi-raw         vdi                          "-f vdi -O raw"                      "-f vdi -O raw"
[ $# -gt 0 ] && cases="$*"
for c in $cases; do
    [ -n "${input[$c]+x}" ] || { echo "unknown case '$c'; cases:${!input[*]}" >&2; exit 2; }
done

# The inputs, named after their qemu-img arguments.
in_file() { [ "$1" = raw ] && echo src.raw || echo "in-$(echo "$1" | tr -c 'a-zA-Z0-9\n' _)"; }
for c in $cases; do
    f=$(in_file "${input[$c]}")
    [ -e "$f" ] || qemu-img convert -f raw -O ${input[$c]} src.raw "$f"
    cat "$f" >/dev/null
done

: > results.txt
for r in $(seq "$rounds"); do
    for c in $cases; do
        f=$(in_file "${input[$c]}")
        for tool in qemu vdisk; do
            if [ $tool = qemu ]; then cmd="qemu-img convert ${qemu[$c]} $f out"
            else cmd="$V convert ${vdisk[$c]} $f out"; fi
            rm -f out; sync
            /usr/bin/time -f "%e %U %S %M" -o t.txt sh -c "$cmd && sync out"
            read -r wall user sys rss <t.txt
            echo "$c $tool $wall $(awk "BEGIN{print $user + $sys}") $rss $(stat -c %s out) $(( $(stat -c %b out) * 512 )) $(cut -d' ' -f1 /proc/loadavg)" >>results.txt
        done
    done
done
rm -f out t.txt
echo "vdisk $($V --version | cut -d' ' -f3), $(qemu-img --version | head -1), $(nproc) CPUs, $(uname -r), ${gib} GiB image, $rounds rounds"
/usr/bin/python3 - results.txt $cases <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
cases = sys.argv[2:]
print("| case | tool | median s | best s | CPU s (median) | peak RSS MiB | output apparent / allocated MiB | load (1 min) |")
print("|---|---|---|---|---|---|---|---|")
med = {}
for case in cases:
    for tool in ("qemu", "vdisk"):
        rs = [r for r in rows if r[0] == case and r[1] == tool]
        wall = [float(r[2]) for r in rs]; cpu = [float(r[3]) for r in rs]
        med[case, tool] = statistics.median(wall)
        print("| %s | %s | %.2f | %.2f | %.2f | %.0f | %.0f / %.0f | %s |" % (
            case, "qemu-img" if tool == "qemu" else "vdisk", statistics.median(wall), min(wall),
            statistics.median(cpu), max(int(r[4]) for r in rs) / 1024,
            int(rs[-1][5]) / 2**20, int(rs[-1][6]) / 2**20, "/".join(r[7] for r in rs)))
# Each round runs qemu-img then vdisk back to back: the ratio of a round's
# pair is steadier than the ratio of medians when the machine's speed
# drifts during the run.
for case in cases:
    q = [float(r[2]) for r in rows if r[0] == case and r[1] == "qemu"]
    v = [float(r[2]) for r in rows if r[0] == case and r[1] == "vdisk"]
    pairs = sorted(a / b for a, b in zip(q, v))
    print("%s: vdisk is %.2fx qemu-img's speed (median wall); round by round %s" % (
        case, med[case, "qemu"] / med[case, "vdisk"], ", ".join("%.2f" % x for x in pairs)))
PY
