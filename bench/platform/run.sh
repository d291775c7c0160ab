#!/usr/bin/env bash
# bench/platform: time from start to a guest's marker, vmm against
# qemu-system-i386 -accel tcg on the same images in the same run.
#   bench/platform/run.sh [BUILD_DIR] [RUNS]
# BENCH_GUESTS="bootsector linux memtest" picks guests; BENCH_TIMEOUT
# (seconds, default 300) bounds each run.
# Guests: the boot sector (SeaBIOS POST + boot, marker on COM1), the 32-bit
# Linux disk (marker printed by its initramfs) and memtest86+ (its first
# screen on COM1). Prints one line per engine and guest: the median of RUNS
# runs and the range, or "not reached" when the marker never came.
set -eu -o pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
runs=${2:-5}
timeout=${BENCH_TIMEOUT:-300}
guests=$build/bench/platform/guests
mkdir -p "$guests"
for kind in bootsectors linux memtest; do
    [ -e "$guests/$kind/.done" ] && continue
    "$src/tests/platform/guests/build-$kind.sh" "$guests/$kind" >/dev/null
    touch "$guests/$kind/.done"
done

# time_to MARKER CMD...: seconds from launch to MARKER on the command's
# stdout (COM1), or "-" when it does not come before the timeout.
time_to() {
    local marker=$1; shift
    python3 - "$marker" "$timeout" "$@" <<'PY'
import os, subprocess, sys, time, select
marker, limit, cmd = sys.argv[1].encode(), float(sys.argv[2]), sys.argv[3:]
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
buf = b""
result = "-"
while time.monotonic() - t0 < limit:
    r, _, _ = select.select([p.stdout], [], [], 0.05)
    if r:
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        buf = (buf + chunk)[-65536:]
        if marker in buf:
            result = "%.3f" % (time.monotonic() - t0)
            break
p.kill()
p.wait()
print(result)
PY
}

report() {     # report LABEL TIMES...
    local label=$1; shift
    python3 - "$label" "$@" <<'PY'
import statistics, sys
label, vals = sys.argv[1], sys.argv[2:]
ok = [float(v) for v in vals if v != "-"]
if len(ok) < len(vals):
    print("%-34s not reached in %d of %d runs" % (label, len(vals) - len(ok), len(vals))
          + ("" if not ok else ", median of the others %.3f s" % statistics.median(ok)))
else:
    print("%-34s median %.3f s  (%.3f-%.3f, n=%d)" % (label, statistics.median(ok), min(ok), max(ok), len(ok)))
PY
}

bench() {      # bench LABEL MARKER DISK_ARGS_VMM -- DISK_ARGS_QEMU
    local label=$1 marker=$2; shift 2
    local vargs=() qargs=()
    while [ "$1" != -- ]; do vargs+=("$1"); shift; done
    shift
    qargs=("$@")
    local v=() q=()
    for _ in $(seq "$runs"); do
        v+=("$(time_to "$marker" "$build/bin/vmm" --serial stdio --timeout "$timeout" "${vargs[@]}")")
        q+=("$(time_to "$marker" qemu-system-i386 -accel tcg -display none -serial stdio \
                -monitor none -net none "${qargs[@]}")")
    done
    report "vmm   $label" "${v[@]}"
    report "qemu  $label" "${q[@]}"
}

echo "bench/platform: $runs runs each, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for g in ${BENCH_GUESTS:-bootsector linux memtest}; do
    case $g in
    bootsector)
        bs=$guests/bootsectors/hello.raw
        bench "boot sector (POST to marker)" bootsector-ok \
            -m 128 "$bs" -- -m 128 -drive file="$bs",format=raw,snapshot=on ;;
    linux)
        lx=$guests/linux/linux.raw
        bench "Linux 686 to marker" VMM-LINUX-MARKER \
            -m 256 --snapshot "$lx" -- -m 256 -drive file="$lx",format=raw,snapshot=on ;;
    memtest)
        mt=$guests/memtest/memtest.raw
        bench "memtest86+ first screen" "Memtest86+" \
            -m 64 --snapshot "$mt" -- -m 64 -drive file="$mt",format=raw,snapshot=on ;;
    esac
done
