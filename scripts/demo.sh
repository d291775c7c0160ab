#!/usr/bin/env bash
# The README's first command: installs what is needed, builds, and runs the
# main job on a sample machine built at run time (nothing binary is in the
# repository): a 64 MiB disk with a 32-bit Debian Linux (the platform tests'
# guest: Debian's linux-image-686 and busybox-static:i386, made by
# tests/platform/guests/build-linux.sh and cached in build/). The job:
#   p2v capture -> p2v serve   the disk's used blocks and a manifest, into a
#                              dynamic VHD, over loopback with a token
#   p2v migrate --to libvirt   inspect, repair (drivers-inject, into an
#                              overlay), convert, the libvirt domain XML,
#                              boot check in vmm, report.json + report.html
# Exit status: 0 when every step worked and the VM booted, else non-zero.
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

section "Migrate: p2v migrate --to libvirt (one command, boot-checked)"
timeout=${DEMO_TIMEOUT:-300}
rm -rf "$out/vm"
before=$(sha256sum <"$vhd")
echo "\$ build/bin/p2v migrate --to libvirt -o ${out#$top/}/vm --memory 256 --expect '$marker' --timeout $timeout ${out#$top/}/p2v/sample"
rc=0
"$B/p2v" migrate --to libvirt -o "$out/vm" --memory 256 --expect "$marker" --timeout "$timeout" "$out/p2v/sample" || rc=$?
[ "$(sha256sum <"$vhd")" = "$before" ] || die "p2v migrate changed the captured VHD"
[ "$rc" -eq 0 ] || die "p2v migrate failed (exit $rc; report: $out/vm/report.json)"

section "The report (vm/report.json; open vm/report.html in a browser)"
python3 - "$out/vm/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
v, vm = r["verdict"], r["vm"]
print(f"verdict: {v['kind']} ({v['detail']}), after {v['seconds']} s")
for s in r["steps"]:
    print(f"  {s['name']:8} {s['status']:8} {s.get('seconds', '')!s:>5}  {s['detail']}")
print(f"VM {vm['name']}: {vm['memory_mib']} MiB, {vm['vcpus']} vCPU(s), {vm['firmware']}, "
      f"ACPI {'on' if vm['acpi'] else 'off'}, APIC {'on' if vm['apic'] else 'off'}, clock {vm['clock']}")
for d in vm["disks"]:
    print(f"  disk {d['device']} ({d['bus']}): {d['file']}, {d['format']}, {d['size']} bytes")
for n in vm["nics"]:
    print(f"  nic {n['model']} {n['mac'] or '(new MAC)'}: {n['why']}")
print(f"changes made by the repair: {len(r['repair']['changes'])}")
for w in r["warnings"]:
    print(f"warning: {w}")
PY
echo "definition: $out/vm/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["definition"])' "$out/vm/report.json")"
echo "  (virsh define it; on a host without KVM change <domain type=\"kvm\"> to \"qemu\")"
echo "report:     $out/vm/report.html"

section "Done"
echo "captured, migrated to libvirt and booted: files in $out"
