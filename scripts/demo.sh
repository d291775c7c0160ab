#!/usr/bin/env bash
# The README's first command: installs what is needed, builds, and runs the
# main job on a sample machine built at run time (nothing binary is in the
# repository): a 64 MiB disk with a 32-bit Debian Linux (the platform tests'
# guest: Debian's linux-image-686 and busybox-static:i386, made by
# tests/platform/guests/build-linux.sh and cached in build/). The job:
#   p2v capture -> p2v serve   the disk's used blocks and a manifest, into a
#                              dynamic VHD, over loopback with a token
#   vdisk info / check         what the captured VHD is, and that it is sound
#   drivers-inject --dry-run   what it would repair for the vmm target
#   vmm --check                boots the captured VHD itself, gives a verdict
# Exit status: 0 when every step worked and the guest booted, else non-zero.
# DEMO_DIR (default out/demo) receives the files; DEMO_TIMEOUT (300) bounds
# the boot.
set -eu -o pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=${DEMO_DIR:-$top/out/demo}
B=$top/build/bin

section() { printf '\n== %s\n' "$*"; }
show() { printf '$ %s\n' "${*//$top\//}"; "$@"; }   # paths shown relative to the top
die() { echo "demo: $*" >&2; exit 1; }

section "Dependencies (scripts/install-deps.sh)"
scripts/install-deps.sh
echo "Debian packages: installed"

section "Build (cmake, build/bin)"
mkdir -p "$out"
if ! { cmake -S . -B build && cmake --build build -j"$(nproc)" --target vdisk p2v drivers-inject vmm; } >"$out/build.log" 2>&1; then
    tail -n 30 "$out/build.log" >&2
    die "the build failed (whole log: $out/build.log)"
fi
echo "built vdisk, p2v, drivers-inject, vmm in build/bin (log: $out/build.log)"

section "Sample machine: 32-bit Debian Linux on a 64 MiB disk"
# The platform tests' builder, shared with them through their cache and lock.
SRC=$top BUILD=$top/build
. "$top/tests/platform/lib-platform.sh"
guestdir=$(guest linux) || die "could not build the sample guest (needs Debian's i386 packages: apt-get download)"
disk=$guestdir/linux.raw
marker=$(cat "$guestdir/marker.txt")
echo "disk:   $disk"
echo "inside: MBR + syslinux, a FAT16 boot volume with Debian's 686 kernel and a"
echo "        busybox initramfs whose /init prints '$marker' on COM1"
echo "        (made by tests/platform/guests/build-linux.sh from Debian i386 packages,"
echo "        cached in ${guestdir#$top/})"

section "Capture: p2v capture -> p2v serve (loopback, token, zstd)"
cd "$out"
rm -rf p2v
mkdir -p p2v
head -c 32 /dev/urandom | base64 >token
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "\$ build/bin/p2v serve --listen 127.0.0.1:$port --dir p2v --token-file token --once &"
"$B/p2v" serve --listen "127.0.0.1:$port" --dir p2v --token-file token --once 2>serve.err &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for i in $(seq 101); do
    grep "listening on 127.0.0.1:$port" p2v/serve.log >/dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || { cat serve.err >&2; die "p2v serve did not start"; }
    [ "$i" -le 100 ] || die "p2v serve is not listening after 5 s"
    sleep 0.05
done
show "$B/p2v" capture --server "127.0.0.1:$port" --token-file token --name sample \
    --disk "$disk" --compress zstd --state "$out/capture.session" -p
rc=0
wait "$server" || rc=$?
trap - EXIT
[ "$rc" -eq 0 ] || { cat serve.err >&2; die "p2v serve exited $rc"; }
vhd=$out/p2v/sample/disk0.vhd

section "Manifest summary (p2v/sample/manifest.xml)"
python3 - p2v/sample/manifest.xml <<'PY'
import sys, xml.etree.ElementTree as ET
m = ET.parse(sys.argv[1]).getroot()
cpu, mem = m.find("cpu"), m.find("memory")
print(f"machine {m.get('name')}: {m.get('state')} manifest of {m.get('created')}, "
      f"{m.find('firmware').get('type')} firmware, {cpu.get('count')} CPU(s), "
      f"{int(mem.get('bytes')) >> 20} MiB RAM (of the capturing host)")
for d in m.findall("disk"):
    print(f"disk {d.get('index')}: {d.get('source')} ({d.get('kind')}), {int(d.get('size')) >> 20} MiB")
    pt = d.find("partition-table")
    if pt is not None:
        print(f"  {pt.get('scheme')} partition table, signature {pt.get('mbr-signature')}")
        for p in pt.findall("partition"):
            print(f"  partition {p.get('number')}: type {p.get('type')}, {p.get('filesystem')}, "
                  f"{int(p.get('length')) >> 20} MiB at {p.get('start')}, "
                  f"{int(p.get('used-bytes', 0)) >> 10} KiB used"
                  + (", bootable" if p.get("bootable") == "true" else ""))
    c = d.find("capture")
    print(f"  read {int(c.get('read-bytes')) >> 10} KiB; SHA-256 tree {c.get('sha256')[:16]}..., "
          f"verified by the server: {c.get('verified')}")
PY

section "The captured VHD"
show "$B/vdisk" info "$vhd"
show "$B/vdisk" check "$vhd"

section "Repair check: drivers-inject --dry-run"
echo "\$ build/bin/drivers-inject --target vmm --dry-run ${vhd#$top/}"
rc=0
"$B/drivers-inject" --target vmm --dry-run "$vhd" >inject.txt 2>inject.err || rc=$?
if [ "$rc" -eq 0 ]; then
    cat inject.txt
elif [ "$rc" -eq 1 ] && grep 'no NTFS or FAT volume with a Windows directory' inject.err >/dev/null; then
    # Only this answer means "nothing to inspect"; any other error fails the demo.
    cat inject.err
    echo "skipped: this guest has no Windows system volume and no Linux root filesystem"
    echo "(its Linux runs from an initramfs on the FAT boot volume), so drivers-inject"
    echo "has nothing to inspect or repair here."
else
    cat inject.txt inject.err >&2
    die "drivers-inject --dry-run failed (exit $rc)"
fi

section "Boot check: vmm --check on the captured VHD (no conversion)"
timeout=${DEMO_TIMEOUT:-300}
echo "\$ build/bin/vmm --check --timeout $timeout -m 256 --serial ${out#$top/}/serial.txt --expect '$marker' ${vhd#$top/}"
before=$(sha256sum <"$vhd")
start=$(date +%s)
rc=0
"$B/vmm" --check --timeout "$timeout" -m 256 --serial "$out/serial.txt" --expect "$marker" "$vhd" || rc=$?
echo "(exit $rc after $(($(date +%s) - start)) s; guest serial log: $out/serial.txt)"
[ "$rc" -eq 0 ] || die "the captured VHD did not boot (vmm --check exit $rc)"
[ "$(sha256sum <"$vhd")" = "$before" ] || die "vmm --check changed the captured VHD"

section "Done"
echo "captured, inspected and booted: files in $out"
