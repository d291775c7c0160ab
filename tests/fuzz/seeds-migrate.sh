#!/usr/bin/env bash
# Seeds for fuzz_migrate: a manifest (first byte 0) and a drivers-inject
# report (first byte 1). Usage: seeds-migrate.sh VDISK DIR
set -eu
dir=$2
{ printf '\0'; cat <<'XML'
<p2v-manifest version="1" name="web01" created="2026-11-21T17:35:16Z" state="final">
  <firmware type="bios"/><cpu count="2" vendor="GenuineIntel" model="x"><flags>fpu</flags></cpu>
  <memory bytes="2147483648"/><nic name="eth0" mac="00:11:22:33:44:55" driver="pcnet32"/>
  <nic name="eth1" mac="00:11:22:33:44:56" driver="tulip"/>
  <disk index="0" source="/dev/sda" kind="device" size="36420075520" sector-size="512"/>
  <disk index="1" source="/dev/sdb" kind="device" size="1048576" sector-size="512">
    <capture read-bytes="1" chunk-size="1048576" sha256="00" verified="false"/><bad-sectors count="6"><range first="100" count="4"/></bad-sectors></disk>
</p2v-manifest>
XML
} >"$dir/manifest"
{ printf '\1'; cat <<'JSON'
{"image": "x.vhd", "target": "qemu", "dry_run": true, "status": "ready after these changes", "ready": true,
 "guest": {"os": "windows", "product": "Microsoft Windows Server 2003", "version": "5.2", "build": "3790",
   "hal": {"id": "acpiapic_mp", "file": "halmacpi.dll", "name": "ACPI Multiprocessor PC", "acpi": true, "apic": true, "mp": true},
   "net_drivers": [{"driver": "dc21x4", "nic": "tulip", "installed": false, "found": "dc21x4.sys in WINDOWS\\Driver Cache\\i386\\sp1.cab"},
     {"driver": "pcntpci5", "nic": "pcnet", "installed": true, "found": "WINDOWS\\system32\\drivers\\pcntpci5.sys, service PCnet"}]},
 "changes": [{"fixup": "mergeide", "change": "x"}], "missing": [], "notes": []}
JSON
} >"$dir/report"
