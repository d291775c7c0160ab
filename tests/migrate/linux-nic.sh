# p2v migrate on a Linux guest whose kernel has only the AMD PCnet's
# module (pcnet32) among the NIC drivers hypervisors emulate: the libvirt
# VM gets the pcnet, not the e1000 a Linux guest gets by default, and the
# report says why (drivers-inject's inspection, through libguestfs, found
# the module in /lib/modules). The guest has nothing to repair (fstab by
# UUID, ata_piix in its initramfs), so libguestfs runs once (under TCG).
source "$SRC/tests/lib.sh"
source "$SRC/tests/drivers-inject/linux-guest.sh"
source "$SRC/tests/migrate/lib.sh"
need xmllint python3
export LIBGUESTFS_BACKEND_SETTINGS=force_tcg

KV=2.6.32-5-686
UUID=6d3f0b2a-1c4e-4f57-9a1b-2c3d4e5f6a7b
linux_trees $KV
mkdir -p root/lib/modules/$KV/kernel/drivers/net
echo "pcnet32 module for $KV" >root/lib/modules/$KV/kernel/drivers/net/pcnet32.ko
printf 'UUID=%s  /  ext4  errors=remount-ro  0  1\nproc  /proc  proc  defaults  0  0\n' $UUID >root/etc/fstab
# The initramfs already has the target's disk driver.
mkdir -p initrd/lib/modules/$KV/kernel/drivers/ata
echo '#!/bin/sh' >initrd/init
cp root/lib/modules/$KV/kernel/drivers/ata/ata_piix.ko initrd/lib/modules/$KV/kernel/drivers/ata/
(cd initrd && find . | cpio -o -H newc --quiet | gzip) >boot/initrd.img-$KV
cp boot/vmlinuz-$KV boot/initrd.img-$KV root/boot/

truncate -s 64M disk.img
printf 'label: dos\nstart=2048, type=83\n' | sfdisk -q disk.img >/dev/null
truncate -s $(((131072 - 2048) * 512)) root.img
mkfs.ext4 -q -F -U $UUID -d root root.img
dd if=root.img of=disk.img bs=1M oflag=seek_bytes seek=$((2048 * 512)) conv=notrunc status=none
rm -f root.img
sum=$(sha256sum <disk.img)

"$BIN/p2v" migrate --to libvirt --no-verify --disk disk.img -o out >out.txt 2>out.err ||
    { cat out.txt out.err >&2; fail "p2v migrate exited $?"; }
[ "$(sha256sum <disk.img)" = "$sum" ] || fail "the source image changed"
R=out/report.json
python3 -m json.tool out/work/inspect.json | grep -A4 net_drivers >&2 || true
[ "$(json 'd["vm"]["os"]' "$R")" = linux ] || fail "not inspected as Linux: $(json 'd["vm"]["os"]' "$R")"
[ "$(json 'd["vm"]["nics"][0]["model"]' "$R")" = pcnet ] || fail "NIC $(json 'd["vm"]["nics"][0]' "$R"), not the pcnet"
json 'd["vm"]["nics"][0]["why"]' "$R" | grep -F "the guest has its driver pcnet32 (module ($KV))" >/dev/null ||
    fail "the reason is '$(json 'd["vm"]["nics"][0]["why"]' "$R")'"
[ "$(xmllint --xpath 'string(/domain/devices/interface/model/@type)' out/disk.xml)" = pcnet ] || fail "the domain's NIC is not the pcnet"
[ "$(json 'len([w for w in d["warnings"] if w.startswith("NIC ")])' "$R")" = 0 ] || fail "a NIC warning"
echo ok
