# Windows XP with an APIC HAL going to Virtual Server (no IOAPIC): refused
# with the way out; with --hal acpi-up, a storage driver package (.zip with
# INF + .sys) and --disable-service it is made ready.
source "$SRC/tests/lib.sh"
source "$SRC/tests/drivers-inject/guest.sh"
need reglookup ntfscat python3

make_guest disk.img xp cab dirty
expect_fail 1 'HAL \(ACPI Multiprocessor PC, halmacpi\.dll\) cannot run on target virtualserver: the target has no IOAPIC; rerun with --hal acpi-up' \
    "$BIN/drivers-inject" --target virtualserver --in-place disk.img
grep -q 'vendor hardware service cpqwmgmt' "$WORK/out.txt" || fail "vendor service not reported"

mkdir pkg
cat >pkg/lsi.inf <<'INF'
[Version]
Signature="$Windows NT$"
Class=SCSIAdapter
ClassGUID={4D36E97B-E325-11CE-BFC1-08002BE10318}
[DestinationDirs]
DefaultDestDir = 12
[Manufacturer]
%LSI% = LSI, NTx86
[LSI.NTx86]
%Desc% = lsi_inst, PCI\VEN_1000&DEV_0030
[lsi_inst]
CopyFiles = lsi_files
[lsi_inst.Services]
AddService = lsi_scsi, 0x00000002, lsi_svc
[lsi_svc]
ServiceType = 1
StartType = 3   ; demand start in the package; installed as boot start
ErrorControl = 1
ServiceBinary = %12%\lsi_scsi.sys
LoadOrderGroup = SCSI miniport
AddReg = lsi_reg
[lsi_reg]
HKR, "Parameters\PnpInterface", "5", 0x00010001, 1
[lsi_files]
lsi_scsi.sys
[Strings]
LSI = "LSI Logic"
Desc = "LSI Logic Ultra320 SCSI"
INF
placeholder pkg/lsi_scsi.sys "lsi_scsi.sys from the package"
(cd pkg && python3 -m zipfile -c ../lsi.zip lsi.inf lsi_scsi.sys)

"$BIN/drivers-inject" --target virtualserver --hal acpi-up --drivers lsi.zip \
    --disable-service cpqwmgmt --in-place --report r.json disk.img >out.txt
grep -q '"status": "ready"' r.json || { cat out.txt >&2; fail "not ready"; }
reg_dump disk.img 'WINDOWS/system32/config/SYSTEM' sys.csv
for cs in ControlSet001 ControlSet002; do
    expect_reg sys.csv "/$cs/Control/CriticalDeviceDatabase/pci#ven_1000&dev_0030/Service,SZ,lsi_scsi"
    expect_reg sys.csv "/$cs/Control/CriticalDeviceDatabase/pci#ven_1000&dev_0030/ClassGUID,SZ,{4D36E97B-E325-11CE-BFC1-08002BE10318}"
    expect_reg sys.csv "/$cs/Services/lsi_scsi/Start,DWORD,0x00000000"
    expect_reg sys.csv "/$cs/Services/lsi_scsi/Group,SZ,SCSI miniport"
    expect_reg sys.csv "/$cs/Services/lsi_scsi/ImagePath,EXPAND_SZ,System32\\DRIVERS\\lsi_scsi.sys"
    expect_reg sys.csv "/$cs/Services/lsi_scsi/Parameters/PnpInterface/5,DWORD,0x00000001"
    expect_reg sys.csv "/$cs/Services/cpqwmgmt/Start,DWORD,0x00000004"
    expect_reg sys.csv "/$cs/Control/CriticalDeviceDatabase/pci#ven_8086&dev_7111/Service,SZ,intelide"
done
expect_reg sys.csv "/Setup/SystemSetupInProgress,DWORD,0x00000000"
extract_file disk.img 'WINDOWS/system32/drivers/lsi_scsi.sys' got
grep -q 'lsi_scsi.sys from the package' got || fail "lsi_scsi.sys content"
extract_file disk.img 'WINDOWS/system32/halacpi.dll' got
grep -q 'xp driver.cab halacpi.dll' got || fail "halacpi.dll content"
extract_file disk.img 'WINDOWS/system32/ntkrnlup.exe' got
grep -q 'xp driver.cab ntoskrnl.exe' got || fail "UP kernel content"
extract_file disk.img 'boot.ini' boot.ini
tr -d '\r' <boot.ini >b.txt
sed -n '/\[operating systems\]/{n;p}' b.txt | contains -x 'multi(0)disk(0)rdisk(0)partition(1)\\WINDOWS="xp \[ACPI Uniprocessor PC (PIC) HAL\]" /fastdetect /HAL=halacpi.dll /KERNEL=ntkrnlup.exe' \
    || { cat b.txt >&2; fail "HAL boot.ini entry is not first"; }
grep -qx 'multi(0)disk(0)rdisk(0)partition(1)\\WINDOWS="xp" /fastdetect' b.txt || fail "original entry lost"

after=$(sha256sum <disk.img)
"$BIN/drivers-inject" --target virtualserver --hal acpi-up --drivers lsi.zip --disable-service cpqwmgmt --in-place disk.img \
    | contains 'Result: nothing to do' || fail "second run"
[ "$(sha256sum <disk.img)" = "$after" ] || fail "second run wrote"
