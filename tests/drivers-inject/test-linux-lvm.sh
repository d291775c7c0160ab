# A Linux server on LVM imaged off a Smart Array: the root is an ext4 LV
# (vg0/root) in a VG on the second MBR partition, fstab names it
# /dev/mapper/vg0-root, /home as /dev/vg0/home and /boot as
# /dev/cciss/c0d0p1; GRUB legacy boots root=/dev/mapper/vg0-root with a
# device.map for the cciss disk; the kernel (2.6.18) predates libata PATA,
# so the target names the disk hda and needs piix, which the initramfs
# lacks. The fixup must find the root among the LVs, rewrite only the
# controller-bound names, leave the LVM names alone, and rebuild the
# initramfs. The guest is laid out by guestfish (one appliance launch,
# TCG: slow), the fixup is one more launch; the results are read with
# debugfs at the LV's place on the disk (pe_start from LVM itself).
source "$SRC/tests/lib.sh"
source "$SRC/tests/drivers-inject/linux-guest.sh"
need guestfish

KV=2.6.18-6-686
ROOT_UUID=3e1d5a7c-2b4f-4d6e-8a9b-0c1d2e3f4a5b
BOOT_UUID=7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}

linux_trees $KV
mkdir -p root/home
cat >root/etc/fstab <<'FSTAB'
# /etc/fstab of server2 (HP Smart Array, LVM)
/dev/mapper/vg0-root  /      ext4  errors=remount-ro  0  1
/dev/cciss/c0d0p1     /boot  ext2  defaults           0  2
/dev/vg0/home         /home  ext4  defaults           0  2
proc                  /proc  proc  defaults           0  0
FSTAB
cat >boot/grub/menu.lst <<MENU
default 0
title Debian GNU/Linux, kernel $KV
root (hd0,0)
kernel /vmlinuz-$KV root=/dev/mapper/vg0-root ro quiet
initrd /initrd.img-$KV
MENU
echo '(hd0) /dev/cciss/c0d0' >boot/grub/device.map
mkdir -p home/admin
echo 'home of admin' >home/admin/.profile

truncate -s 64M disk.img
printf 'label: dos\nstart=2048, size=32768, type=83\nstart=34816, type=8e\n' | sfdisk -q disk.img >/dev/null
truncate -s 16M boot.img
truncate -s 32M root.img
truncate -s 8M home.img
mkfs.ext2 -q -F -U $BOOT_UUID -d boot boot.img
mkfs.ext4 -q -F -U $ROOT_UUID -d root root.img
mkfs.ext4 -q -F -d home home.img
dd if=boot.img of=disk.img bs=1M oflag=seek_bytes seek=$((2048 * 512)) conv=notrunc status=none
guestfish --format=raw -a disk.img -- run : pvcreate /dev/sda2 : vgcreate vg0 /dev/sda2 \
    : lvcreate root vg0 32 : lvcreate home vg0 8 \
    : upload root.img /dev/vg0/root : upload home.img /dev/vg0/home : pvs-full >pvs.txt \
    || fail "guestfish could not lay out the LVM guest"
pe_start=$(sed -n 's/^ *pe_start: //p' pvs.txt)
[ -n "$pe_start" ] || { cat pvs.txt >&2; fail "no pe_start from pvs-full"; }
# vg0/root is the VG's first LV: its first extent is at pe_start.
lv=$((34816 + pe_start / 512)) lv_sectors=$((32 * 2048))
dd if=disk.img bs=512 skip=$lv count=8 status=none | cmp - <(head -c 4096 root.img) \
    || fail "vg0/root is not at pe_start $pe_start"
rm -f boot.img root.img home.img

before=$(sha256sum <disk.img)
"$BIN/drivers-inject" --in-place --report run.json disk.img >run.txt || { cat run.txt >&2; fail "fixup failed"; }
grep -q '"status": "ready"' run.json || { cat run.txt >&2; fail "not ready"; }
[ "$(sha256sum <disk.img)" != "$before" ] || fail "nothing was written"
grep -q 'update-initramfs -u -k '$KV run.json || { cat run.txt >&2; fail "no initramfs rebuild"; }

guest_cat $lv $lv_sectors /etc/fstab >fstab
grep -q '^/dev/mapper/vg0-root  */  *ext4' fstab || { cat fstab >&2; fail "fstab: LVM root changed"; }
grep -q "^UUID=$BOOT_UUID  */boot  " fstab || { cat fstab >&2; fail "fstab /boot"; }
grep -q '^/dev/vg0/home  */home  ' fstab || { cat fstab >&2; fail "fstab: LVM /home changed"; }
grep -q '^# /etc/fstab of server2' fstab || fail "fstab comment lost"
contains cciss fstab && { cat fstab >&2; fail "fstab still names cciss"; }
guest_cat 2048 32768 /grub/menu.lst >menu.lst
grep -q "kernel /vmlinuz-$KV root=/dev/mapper/vg0-root ro quiet" menu.lst || { cat menu.lst >&2; fail "menu.lst"; }
# 2.6.18 drives PIIX with the IDE layer: the disk is hda on the target.
guest_cat 2048 32768 /grub/device.map | contains -x '(hd0) /dev/hda' || fail "device.map"
guest_cat $lv $lv_sectors /etc/initramfs-tools/modules | contains -x piix || fail "initramfs-tools/modules"
guest_cat 2048 32768 /initrd.img-$KV | gzip -dc | cpio -t --quiet >list
grep -q "lib/modules/$KV/kernel/drivers/ide/pci/piix.ko" list || { cat list >&2; fail "initrd lacks piix"; }
grep -q "cciss.ko" list || fail "initrd lost cciss"
contains ata_piix list && fail "initrd got ata_piix for a pre-libata kernel"
true
