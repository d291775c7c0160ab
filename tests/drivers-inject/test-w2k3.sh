# Windows Server 2003 off a RAID miniport, IDE drivers only in driver.cab,
# dirty Setup flag, stale MountedDevices, RAID-BIOS boot-sector geometry:
# dry run leaves the image byte-identical; the fixup (-o: a new copy, the
# input untouched) writes the full MergeIDE set to both control sets; a
# second run (--in-place on the copy) has nothing to do.
source "$SRC/tests/lib.sh"
source "$SRC/tests/drivers-inject/guest.sh"
need reglookup ntfscat sha256sum

make_guest disk.img w2k3 cab dirty stale
before=$(sha256sum <disk.img)

"$BIN/drivers-inject" --dry-run --report dry.json disk.img >dry.txt
[ "$(sha256sum <disk.img)" = "$before" ] || fail "--dry-run changed the image"
grep -q '"dry_run": true' dry.json || fail "dry-run report"
grep -q 'Changes that would be made' dry.txt || fail "dry-run summary"
grep -q 'pci#ven_8086&dev_7010' dry.json || fail "dry run does not list the PIIX3 entry"

"$BIN/drivers-inject" --output=json -o fixed.img disk.img >run.json
grep -q '"status": "ready"' run.json || fail "not ready"
grep -q '"product": "Microsoft Windows Server 2003"' run.json || fail "product"
grep -q '"service_pack": "Service Pack 1"' run.json || fail "service pack"
grep -q '"current_control_set": "ControlSet001"' run.json || fail "current set"
grep -q '"last_known_good_control_set": "ControlSet002"' run.json || fail "lkg set"
grep -q '"id": "acpiapic_mp"' run.json || fail "HAL"
grep -q '"boot_controller_services": \["aac"\]' run.json || fail "boot controller"
grep -q '"disk_signature": "0x4E543031"' run.json || fail "disk signature"
[ "$(sha256sum <disk.img)" = "$before" ] || fail "-o wrote to its input"
# A full, standalone copy in IMAGE's format (raw), nothing left over.
[ "$(stat -c %s fixed.img)" = "$(stat -c %s disk.img)" ] || fail "-o size"
[ ! -e fixed.img.inject-tmp ] || fail "-o left its temporary file"

reg_dump fixed.img 'WINDOWS/system32/config/SYSTEM' sys.csv
for cs in ControlSet001 ControlSet002; do
    for id in 'pci#ven_8086&dev_7010' 'pci#ven_8086&dev_7111' 'pci#ven_8086&dev_7199' 'pci#ven_8086&dev_1230'; do
        expect_reg sys.csv "/$cs/Control/CriticalDeviceDatabase/$id/Service,SZ,intelide"
        expect_reg sys.csv "/$cs/Control/CriticalDeviceDatabase/$id/ClassGUID,SZ,{4D36E96A-E325-11CE-BFC1-08002BE10318}"
    done
    for id in primary_ide_channel secondary_ide_channel '*pnp0600' '*azt0502'; do
        expect_reg sys.csv "/$cs/Control/CriticalDeviceDatabase/$id/Service,SZ,atapi"
    done
    expect_reg sys.csv "/$cs/Control/CriticalDeviceDatabase/pci#cc_0101/Service,SZ,pciide"
    expect_reg sys.csv "/$cs/Control/CriticalDeviceDatabase/pci#ven_1106&dev_0571/Service,SZ,pciide"
    expect_reg sys.csv "/$cs/Control/CriticalDeviceDatabase/gendisk/Service,SZ,disk"
    expect_reg sys.csv "/$cs/Services/atapi/Start,DWORD,0x00000000"
    expect_reg sys.csv "/$cs/Services/atapi/Group,SZ,SCSI miniport"
    expect_reg sys.csv "/$cs/Services/atapi/Tag,DWORD,0x00000019"
    expect_reg sys.csv "/$cs/Services/atapi/ImagePath,EXPAND_SZ,System32\\DRIVERS\\atapi.sys"
    expect_reg sys.csv "/$cs/Services/IntelIde/Start,DWORD,0x00000000"
    expect_reg sys.csv "/$cs/Services/IntelIde/Group,SZ,System Bus Extender"
    expect_reg sys.csv "/$cs/Services/IntelIde/Tag,DWORD,0x00000004"
    expect_reg sys.csv "/$cs/Services/IntelIde/Type,DWORD,0x00000001"
    expect_reg sys.csv "/$cs/Services/PCIIde/Start,DWORD,0x00000000"
    expect_reg sys.csv "/$cs/Services/PCIIde/Tag,DWORD,0x00000003"
    expect_reg sys.csv "/$cs/Services/PCIIde/ImagePath,EXPAND_SZ,System32\\DRIVERS\\pciide.sys"
    expect_reg sys.csv "/$cs/Control/CrashControl/AutoReboot,DWORD,0x00000000"
    # The RAID miniport is left as it was.
    expect_reg sys.csv "/$cs/Services/aac/Start,DWORD,0x00000000"
done
expect_reg sys.csv "/Setup/SystemSetupInProgress,DWORD,0x00000000"
expect_reg sys.csv "/Setup/SetupType,DWORD,0x00000000"
# MountedDevices now name this disk's signature and the partition at 32256.
expect_reg sys.csv '/MountedDevices/\DosDevices\C:,BINARY,10TN%00~%00%00%00%00%00%00'
expect_reg sys.csv '/MountedDevices/\??\Volume{7f8a2b10-0000-11d1-9a0c-806d6172696f},BINARY,10TN%00~%00%00%00%00%00%00'
# hivexregedit reads the written hive as well.
extract_file fixed.img 'WINDOWS/system32/config/SYSTEM' sys.hiv
hivexregedit --export sys.hiv '\ControlSet002\Services\IntelIde' | contains '"Start"=dword:00000000' || fail "hivexregedit"

# The driver files came out of the image's own driver.cab.
for f in intelide.sys pciide.sys pciidex.sys; do
    extract_file fixed.img "WINDOWS/system32/drivers/$f" got
    grep -q "w2k3 driver.cab $f" got || fail "$f content"
done
extract_file fixed.img 'WINDOWS/system32/drivers/atapi.sys' got
grep -q 'atapi.sys (installed)' got || fail "the installed atapi.sys was replaced"

# Boot sector: 64 MiB disk -> 16 heads, 63 sectors/track, 63 hidden sectors.
heads=$(od -An -tu2 -j $((63 * 512 + 0x1A)) -N2 fixed.img | tr -d ' ')
[ "$heads" = 16 ] || fail "boot sector heads $heads"
hidden=$(od -An -tu4 -j $((63 * 512 + 0x1C)) -N4 fixed.img | tr -d ' ')
[ "$hidden" = 63 ] || fail "hidden sectors $hidden"

# Idempotent: nothing to do, not a byte changed.
after=$(sha256sum <fixed.img)
"$BIN/drivers-inject" --in-place fixed.img >again.txt
grep -q 'Result: nothing to do' again.txt || { cat again.txt >&2; fail "second run changed something"; }
[ "$(sha256sum <fixed.img)" = "$after" ] || fail "second run wrote to the image"
