# Windows 2000 SP4 without driver.cab: the PCI IDE drivers are nowhere, so
# the run fails with exactly what to supply and leaves the image alone; with
# the driver.cab given by --drivers it succeeds. Also --into's and -o's
# code paths (what each --target can read) and usage errors.
source "$SRC/tests/lib.sh"
source "$SRC/tests/drivers-inject/guest.sh"
need reglookup ntfscat sha256sum

make_guest disk.img w2k stale
before=$(sha256sum <disk.img)
expect_fail 1 'intelide\.sys not found in the image or in --drivers; supply the Windows 2000 SP4 driver\.cab' \
    "$BIN/drivers-inject" --in-place disk.img
grep -q 'Result: cannot be made ready' "$WORK/out.txt" || fail "summary result"
contains 'Changes made' "$WORK/out.txt" && fail "summary: 'Changes made' for a run that wrote nothing"
[ "$(sha256sum <disk.img)" = "$before" ] || fail "a failed run changed the image"

mkdir cab
for f in atapi.sys intelide.sys pciide.sys pciidex.sys; do placeholder cab/$f "w2k sp4 $f"; done
(cd cab && gcab -c -z ../driver.cab *)
"$BIN/drivers-inject" --drivers driver.cab --in-place --output=json disk.img >r.json
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
expect_fail 1 'nosuch\.img' "$BIN/drivers-inject" --dry-run nosuch.img
expect_fail 1 'no NTFS or FAT volume with a Windows directory' "$BIN/drivers-inject" --dry-run driver.cab
# Safe by default: without -o, --into, --in-place (or --dry-run) nothing
# runs; the three exclude each other; qemu cannot read a VHD child.
h=$(sha256sum <disk.img)
expect_fail 2 'say where the repaired image goes: -o OUT' "$BIN/drivers-inject" --drivers driver.cab disk.img
expect_fail 2 'exclude each other' "$BIN/drivers-inject" -o x.img --in-place disk.img
expect_fail 2 'exclude each other' "$BIN/drivers-inject" -o x.img --into x.vhd disk.img
expect_fail 2 '--target cannot read a differencing disk of the format --into names.*: qemu' \
    "$BIN/drivers-inject" --target qemu --into x.vhd disk.img
expect_fail 2 '--target cannot read a differencing disk of the format --into names.*: hyperv' \
    "$BIN/drivers-inject" --target hyperv --into x.qcow2 disk.img
expect_fail 1 'disk\.img' "$BIN/drivers-inject" -o disk.img disk.img
ln -s disk.img link.img
expect_fail 1 'link\.img' "$BIN/drivers-inject" -o link.img disk.img
# -o's temporary name (OUT.inject-tmp) is never an input either.
cp disk.img t.inject-tmp
expect_fail 1 't\.inject-tmp' "$BIN/drivers-inject" --drivers driver.cab -o t t.inject-tmp
cmp disk.img t.inject-tmp || fail "-o replaced its input through the temporary name"
[ ! -e t ] || fail "a refused -o created its output"
[ "$(sha256sum <disk.img)" = "$h" ] || fail "a refused run changed the image"
[ ! -e x.img ] && [ ! -e x.vhd ] || fail "a refused run created an output"

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
"$BIN/drivers-inject" --drivers driver.cab --dry-run child.vhd | contains 'Result: nothing to do' || fail "--into child incomplete"
"$BIN/vdisk" convert -O raw child.vhd merged.img
reg_dump merged.img 'WINNT/system32/config/SYSTEM' merged.csv
expect_reg merged.csv "/ControlSet001/Control/CriticalDeviceDatabase/pci#ven_8086&dev_7010/Service,SZ,intelide"
expect_reg merged.csv "/ControlSet001/Services/atapi/Start,DWORD,0x00000000"
extract_file merged.img 'WINNT/system32/drivers/intelide.sys' got
grep -q 'w2k sp4 intelide.sys' got || fail "intelide.sys through the chain"
# The base still needs the fix: it was never written.
"$BIN/drivers-inject" --dry-run --drivers driver.cab base.vhd | contains 'Result: ready after these changes' \
    || fail "base.vhd was changed"
# --target qemu --into a qcow2 child of the VHD: qemu reads that chain
# (qemu-img sees the VHD as its backing file and the same bytes as vdisk).
if command -v qemu-img >/dev/null; then
    "$BIN/drivers-inject" --target qemu --drivers driver.cab --into childq.qcow2 base.vhd >/dev/null
    [ "$(sha256sum <base.vhd)" = "$h" ] || fail "--into qcow2 wrote to the base image"
    qemu-img info childq.qcow2 | contains 'backing file: base.vhd' || fail "childq.qcow2 has no backing file"
    qemu-img convert -O raw childq.qcow2 q2.raw
    "$BIN/vdisk" convert -O raw childq.qcow2 v2.raw
    cmp q2.raw v2.raw || fail "qemu-img and vdisk read childq.qcow2 differently"
    reg_dump q2.raw 'WINNT/system32/config/SYSTEM' q2.csv
    expect_reg q2.csv "/ControlSet001/Services/atapi/Start,DWORD,0x00000000"
fi
# In place on a differencing child made by vdisk: only the child changes.
"$BIN/vdisk" create -f vhd -b base.vhd child2.vhd
"$BIN/drivers-inject" --drivers driver.cab --in-place child2.vhd >/dev/null
[ "$(sha256sum <base.vhd)" = "$h" ] || fail "in-place on a child wrote to its parent"
"$BIN/drivers-inject" --drivers driver.cab --dry-run child2.vhd | contains 'Result: nothing to do' || fail "child2 second run"

# -o writes a full, standalone copy that the --target reads: for qemu a
# copy of the chain in IMAGE's format (VHD), with no parent (qemu-img
# checks it and reads the fix); for hyperv a VHD even from a raw image.
"$BIN/vdisk" create -f vhd -b base.vhd child3.vhd
"$BIN/drivers-inject" --target qemu --drivers driver.cab -o q.vhd child3.vhd >q.txt || { cat q.txt >&2; fail "-o qemu"; }
contains '^Result: ready$' q.txt || fail "-o qemu not ready"
[ "$(sha256sum <base.vhd)" = "$h" ] || fail "-o wrote to the base"
vhdiinfo q.vhd | contains 'Disk type.*Dynamic' || fail "q.vhd is not a standalone dynamic VHD"
vhdiinfo q.vhd | contains 'Parent' && fail "q.vhd has a parent"
"$BIN/vdisk" convert -O raw q.vhd q.img
if command -v qemu-img >/dev/null; then
    qemu-img info q.vhd | contains 'backing file' && fail "qemu sees a backing file in q.vhd"
    qemu-img convert -f vpc -O raw q.vhd q-qemu.img
    cmp q.img q-qemu.img || fail "qemu reads q.vhd differently from vdisk"
fi
reg_dump q.img 'WINNT/system32/config/SYSTEM' q.csv
expect_reg q.csv "/ControlSet001/Services/PCIIde/Start,DWORD,0x00000000"
"$BIN/drivers-inject" --target qemu --drivers driver.cab --dry-run q.vhd | contains 'Result: nothing to do' \
    || fail "q.vhd incomplete"
make_guest raw.img w2k
"$BIN/drivers-inject" --target hyperv --drivers driver.cab -o h.vhd raw.img >/dev/null || fail "-o hyperv"
vhdiinfo h.vhd | contains 'Disk type.*Dynamic' || fail "-o for hyperv is not a VHD"
