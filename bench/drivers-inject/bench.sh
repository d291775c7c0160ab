#!/usr/bin/env bash
# drivers-inject on a generated 1 GiB Windows Server 2003 image (RAID boot
# driver, IDE drivers only in driver.cab, dirty Setup flag, stale
# MountedDevices): wall time of the whole fixup, of a dry run, and of the
# idempotent second run. With ANCHOR=1 and virt-v2v installed, virt-v2v
# on a copy of the same image for comparison (it takes minutes under TCG).
# Usage: bench/drivers-inject/bench.sh [BUILD_DIR]
set -eu -o pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
BIN=$BUILD/bin
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-inject.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
source "$SRC/tests/lib.sh"
source "$SRC/tests/drivers-inject/guest.sh"
BIN=$BIN

make_guest disk.img w2k3 cab dirty stale size=1024
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
echo "dry run:      $(t "$BIN/drivers-inject" --dry-run disk.img) s"
echo "fixup:        $(t "$BIN/drivers-inject" --in-place disk.img) s"
echo "second run:   $(t "$BIN/drivers-inject" --in-place disk.img) s"
if [ "${ANCHOR:-0}" = 1 ] && command -v virt-v2v >/dev/null; then
    make_guest anchor.img w2k3 cab dirty stale size=1024
    mkdir out
    export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
    echo "virt-v2v:     $(t virt-v2v -i disk anchor.img -o local -os out -of raw) s"
    # What it changed for storage: the converted disk's SYSTEM hive.
    out=$(ls out/*-sda)
    reg_dump "$out" 'WINDOWS/system32/config/SYSTEM' v2v.csv
    echo "virt-v2v result: atapi $(grep -i '^/ControlSet001/Services/atapi/Start,' v2v.csv | cut -d, -f3)," \
        "PIIX3 CDDB entries: $(grep -ci 'CriticalDeviceDatabase/pci#ven_8086&dev_7010/Service' v2v.csv)," \
        "IntelIde service: $(grep -ci '^/ControlSet001/Services/IntelIde,' v2v.csv)"
fi
