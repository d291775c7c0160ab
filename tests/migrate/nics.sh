# p2v migrate chooses each NIC model from the drivers installed in the
# image (drivers-inject's inspection: system32\drivers and the services of
# the SYSTEM hive; on 2000/XP/2003 also the image's driver cabinets, from
# which Plug and Play installs a driver), among the NICs the target
# emulates, and warns when the guest has a driver for none. And every disk
# of a multi-disk machine is converted and attached in boot order: the
# system disk (the first with an OS) repaired and booted first, the data
# disks converted as is, as the report says. Windows-layout images of the
# drivers-inject tests; --no-verify (they hold placeholder files).
source "$SRC/tests/lib.sh"
source "$SRC/tests/drivers-inject/guest.sh"
source "$SRC/tests/migrate/lib.sh"
need ntfscat reglookup hivexregedit gcab xmllint virt-xml-validate python3 qemu-img

# add_nic IMAGE VARIANT DRIVER SERVICE: installs a NIC driver as Windows
# setup does: the file in system32\drivers and its service (group NDIS)
# in both control sets.
add_nic() {
    local img=$1 root=WINDOWS
    [ "$2" = nt4 ] && root=WINNT
    extract_file "$img" "$root/system32/config/SYSTEM" SYSTEM.hive
    {
        printf 'Windows Registry Editor Version 5.00\n\n'
        for cs in ControlSet001 ControlSet002; do
            printf '[\\%s\\Services\\%s]\n"Type"=dword:00000001\n"Start"=dword:00000003\n"Group"="NDIS"\n' $cs "$4"
            printf '"ImagePath"="System32\\\\DRIVERS\\\\%s.sys"\n\n' "$3"
        done
    } >nic.reg
    hivexregedit --merge SYSTEM.hive nic.reg
    placeholder "$3.sys" "$2 $3.sys"
    "$BUILD/tests/drivers-inject/mkguest" "$img" $((63 * 512)) "SYSTEM.hive=$root\\system32\\config\\SYSTEM" \
        "$3.sys=$root\\system32\\drivers\\$3.sys" || fail "mkguest: cannot install $3 into $img"
    rm -f SYSTEM.hive nic.reg "$3.sys"
}

# add_sp_cab IMAGE VARIANT FILE: FILE only in the image's sp1.cab (what a
# service pack leaves in Driver Cache\i386), not installed.
add_sp_cab() {
    local root=WINDOWS
    [ "$2" = nt4 ] && root=WINNT
    mkdir -p spcab
    placeholder "spcab/$3" "$2 sp1.cab $3"
    (cd spcab && gcab -c -z ../sp1.cab "$3")
    "$BUILD/tests/drivers-inject/mkguest" "$1" $((63 * 512)) "sp1.cab=$root\\Driver Cache\\i386\\sp1.cab" ||
        fail "mkguest: cannot add sp1.cab to $1"
    rm -rf spcab sp1.cab
}

# migrate NAME TARGET ARGS...: p2v migrate --no-verify into out-NAME.
migrate() {
    local name=$1 t=$2
    shift 2
    "$BIN/p2v" migrate --to "$t" --no-verify -o "out-$name" "$@" >"$name.txt" 2>"$name.err" ||
        { cat "$name.txt" "$name.err" >&2; fail "$name: p2v migrate --to $t exited $?"; }
    R=out-$name/report.json
}
nic_model() { json 'd["vm"]["nics"][0]["model"]' "$R"; }
nic_why() { json 'd["vm"]["nics"][0]["why"]' "$R"; }
nic_warnings() { json 'len([w for w in d["warnings"] if w.startswith("NIC ")])' "$R"; }

# 1. 2003 with only the DEC 21140's driver installed: libvirt gets the
# tulip (its pcnet default has no driver there), with the reasoning.
make_guest dec.img w2k3 cab
add_nic dec.img w2k3 dc21x4 dc21x4
migrate dec-libvirt libvirt --disk dec.img
[ "$(nic_model)" = tulip ] || fail "dc21x4 only: libvirt NIC $(nic_model), not tulip"
nic_why | grep -F 'the guest has its driver dc21x4 (WINDOWS\system32\drivers\dc21x4.sys, service dc21x4)' >/dev/null ||
    fail "dc21x4 only: the reason is '$(nic_why)'"
[ "$(nic_warnings)" = 0 ] || fail "dc21x4 only: a NIC warning on libvirt"
[ "$(xmllint --xpath 'string(/domain/devices/interface/model/@type)' out-dec-libvirt/dec.xml)" = tulip ] ||
    fail "dc21x4 only: the domain's NIC is not the tulip"
virt-xml-validate out-dec-libvirt/dec.xml domain >/dev/null 2>&1 || fail "virt-xml-validate rejects the tulip domain"
grep -F 'the guest has its driver dc21x4' out-dec-libvirt/report.html >/dev/null || fail "report.html: no NIC reasoning"
# Proxmox has no DEC 21140: a warning, and the in-box PCnet.
migrate dec-proxmox proxmox --disk dec.img
[ "$(nic_model)" = pcnet ] || fail "dc21x4 only: proxmox NIC $(nic_model)"
[ "$(nic_warnings)" = 1 ] || fail "dc21x4 only: no NIC warning on proxmox"
json 'd["warnings"]' "$R" | grep -F 'no driver for any NIC proxmox emulates (it has dc21x4)' >/dev/null ||
    fail "proxmox: the warning does not say what the guest has: $(json 'd["warnings"]' "$R")"
grep '^net0: pcnet,' out-dec-proxmox/dec.conf >/dev/null || fail "proxmox: net0 is not the pcnet"
grep -F 'no driver for any NIC proxmox emulates' out-dec-proxmox/report.html >/dev/null || fail "report.html: no NIC warning"

# 2. 2003 with the e1000 installed and the DEC 21140's driver only in its
# sp1.cab: libvirt takes the e1000; Hyper-V's legacy adapter is the DEC,
# which Plug and Play installs from the cabinet: no warning.
make_guest e1k.img w2k3 cab
add_nic e1k.img w2k3 e1000325 E1000
add_sp_cab e1k.img w2k3 dc21x4.sys
migrate e1k-libvirt libvirt --disk e1k.img
[ "$(nic_model)" = e1000 ] || fail "e1000325: libvirt NIC $(nic_model)"
migrate e1k-hyperv hyperv --disk e1k.img
[ "$(nic_model)" = tulip ] || fail "e1000325: hyperv NIC $(nic_model)"
nic_why | grep -F 'Plug and Play installs dc21x4.sys in WINDOWS\Driver Cache\i386\sp1.cab' >/dev/null ||
    fail "hyperv: the reason is '$(nic_why)'"
[ "$(nic_warnings)" = 0 ] || fail "e1000325 + cab: a NIC warning on hyperv"
grep -F 'Add-VMNetworkAdapter' out-e1k-hyperv/e1k.ps1 | grep -F -- '-IsLegacy $true' >/dev/null || fail "hyperv: no legacy adapter"

# 3. NT 4.0 has no Plug and Play: its cabinets do not count. With only
# the PCnet's pcntn4m installed, Hyper-V (DEC only) warns; libvirt takes the PCnet.
placeholder atapi.sys "nt4 sp6a atapi.sys"
mkdir media && gcab -c -z media/ATAPI.SY_ atapi.sys
make_guest nt4.img nt4
add_nic nt4.img nt4 pcntn4m pcntn4m
add_sp_cab nt4.img nt4 dc21x4.sys
migrate nt4-hyperv hyperv --drivers "$WORK/media" --disk nt4.img
[ "$(nic_model)" = tulip ] || fail "nt4: hyperv NIC $(nic_model)"
[ "$(nic_warnings)" = 1 ] || fail "nt4: no NIC warning on hyperv (a cabinet counted on NT 4.0)"
migrate nt4-libvirt libvirt --drivers "$WORK/media" --disk nt4.img
[ "$(nic_model)" = pcnet ] || fail "nt4: libvirt NIC $(nic_model)"
nic_why | grep -F 'pcntn4m' >/dev/null || fail "nt4: the reason is '$(nic_why)'"
echo "NIC models: ok"

# 4. Two disks, the data disk first: the OS is found on the second, which
# is repaired and attached first (hda: the BIOS boots it, NTLDR's
# rdisk(0)); the data disk follows, converted as is.
truncate -s 16M data.img
printf 'label: dos\nstart=2048, type=6\n' | sfdisk -q data.img
printf 'p2vkit data disk\n' | dd of=data.img bs=512 seek=4096 conv=notrunc status=none
data_sum=$(sha256sum <data.img)
dec_sum=$(sha256sum <dec.img)
migrate two libvirt --name two --disk data.img --disk dec.img
[ "$(sha256sum <data.img)" = "$data_sum" ] && [ "$(sha256sum <dec.img)" = "$dec_sum" ] || fail "two disks: a source changed"
[ "$(json '[(x["index"], x["boot_order"], x["system"], x["device"]) for x in d["vm"]["disks"]]' "$R")" = \
  "[(1, 1, True, 'hda'), (0, 2, False, 'hdb')]" ] || fail "two disks: order/boot order/system $(json 'd["vm"]["disks"]' "$R")"
json 'd["vm"]["disks"][1]["repair"]' "$R" | grep -F 'data disk: converted as is (drivers-inject repairs the system disk only)' >/dev/null ||
    fail "two disks: the data disk's repair is '$(json 'd["vm"]["disks"][1]["repair"]' "$R")'"
json 'd["vm"]["disks"][0]["repair"]' "$R" | grep -F 'system disk:' >/dev/null || fail "two disks: the system disk's repair"
json 'd["steps"][0]["detail"]' "$R" | grep -F 'on disk 1' >/dev/null || fail "two disks: inspect does not name disk 1"
json 'd["steps"][1]["detail"]' "$R" | grep -F 'on disk 1 (the system disk); disk 0 converted as is' >/dev/null ||
    fail "two disks: repair detail '$(json 'd["steps"][1]["detail"]' "$R")'"
d="out-two/two.xml"
[ "$(xmllint --xpath 'count(/domain/devices/disk)' "$d")" = 2 ] || fail "two disks: not both attached"
[ "$(xmllint --xpath 'string(/domain/devices/disk[target/@dev="hda"]/source/@file)' "$d")" = "$WORK/out-two/two-disk1.qcow2" ] ||
    fail "two disks: hda is not the system disk"
[ "$(xmllint --xpath 'string(/domain/devices/disk[target/@dev="hdb"]/source/@file)' "$d")" = "$WORK/out-two/two-disk0.qcow2" ] ||
    fail "two disks: hdb is not the data disk"
[ "$(xmllint --xpath 'string(/domain/devices/disk[target/@dev="hda"]/boot/@order)' "$d")" = 1 ] || fail "two disks: hda does not boot first"
virt-xml-validate "$d" domain >/dev/null 2>&1 || fail "two disks: virt-xml-validate rejects the domain"
qemu-img compare -q -f qcow2 -F raw out-two/two-disk0.qcow2 data.img || fail "two disks: the data disk's content changed"
# The repair is in the system disk, not in the data disk.
qemu-img convert -f qcow2 -O raw out-two/two-disk1.qcow2 sys.raw
reg_dump sys.raw WINDOWS/system32/config/SYSTEM sys.csv
rm -f sys.raw
expect_reg sys.csv "/ControlSet001/Services/atapi/Start,DWORD,0x00000000"
grep -F 'data disk: converted as is' out-two/report.html >/dev/null || fail "report.html: the data disk's repair"
echo ok
