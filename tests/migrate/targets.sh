# The captured Linux sample migrated (--no-verify) to each target, every
# definition checked field by field against the model (and the .vmc parsed
# as UTF-16 XML by xmllint); each target's default disk format (qcow2 for
# libvirt and Proxmox, standalone; VHDX for Hyper-V; VHD for Virtual Server
# with CHS sizing; monolithicSparse VMDK for VMware) read back by qemu-img
# (and libvmdk) as the capture's content; --format vhd for Hyper-V sized
# exactly; a format the target does not take is a usage error (exit 2);
# the capture stays byte-identical throughout. The OVA has its own test
# (ova.sh).
source "$SRC/tests/lib.sh"
source "$SRC/tests/migrate/lib.sh"
need apt-get dpkg cpio sfdisk mcopy mkfs.fat syslinux python3 xmllint qemu-img iconv

capture_sample s1
before=$(tree_sum "$SAMPLE_DIR")
mac=$(xmllint --xpath 'string(//nic[1]/@mac)' "$SAMPLE_DIR/manifest.xml" | tr A-F a-f)
size=$(xmllint --xpath 'string(//disk[1]/@size)' "$SAMPLE_DIR/manifest.xml")
migrate() { "$BIN/p2v" migrate --no-verify --memory 300 --vcpus 2 "$@" "$SAMPLE_DIR" >>migrate.txt 2>migrate.err ||
    { cat migrate.txt migrate.err >&2; fail "p2v migrate $* exited non-zero"; }; }

# Proxmox: qm configuration keys.
migrate --to proxmox -o px --bridge vmbr1
c=px/s1.conf
key() { sed -n "s/^$1: //p" "$c"; }
[ "$(key name)" = s1 ] && [ "$(key memory)" = 300 ] && [ "$(key cores)" = 2 ] && [ "$(key sockets)" = 1 ] || fail "proxmox: name/memory/cpus: $(cat $c)"
[ "$(key acpi)" = 1 ] && [ "$(key bios)" = seabios ] && [ "$(key machine)" = pc ] || fail "proxmox: platform"
[ "$(key ide0)" = "$WORK/px/s1-disk0.qcow2,format=qcow2,size=$((size / 1024))K" ] || fail "proxmox: ide0 is '$(key ide0)'"
[ "$(key boot)" = order=ide0 ] || fail "proxmox: boot order"
if [ -n "$mac" ]; then
    [ "$(key net0)" = "e1000=$(echo "$mac" | tr a-f A-F),bridge=vmbr1" ] || fail "proxmox: net0 is '$(key net0)'"
fi
# qemu-img reads a standalone qcow2 (no backing file: it copies to another
# host as it is) with the capture's content.
qemu-img check -q -f qcow2 px/s1-disk0.qcow2 || fail "proxmox: qemu-img check finds the qcow2 damaged"
qemu-img info -f qcow2 --output=json px/s1-disk0.qcow2 >pxinfo.json
[ "$(json '"backing-filename" in d, d["virtual-size"]' pxinfo.json)" = "(False, $size)" ] ||
    fail "proxmox: the qcow2 has a backing file or the wrong size: $(cat pxinfo.json)"
qemu-img compare -q -f qcow2 -F vpc px/s1-disk0.qcow2 "$SAMPLE_DIR/disk0.vhd" || fail "proxmox: disk content"

# Hyper-V: a Generation 1 VM, legacy NIC, IDE VHD with the exact size.
migrate --to hyperv -o hv --network External
p=hv/s1.ps1
grep -F "New-VM -Name \$Name -Generation 1 -MemoryStartupBytes 300MB -NoVHD -Path \$Path" "$p" >/dev/null || fail "hyperv: New-VM"
grep -Fx 'Set-VMProcessor -VM $vm -Count 2' "$p" >/dev/null || fail "hyperv: CPUs"
grep -F "[string]\$SwitchName = 'External'" "$p" >/dev/null || fail "hyperv: switch"
grep -F "Add-VMHardDiskDrive -VM \$vm -ControllerType IDE -ControllerNumber 0 -ControllerLocation 0 -Path (Join-Path \$Path 's1-disk0.vhdx')" "$p" >/dev/null || fail "hyperv: disk"
if [ -n "$mac" ]; then
    grep -F "Add-VMNetworkAdapter -VM \$vm -IsLegacy \$true -SwitchName \$SwitchName -StaticMacAddress '$(echo "$mac" | tr -d : | tr a-f A-F)'" "$p" >/dev/null || fail "hyperv: legacy NIC"
fi
[ "$(qemu-img info -f vhdx --output=json hv/s1-disk0.vhdx | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')" = "$size" ] ||
    fail "hyperv: the VHDX is not the exact size $size"
qemu-img check -q -f vhdx hv/s1-disk0.vhdx || fail "hyperv: qemu-img check finds the VHDX damaged"
qemu-img compare -q -f vhdx -F vpc hv/s1-disk0.vhdx "$SAMPLE_DIR/disk0.vhd" || fail "hyperv: the VHDX's content differs"
# --format vhd: still possible, with the exact size Hyper-V reads.
migrate --to hyperv --format vhd -o hv1 --network External
grep -F "(Join-Path \$Path 's1-disk0.vhd')" hv1/s1.ps1 >/dev/null || fail "hyperv --format vhd: disk"
[ "$(qemu-img info -f vpc --output=json hv1/s1-disk0.vhd | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')" = "$size" ] ||
    fail "hyperv: the VHD is not the exact size $size"
[ "$(json 'd["vm"]["nics"][0]["model"]' hv/report.json)" = tulip ] || fail "hyperv: the NIC is not the DEC 21140"

# Virtual Server: UTF-16 .vmc, CHS-sized VHD (rounded up), one CPU.
migrate --to virtualserver -o vs
v=vs/s1.vmc
[ "$(head -c 2 "$v" | od -An -tx1 | tr -d ' ')" = fffe ] || fail "vmc: no UTF-16LE byte order mark"
iconv -f UTF-16 -t UTF-8 "$v" | sed 's/encoding="UTF-16"/encoding="UTF-8"/' >vmc.xml
xmllint --noout "$v" || fail "vmc: xmllint cannot parse it"
vx() { xmllint --xpath "$1" vmc.xml; }
[ "$(vx 'string(/preferences/hardware/memory/ram_size)')" = 300 ] || fail "vmc: ram_size"
[ "$(vx 'string(/preferences/hardware/memory/ram_size/@type)')" = integer ] || fail "vmc: ram_size type"
[ "$(vx 'string(//ide_controller[@id="0"]/location[@id="0"]/pathname/relative)')" = '.\s1-disk0.vhd' ] || fail "vmc: disk path"
[ "$(vx 'string(//ide_controller[@id="0"]/location[@id="0"]/drive_type)')" = 1 ] || fail "vmc: drive type"
if [ -n "$mac" ]; then
    [ "$(vx 'string(//ethernet_controller[@id="0"]/ethernet_card_address)')" = "$(echo "$mac" | tr -d : | tr a-f A-F)" ] || fail "vmc: MAC"
fi
[ "$(json 'd["vm"]["vcpus"]' vs/report.json)" = 1 ] || fail "virtualserver: more than one CPU"
grep -F 'Virtual Server runs at most' migrate.err >/dev/null || grep -F 'virtualserver runs at most 1' migrate.err >/dev/null || fail "virtualserver: no warning about the CPU count"
vsize=$(qemu-img info -f vpc --output=json vs/s1-disk0.vhd | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
[ "$vsize" -ge "$size" ] || fail "virtualserver: the CHS-sized VHD ($vsize) is smaller than the disk ($size)"
"$BIN/vdisk" info vs/s1-disk0.vhd >vsinfo.txt
grep -i 'chs\|geometry' vsinfo.txt >/dev/null || fail "virtualserver: vdisk info shows no geometry"

# VMware: .vmx keys, and a monolithicSparse VMDK that qemu-img and libvmdk
# (vmdkinfo) read as the capture's content.
migrate --to vmware -o vm
vx() { sed -n "s/^$1 = \"\(.*\)\"$/\1/p" vm/s1.vmx; }
[ "$(vx virtualHW.version)" = 4 ] && [ "$(vx displayName)" = s1 ] && [ "$(vx memsize)" = 300 ] && [ "$(vx numvcpus)" = 2 ] ||
    fail "vmx: version/name/memory/cpus: $(cat vm/s1.vmx)"
[ "$(vx 'ide0:0.present')" = TRUE ] && [ "$(vx 'ide0:0.fileName')" = s1-disk0.vmdk ] && [ "$(vx 'ide0:0.deviceType')" = ata-hardDisk ] ||
    fail "vmx: IDE disk"
[ "$(vx ethernet0.virtualDev)" = e1000 ] || fail "vmx: NIC"
if [ -n "$mac" ]; then
    [ "$(vx ethernet0.address)" = "$mac" ] && [ "$(vx ethernet0.addressType)" = static ] || fail "vmx: MAC"
fi
[ "$(qemu-img info --output=json vm/s1-disk0.vmdk | json 'd["format"], d["virtual-size"]' /dev/stdin)" = "('vmdk', $size)" ] ||
    fail "vmware: qemu-img does not read a $size-byte VMDK"
[ "$(qemu-img info --output=json vm/s1-disk0.vmdk | json 'd["format-specific"]["data"]["create-type"]' /dev/stdin)" = monolithicSparse ] ||
    fail "vmware: the VMDK is not monolithicSparse"
[ ! -e vm/s1-disk0-flat.vmdk ] || fail "vmware: a flat extent beside the sparse VMDK"
qemu-img check -q -f vmdk vm/s1-disk0.vmdk || fail "vmware: qemu-img check finds the VMDK damaged"
qemu-img compare -q -F vpc vm/s1-disk0.vmdk "$SAMPLE_DIR/disk0.vhd" || fail "vmware: the VMDK's content differs from the capture"
if command -v vmdkinfo >/dev/null; then
    vmdkinfo vm/s1-disk0.vmdk >vmdkinfo.txt || fail "vmdkinfo cannot read the VMDK"
    grep -E 'Disk type:\s+Monolithic sparse' vmdkinfo.txt >/dev/null && grep -F "($size bytes)" vmdkinfo.txt >/dev/null ||
        { cat vmdkinfo.txt >&2; fail "vmdkinfo: not a $size-byte monolithic sparse disk"; }
fi

# A format the target does not take: a usage error naming those it takes.
expect_fail 2 'qcow2: not a disk format for --to hyperv \(it takes: vhdx, vhd\)' "$BIN/p2v" migrate --to hyperv --format qcow2 --no-verify -o hx "$SAMPLE_DIR"
expect_fail 2 'vhd: not a disk format for --to vmware \(it takes: vmdk\)' "$BIN/p2v" migrate --to vmware --format vhd --no-verify -o hx "$SAMPLE_DIR"
expect_fail 2 'not a disk format' "$BIN/p2v" migrate --format nonsense --no-verify -o q "$SAMPLE_DIR"
# Usage and refusals.
expect_fail 2 "unknown target 'esx'" "$BIN/p2v" migrate --to esx "$SAMPLE_DIR"
expect_fail 2 'one SOURCE' "$BIN/p2v" migrate
expect_fail 2 'memory' "$BIN/p2v" migrate --memory 12x "$SAMPLE_DIR"
expect_fail 2 'vcpus' "$BIN/p2v" migrate --vcpus 0 "$SAMPLE_DIR"
expect_fail 1 'not empty; use --force' "$BIN/p2v" migrate --to proxmox --no-verify -o px "$SAMPLE_DIR"
expect_fail 1 'no manifest.xml' "$BIN/p2v" migrate --no-verify -o nm "$WORK/srv"
expect_fail 2 'capture folder' "$BIN/p2v" migrate --no-verify -o "$SAMPLE_DIR" --force "$SAMPLE_DIR"
"$BIN/p2v" migrate --to proxmox --no-verify --force -o px "$SAMPLE_DIR" >/dev/null 2>&1 || fail "--force did not rewrite px"
# --disk: an image instead of a capture folder.
"$BIN/p2v" migrate --to libvirt --no-verify -o dk --disk "$SAMPLE_DIR/disk0.vhd" --name fromdisk >/dev/null 2>migrate.err ||
    { cat migrate.err >&2; fail "--disk failed"; }
[ "$(xmllint --xpath 'string(/domain/name)' dk/fromdisk.xml)" = fromdisk ] || fail "--disk: name"
[ "$(xmllint --xpath 'string(/domain/memory)' dk/fromdisk.xml)" = 512 ] || fail "--disk: default memory"
[ "$(xmllint --xpath 'string(/domain/devices/disk[1]/driver/@type)' dk/fromdisk.xml)" = qcow2 ] || fail "libvirt: the disk is not qcow2"
# libvirt --format raw: the raw bytes of the capture.
"$BIN/p2v" migrate --to libvirt --format raw --no-verify -o dkr --disk "$SAMPLE_DIR/disk0.vhd" --name fromdisk >/dev/null 2>migrate.err ||
    { cat migrate.err >&2; fail "--format raw failed"; }
[ "$(xmllint --xpath 'string(/domain/devices/disk[1]/driver/@type)' dkr/fromdisk.xml)" = raw ] || fail "libvirt --format raw: driver type"
qemu-img compare -q -f raw -F vpc dkr/fromdisk-disk0.raw "$SAMPLE_DIR/disk0.vhd" || fail "libvirt --format raw: disk content"
# A capture that is not finished is refused; unreadable sectors are a warning.
mkdir -p part/s1 bad/s1
cp "$SAMPLE_DIR/disk0.vhd" part/s1/ && cp "$SAMPLE_DIR/disk0.vhd" bad/s1/
sed 's/state="final"/state="initial"/' "$SAMPLE_DIR/manifest.xml" >part/s1/manifest.xml
expect_fail 1 'the capture is not finished' "$BIN/p2v" migrate --no-verify -o p1 part/s1
sed 's|</capture>|</capture><bad-sectors count="6"><range first="100" count="4"/></bad-sectors>|; s|\(<capture [^>]*\)/>|\1/><bad-sectors count="6"><range first="100" count="4"/></bad-sectors>|' \
    "$SAMPLE_DIR/manifest.xml" >bad/s1/manifest.xml
grep bad-sectors bad/s1/manifest.xml >/dev/null || fail "test setup: no bad-sectors in the manifest"
"$BIN/p2v" migrate --no-verify -o b1 bad/s1 >/dev/null 2>bad.err || { cat bad.err >&2; fail "bad sectors: migrate failed"; }
json 'd["warnings"]' b1/report.json | grep -F '6 sector(s) could not be read' >/dev/null || fail "bad sectors: no warning in the report"
# A damaged capture (the dynamic VHD's header overwritten): one line naming
# the step and drivers-inject's reason, exit 1, a report saying so.
mkdir -p corrupt/s1
cp "$SAMPLE_DIR/manifest.xml" "$SAMPLE_DIR/disk0.vhd" corrupt/s1/
printf 'garbage!' | dd of=corrupt/s1/disk0.vhd bs=1 seek=512 conv=notrunc status=none
expect_fail 1 'step inspect failed: .*disk0.vhd' "$BIN/p2v" migrate --no-verify -o c1 corrupt/s1
[ "$(json 'd["steps"][0]["status"], d["ready"]' c1/report.json)" = "('failed', False)" ] || fail "corrupt: report"
d0=$SAMPLE_DIR/disk0.vhd
expect_fail 1 'IDE controller holds 4' "$BIN/p2v" migrate --no-verify -o five --disk "$d0" --disk "$d0" --disk "$d0" --disk "$d0" --disk "$d0"
# --machine-readable: one JSON object per line.
"$BIN/p2v" migrate --machine-readable --to libvirt --no-verify -o mr "$SAMPLE_DIR" >mr.txt 2>/dev/null || fail "--machine-readable run failed"
python3 -c 'import json,sys; l=[json.loads(x) for x in open(sys.argv[1])]; assert l[-1]["type"]=="result", l[-1]; assert any(x.get("step")=="convert" for x in l)' mr.txt ||
    fail "--machine-readable: not JSON lines ending with a result"

[ "$(tree_sum "$SAMPLE_DIR")" = "$before" ] || fail "p2v migrate changed the capture"
echo ok
