# The Windows-layout test images of drivers-inject (NT 4.0 with the MPS
# multiprocessor HAL, 2000 with the ACPI PIC uniprocessor HAL, 2003 with
# the ACPI APIC multiprocessor HAL; each booting off a RAID miniport)
# captured by p2v serve and migrated (--no-verify: the images hold
# placeholder files and cannot boot) to every target that can be written
# (libvirt, proxmox, hyperv, virtualserver, vmware, ova). The definitions carry ACPI, APIC and the CPU count of the HAL, IDE
# disks, a NIC model with an in-box driver; the repair (drivers-inject
# into an overlay) is in the converted disk and in the report; Virtual
# Server (no I/O APIC) refuses the APIC HALs naming the step; every
# capture's SHA-256 is unchanged.
source "$SRC/tests/lib.sh"
source "$SRC/tests/p2v/lib.sh"
source "$SRC/tests/drivers-inject/guest.sh"
source "$SRC/tests/migrate/lib.sh"
need reglookup ntfscat hivexregedit qemu-img xmllint virt-xml-validate iconv python3

mkdir media
placeholder atapi.sys "nt4 sp6a atapi.sys"
gcab -c -z media/ATAPI.SY_ atapi.sys

# One image per test (migrate_windows_nt4, _w2k, _w2k3: TESTNAME says
# which), so that they run side by side.
# variant  options       HAL: acpi apic vcpus(with --vcpus 2)  system root
case ${TESTNAME:-} in
migrate_windows_nt4) cases="nt4:-:false:true:2:WINNT" ;;
migrate_windows_w2k) cases="w2k:cab:true:false:1:WINNT" ;;
migrate_windows_w2k3) cases="w2k3:cab,dirty,stale:true:true:2:WINDOWS" ;;
*) fail "TESTNAME '${TESTNAME:-}' names no image" ;;
esac
for c in $cases; do
    IFS=: read -r v opts acpi apic vcpus root <<<"$c"
    # shellcheck disable=SC2046
    make_guest "$v.img" "$v" $([ "$opts" = - ] || echo "${opts//,/ }")
    start_server "$WORK/srv" --once
    capture --name "$v" --disk "$v.img" --compress zstd >/dev/null
    rc=0
    wait "$SERVER_PID" || rc=$?
    [ "$rc" -eq 0 ] || { cat "$WORK/server.err" >&2; fail "$v: p2v serve --once exited $rc"; }
    cap=$WORK/srv/$v
    before=$(tree_sum "$cap")
    drivers=()
    [ "$v" = nt4 ] && drivers=(--drivers "$WORK/media")

    for t in libvirt proxmox hyperv virtualserver vmware ova; do
        out=$WORK/out-$v-$t
        rc=0
        "$BIN/p2v" migrate --to "$t" --no-verify --vcpus 2 --memory 256 "${drivers[@]}" -o "$out" "$cap" \
            >"$out.txt" 2>"$out.err" || rc=$?
        [ "$(tree_sum "$cap")" = "$before" ] || fail "$v -> $t: the capture changed"
        if [ "$t" = virtualserver ] && [ "$apic" = true ]; then
            # Virtual Server has no I/O APIC: drivers-inject refuses the HAL.
            [ "$rc" -eq 1 ] || fail "$v -> $t: an APIC HAL was accepted for Virtual Server (exit $rc)"
            grep -F 'step repair failed' "$out.err" >/dev/null || { cat "$out.err" >&2; fail "$v -> $t: the failed step is not named"; }
            [ "$(json '[s["status"] for s in d["steps"]][1]' "$out/report.json")" = failed ] || fail "$v -> $t: report: repair not failed"
            [ "$(json 'd["ready"]' "$out/report.json")" = False ] || fail "$v -> $t: report says ready"
            continue
        fi
        [ "$rc" -eq 0 ] || { cat "$out.txt" "$out.err" >&2; fail "$v -> $t: p2v migrate exited $rc"; }
        r=$out/report.json
        want_vcpus=$vcpus
        [ "$t" = virtualserver ] && want_vcpus=1
        [ "$(json 'd["vm"]["acpi"]' "$r")" = "${acpi^}" ] || fail "$v -> $t: report acpi"
        [ "$(json 'd["vm"]["apic"]' "$r")" = "${apic^}" ] || fail "$v -> $t: report apic"
        [ "$(json 'd["vm"]["vcpus"]' "$r")" = "$want_vcpus" ] || fail "$v -> $t: report vcpus $(json 'd["vm"]["vcpus"]' "$r")"
        [ "$(json 'd["vm"]["clock"]' "$r")" = localtime ] || fail "$v -> $t: clock not localtime"
        [ "$(json 'd["vm"]["disks"][0]["bus"]' "$r")" = ide ] || fail "$v -> $t: disk bus"
        [ "$(json 'd["steps"][1]["status"]' "$r")" = ok ] || fail "$v -> $t: repair step $(json 'd["steps"][1]' "$r")"
        [ "$(json 'd["steps"][1]["detail"].endswith("into an overlay of the source")' "$r")" = True ] || fail "$v -> $t: repair detail"
        [ "$(json 'len(d["repair"]["changes"]) > 0' "$r")" = True ] || fail "$v -> $t: no changes reported"
        model=$(json 'd["vm"]["nics"][0]["model"]' "$r")
        case $t in
        hyperv | virtualserver) [ "$model" = tulip ] || fail "$v -> $t: NIC $model, not the DEC 21140" ;;
        *) case $model in pcnet | e1000 | rtl8139 | ne2k_pci | tulip) ;; *) fail "$v -> $t: NIC $model" ;; esac ;;
        esac
        case $t in
        libvirt)
            d=$out/$v.xml
            virt-xml-validate "$d" domain >/dev/null 2>&1 || fail "$v: virt-xml-validate rejects the domain"
            [ "$(xmllint --xpath 'count(/domain/features/acpi)' "$d")" = "$([ "$acpi" = true ] && echo 1 || echo 0)" ] || fail "$v: libvirt acpi"
            [ "$(xmllint --xpath 'count(/domain/features/apic)' "$d")" = "$([ "$apic" = true ] && echo 1 || echo 0)" ] || fail "$v: libvirt apic"
            [ "$(xmllint --xpath 'string(/domain/vcpu)' "$d")" = "$vcpus" ] || fail "$v: libvirt vcpu"
            [ "$(xmllint --xpath 'string(/domain/clock/@offset)' "$d")" = localtime ] || fail "$v: libvirt clock"
            [ "$(xmllint --xpath 'string(/domain/devices/disk/target/@bus)' "$d")" = ide ] || fail "$v: libvirt bus"
            [ "$(xmllint --xpath 'string(/domain/devices/interface/model/@type)' "$d")" = "$model" ] || fail "$v: libvirt NIC model"
            # The repair is in the converted disk, and not in the capture.
            qemu-img check -q -f qcow2 "$out/$v-disk0.qcow2" || fail "$v: qemu-img check finds the qcow2 damaged"
            qemu-img convert -f qcow2 -O raw "$out/$v-disk0.qcow2" conv.raw
            reg_dump conv.raw "$root/system32/config/SYSTEM" after.csv
            rm -f conv.raw
            expect_reg after.csv "/ControlSet001/Services/atapi/Start,DWORD,0x00000000"
            qemu-img convert -f vpc -O raw "$cap/disk0.vhd" cap.raw
            reg_dump cap.raw "$root/system32/config/SYSTEM" before.csv
            expect_reg before.csv "/ControlSet001/Services/atapi/Start,DWORD,0x00000004"
            rm -f cap.raw
            ;;
        proxmox)
            grep -Fx "acpi: $([ "$acpi" = true ] && echo 1 || echo 0)" "$out/$v.conf" >/dev/null || fail "$v: proxmox acpi"
            grep -Fx "cores: $vcpus" "$out/$v.conf" >/dev/null || fail "$v: proxmox cores"
            grep -Fx "localtime: 1" "$out/$v.conf" >/dev/null || fail "$v: proxmox localtime"
            grep "^ide0: $out/$v-disk0.qcow2,format=qcow2," "$out/$v.conf" >/dev/null || fail "$v: proxmox ide0"
            want_os=other; [ $v = w2k ] && want_os=w2k; [ $v = w2k3 ] && want_os=w2k3
            grep -Fx "ostype: $want_os" "$out/$v.conf" >/dev/null || fail "$v: proxmox ostype"
            ;;
        hyperv)
            grep -Fx "Set-VMProcessor -VM \$vm -Count $vcpus" "$out/$v.ps1" >/dev/null || fail "$v: hyperv CPUs"
            grep -F -- '-Generation 1' "$out/$v.ps1" >/dev/null || fail "$v: hyperv generation"
            grep -F -- "-ControllerType IDE" "$out/$v.ps1" >/dev/null || fail "$v: hyperv IDE"
            [ "$(qemu-img info -f vhdx --output=json "$out/$v-disk0.vhdx" | json 'd["virtual-size"]' /dev/stdin)" = \
              "$(stat -c %s "$v.img")" ] || fail "$v: hyperv VHDX size is not exact"
            ;;
        vmware)
            grep -Fx "numvcpus = \"$vcpus\"" "$out/$v.vmx" >/dev/null || fail "$v: vmx numvcpus"
            want_os=winnt; [ $v = w2k ] && want_os=win2000serv; [ $v = w2k3 ] && want_os=winnetenterprise
            grep -Fx "guestOS = \"$want_os\"" "$out/$v.vmx" >/dev/null || fail "$v: vmx guestOS"
            grep -Fx "ide0:0.fileName = \"$v-disk0.vmdk\"" "$out/$v.vmx" >/dev/null || fail "$v: vmx disk"
            want_nic=vlance; [ "$model" = e1000 ] && want_nic=e1000
            grep -Fx "ethernet0.virtualDev = \"$want_nic\"" "$out/$v.vmx" >/dev/null || fail "$v: vmx NIC"
            [ "$(qemu-img info --output=json "$out/$v-disk0.vmdk" | json 'd["format"], d["format-specific"]["data"]["create-type"]' /dev/stdin)" = \
              "('vmdk', 'monolithicSparse')" ] || fail "$v: not a monolithicSparse VMDK"
            ;;
        ova)
            tar -xOf "$out/$v.ova" "$v.ovf" >ovf.xml || fail "$v: no $v.ovf in the OVA"
            ox() { xmllint --xpath "string(//*[local-name()='$1']/@*[local-name()='$2'])" ovf.xml; }
            case $v in nt4) want_os=18:winNTGuest ;; w2k) want_os=58:win2000ServGuest ;; *) want_os=69:winNetEnterpriseGuest ;; esac
            [ "$(ox OperatingSystemSection id):$(ox OperatingSystemSection osType)" = "$want_os" ] || fail "$v: OVF OS section"
            [ "$(xmllint --xpath "string(//*[local-name()='Item'][*[local-name()='ResourceType']='3']/*[local-name()='VirtualQuantity'])" ovf.xml)" = "$vcpus" ] ||
                fail "$v: OVF CPUs"
            want_nic=PCNet32; [ "$model" = e1000 ] && want_nic=E1000
            [ "$(xmllint --xpath "string(//*[local-name()='Item'][*[local-name()='ResourceType']='10']/*[local-name()='ResourceSubType'])" ovf.xml)" = "$want_nic" ] ||
                fail "$v: OVF NIC"
            ;;
        virtualserver)
            iconv -f UTF-16 -t UTF-8 "$out/$v.vmc" | sed 's/encoding="UTF-16"/encoding="UTF-8"/' >vmc.xml
            [ "$(xmllint --xpath 'string(//ram_size)' vmc.xml)" = 256 ] || fail "$v: vmc memory"
            [ "$(xmllint --xpath 'string(//ide_controller[@id="0"]/location[@id="0"]/pathname/relative)' vmc.xml)" = ".\\$v-disk0.vhd" ] || fail "$v: vmc disk"
            ;;
        esac
    done
    echo "$v: acpi=$acpi apic=$apic vcpus=$vcpus, all targets checked"
done

[ "$v" = w2k3 ] || { echo ok; exit 0; }

# The way out for Virtual Server: --hal acpi-up (drivers-inject adds a
# boot.ini entry with halacpi.dll); the VM is then built for that HAL.
cap=$WORK/srv/w2k3
before=$(tree_sum "$cap")
"$BIN/p2v" migrate --to virtualserver --no-verify --hal acpi-up -o vs-hal "$cap" >vs-hal.txt 2>vs-hal.err ||
    { cat vs-hal.txt vs-hal.err >&2; fail "w2k3 -> virtualserver --hal acpi-up failed"; }
[ "$(json '(d["vm"]["acpi"], d["vm"]["apic"], d["vm"]["vcpus"])' vs-hal/report.json)" = "(True, False, 1)" ] ||
    fail "--hal acpi-up: the VM is not ACPI without APIC on one CPU"
json 'd["repair"]["changes"]' vs-hal/report.json | grep -F 'halacpi.dll' >/dev/null || fail "--hal acpi-up: no HAL change reported"
[ "$(tree_sum "$cap")" = "$before" ] || fail "--hal: the capture changed"
# --disk with a raw image: repaired through a working VHD copy, the image unchanged.
raw_sum=$(sha256sum <w2k3.img)
"$BIN/p2v" migrate --to hyperv --no-verify --disk w2k3.img -o raw-disk >raw-disk.txt 2>raw-disk.err ||
    { cat raw-disk.txt raw-disk.err >&2; fail "--disk w2k3.img failed"; }
[ "$(sha256sum <w2k3.img)" = "$raw_sum" ] || fail "--disk: the raw image changed"
json 'd["steps"][1]["detail"]' raw-disk/report.json | grep -F 'a working copy of the source' >/dev/null || fail "--disk: repair detail"
qemu-img convert -f vhdx -O raw raw-disk/w2k3-disk0.vhdx conv.raw
reg_dump conv.raw WINDOWS/system32/config/SYSTEM x.csv
rm -f conv.raw
expect_reg x.csv "/ControlSet001/Services/atapi/Start,DWORD,0x00000000"
expect_fail 2 "--hal: 'mps' is not" "$BIN/p2v" migrate --hal mps "$cap"
echo ok
