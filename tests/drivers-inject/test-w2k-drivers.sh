# Windows 2000 SP4 without driver.cab: the PCI IDE drivers are nowhere, so
# the run fails with exactly what to supply and leaves the image alone; with
# the driver.cab given by --drivers it succeeds. Also --into's code path and
# usage errors.
source "$SRC/tests/lib.sh"
source "$SRC/tests/drivers-inject/guest.sh"
need reglookup ntfscat sha256sum

make_guest disk.img w2k stale
before=$(sha256sum <disk.img)
expect_fail 1 'intelide\.sys not found in the image or in --drivers; supply the Windows 2000 SP4 driver\.cab' \
    "$BIN/drivers-inject" disk.img
grep -q 'Result: cannot be made ready' "$WORK/out.txt" || fail "summary result"
[ "$(sha256sum <disk.img)" = "$before" ] || fail "a failed run changed the image"

mkdir cab
for f in atapi.sys intelide.sys pciide.sys pciidex.sys; do placeholder cab/$f "w2k sp4 $f"; done
(cd cab && gcab -c -z ../driver.cab *)
"$BIN/drivers-inject" --drivers driver.cab --output=json disk.img >r.json
grep -q '"status": "ready"' r.json || fail "not ready"
grep -q '"id": "acpipic_up"' r.json || fail "HAL"
reg_dump disk.img 'WINNT/system32/config/SYSTEM' sys.csv
expect_reg sys.csv "/ControlSet002/Control/CriticalDeviceDatabase/pci#ven_8086&dev_7010/Service,SZ,intelide"
expect_reg sys.csv "/ControlSet001/Services/PCIIde/Start,DWORD,0x00000000"
expect_reg sys.csv '/MountedDevices/\DosDevices\C:,BINARY,10TN%00~%00%00%00%00%00%00'
extract_file disk.img 'WINNT/system32/drivers/pciidex.sys' got
grep -q 'w2k sp4 pciidex.sys' got || fail "pciidex.sys content"

# Usage errors exit 2 with one line; a missing image exits 1.
expect_fail 2 'no IMAGE' "$BIN/drivers-inject"
expect_fail 2 'unknown --target' "$BIN/drivers-inject" --target bochs disk.img
expect_fail 2 '--hal takes' "$BIN/drivers-inject" --hal mps disk.img
expect_fail 2 'unknown or incomplete option' "$BIN/drivers-inject" --frobnicate disk.img
expect_fail 1 'nosuch\.img' "$BIN/drivers-inject" nosuch.img
expect_fail 1 'no NTFS or FAT volume with a Windows directory' "$BIN/drivers-inject" driver.cab

# --into writes the changes into a new differencing VHD child of a VHD
# and never into the captured image. vhdiinfo (libvhdi) confirms the
# chain; the merged content is read with `vdisk convert` (libvhdi 20210425
# returns zeros for sectors whose bitmap bit is clear in an allocated child
# block, so it cannot serve as the oracle here), and checked with ntfscat
# and reglookup.
need vhdiinfo
make_guest base.img w2k
"$BIN/vdisk" convert -O vhd base.img base.vhd
h=$(sha256sum <base.vhd)
"$BIN/drivers-inject" --dry-run --drivers driver.cab --into child.vhd base.vhd >/dev/null
[ ! -e child.vhd ] || fail "--dry-run created the child"
"$BIN/drivers-inject" --drivers driver.cab --into child.vhd base.vhd >into.txt
[ "$(sha256sum <base.vhd)" = "$h" ] || fail "--into wrote to the base image"
vhdiinfo child.vhd | contains 'Disk type.*Differential' || fail "child.vhd is not a differencing disk"
vhdiinfo child.vhd | contains 'Parent filename.*base.vhd' || fail "child.vhd is not a child of base.vhd"
"$BIN/drivers-inject" --drivers driver.cab child.vhd | contains 'Result: nothing to do' || fail "--into child incomplete"
"$BIN/vdisk" convert -O raw child.vhd merged.img
reg_dump merged.img 'WINNT/system32/config/SYSTEM' merged.csv
expect_reg merged.csv "/ControlSet001/Control/CriticalDeviceDatabase/pci#ven_8086&dev_7010/Service,SZ,intelide"
expect_reg merged.csv "/ControlSet001/Services/atapi/Start,DWORD,0x00000000"
extract_file merged.img 'WINNT/system32/drivers/intelide.sys' got
grep -q 'w2k sp4 intelide.sys' got || fail "intelide.sys through the chain"
# The base still needs the fix: it was never written.
"$BIN/drivers-inject" --dry-run --drivers driver.cab base.vhd | contains 'Result: ready after these changes' \
    || fail "base.vhd was changed"
# In place on a differencing child made by vdisk: only the child changes.
"$BIN/vdisk" create -f vhd -b base.vhd child2.vhd
"$BIN/drivers-inject" --drivers driver.cab child2.vhd >/dev/null
[ "$(sha256sum <base.vhd)" = "$h" ] || fail "in-place on a child wrote to its parent"
"$BIN/drivers-inject" --drivers driver.cab child2.vhd | contains 'Result: nothing to do' || fail "child2 second run"
