# The capture-and-repair half of the chain on a Windows Server 2003 disk
# that boots off a RAID miniport (aac) with atapi disabled, the IDE drivers
# only in the image's driver.cab, a dirty Setup flag and stale
# MountedDevices (tests/drivers-inject/guest.sh's generator): captured by
# `p2v capture --compress zstd` into `p2v serve --once`, then repaired by
# `drivers-inject --target vmm --into child.vhd` on the captured VHD as the
# server wrote it. The IDE boot path must be in the child's merged view
# (reglookup and hivexregedit, driver files by ntfscat), the captured
# parent byte-identical and still in its RAID state, and `vdisk info`
# must show the chain.
#
# No boot here: a generated image holds placeholder files (ntldr, ntoskrnl
# and the drivers are a line of text each) and no MBR code, so it cannot
# boot under vmm or anywhere. e2e_linux proves the boot half of the chain
# on a real guest; booting a repaired real Windows image is still to come.
source "$SRC/tests/p2v/lib.sh"                  # start_server, capture
source "$SRC/tests/drivers-inject/guest.sh"     # make_guest, reg_dump, expect_reg, extract_file
need reglookup ntfscat hivexregedit qemu-img xmllint

make_guest src.img w2k3 cab dirty stale
src_hash=$(sha256sum <src.img)

# 1. Capture over loopback with a token file; the server exits after it.
start_server "$WORK/srv" --once
capture --name w2k3 --disk src.img --compress zstd --state "$WORK/session" >capture.txt
rc=0
wait "$SERVER_PID" || rc=$?
[ "$rc" -eq 0 ] || { cat "$WORK/server.err" >&2; fail "p2v serve --once exited $rc"; }
[ "$(sha256sum <src.img)" = "$src_hash" ] || fail "the capture changed the source disk"
dir=$WORK/srv/w2k3
parent=$dir/disk0.vhd
grep '^complete 1$' "$dir/state" >/dev/null || fail "capture not marked complete"
xmllint --noout --schema "$SRC/docs/manifest.xsd" "$dir/manifest.xml" 2>xmllint.err ||
    { cat xmllint.err >&2; fail "manifest does not validate against docs/manifest.xsd"; }
grep 'mbr-signature="0x4e543031"' "$dir/manifest.xml" >/dev/null || fail "manifest: disk signature"
grep 'filesystem="ntfs"' "$dir/manifest.xml" >/dev/null || fail "manifest: the NTFS system volume is not recognised"
# The generated disk's free space is zeros (a truncated file, mkntfs -Q, no
# file ever deleted), so only-used-clusters must still give the source back.
qemu-img compare -q -f raw -F vpc src.img "$parent" || fail "captured VHD differs from the source (qemu-img compare)"
parent_hash=$(sha256sum <"$parent")

# 2. Repair into a differencing child; a dry run first creates nothing.
"$BIN/drivers-inject" --target vmm --dry-run --into child.vhd "$parent" >dry.txt
grep 'Result: ready after these changes' dry.txt >/dev/null || { cat dry.txt >&2; fail "dry run: not repairable"; }
[ ! -e child.vhd ] || fail "--dry-run created the child"
"$BIN/drivers-inject" --target vmm --into child.vhd --report report.json "$parent" >inject.txt ||
    { cat inject.txt >&2; fail "drivers-inject failed"; }
grep '^Result: ready$' inject.txt >/dev/null || { cat inject.txt >&2; fail "drivers-inject: not ready"; }
grep '"boot_controller_services": \["aac"\]' report.json >/dev/null || fail "report: RAID boot controller not found"
[ "$(sha256sum <"$parent")" = "$parent_hash" ] || fail "drivers-inject --into wrote to the captured parent"

# 3. The chain as vdisk sees it: a clean differencing child of the captured VHD.
"$BIN/vdisk" check child.vhd >check.txt || { cat check.txt >&2; fail "vdisk check child.vhd found problems"; }
"$BIN/vdisk" info --backing-chain child.vhd >info.txt
"$BIN/vdisk" info "$parent" >parent-info.txt
grep '^subformat: differencing$' info.txt >/dev/null || fail "vdisk info: child.vhd is not a differencing disk"
grep '^parent-name: disk0.vhd$' info.txt >/dev/null || fail "vdisk info: parent name"
grep "^backing file: .*srv/w2k3/disk0.vhd$" info.txt >/dev/null || fail "vdisk info: backing file"
grep "^image: .*srv/w2k3/disk0.vhd$" info.txt >/dev/null || fail "vdisk info --backing-chain: the parent is not listed"
puuid=$(sed -n 's/^uuid: //p' parent-info.txt)
grep "^parent-uuid: $puuid$" info.txt >/dev/null || fail "vdisk info: child's parent UUID is not the captured VHD's ($puuid)"

# 4. The merged view has the IDE boot path (read by reglookup, hivexregedit
# and ntfscat from the chain flattened by vdisk: libvhdi cannot serve as the
# reader of a child with partly written blocks, see drivers-inject's tests).
"$BIN/vdisk" convert -O raw child.vhd merged.img
"$BIN/vdisk" compare "$parent" child.vhd >/dev/null 2>&1 && fail "the child does not differ from its parent"
hive='WINDOWS/system32/config/SYSTEM'
reg_dump merged.img "$hive" merged.csv
for cs in ControlSet001 ControlSet002; do
    expect_reg merged.csv "/$cs/Control/CriticalDeviceDatabase/pci#ven_8086&dev_7010/Service,SZ,intelide"
    expect_reg merged.csv "/$cs/Control/CriticalDeviceDatabase/primary_ide_channel/Service,SZ,atapi"
    expect_reg merged.csv "/$cs/Control/CriticalDeviceDatabase/pci#cc_0101/Service,SZ,pciide"
    expect_reg merged.csv "/$cs/Services/atapi/Start,DWORD,0x00000000"
    expect_reg merged.csv "/$cs/Services/IntelIde/Start,DWORD,0x00000000"
    expect_reg merged.csv "/$cs/Services/IntelIde/Group,SZ,System Bus Extender"
    expect_reg merged.csv "/$cs/Services/PCIIde/Start,DWORD,0x00000000"
    expect_reg merged.csv "/$cs/Control/CrashControl/AutoReboot,DWORD,0x00000000"
    expect_reg merged.csv "/$cs/Services/aac/Start,DWORD,0x00000000"
done
expect_reg merged.csv "/Setup/SystemSetupInProgress,DWORD,0x00000000"
expect_reg merged.csv '/MountedDevices/\DosDevices\C:,BINARY,10TN%00~%00%00%00%00%00%00'
extract_file merged.img "$hive" merged.hiv
hivexregedit --export merged.hiv '\ControlSet001\Control\CriticalDeviceDatabase\pci#ven_8086&dev_7010' |
    contains "\"Service\"=hex(1):$(utf16_hex intelide)00,00\$" || fail "hivexregedit: PIIX3 CriticalDeviceDatabase entry"
hivexregedit --export merged.hiv '\ControlSet001\Services\atapi' |
    contains '"Start"=dword:00000000' || fail "hivexregedit: atapi is not boot-start"
for f in intelide.sys pciide.sys pciidex.sys; do
    extract_file merged.img "WINDOWS/system32/drivers/$f" got
    grep "w2k3 driver.cab $f" got >/dev/null || fail "$f is not in the child's view"
done

# 5. The captured parent is still the RAID server it was.
qemu-img convert -f vpc -O raw "$parent" parent.img
reg_dump parent.img "$hive" parent.csv
expect_reg parent.csv "/ControlSet001/Services/atapi/Start,DWORD,0x00000004"
grep -iF 'pci#ven_8086&dev_7010' parent.csv >/dev/null && fail "the parent has the PIIX3 entry"
"$BIN/drivers-inject" --target vmm --dry-run "$parent" | contains 'Result: ready after these changes' ||
    fail "the parent no longer needs the repair"

# 6. A second run on the child has nothing to do and writes nothing.
child_hash=$(sha256sum <child.vhd)
"$BIN/drivers-inject" --target vmm --in-place child.vhd | contains '^Result: nothing to do' || fail "second run on the child changed something"
[ "$(sha256sum <child.vhd)" = "$child_hash" ] || fail "second run wrote to the child"
[ "$(sha256sum <"$parent")" = "$parent_hash" ] || fail "the captured parent changed"
echo ok
