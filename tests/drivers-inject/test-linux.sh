# A Linux server imaged off a Smart Array: fstab names /dev/cciss/c0d0p2
# and /dev/hda1, GRUB legacy boots root=/dev/cciss/c0d0p2, and the
# initramfs has cciss but no ata_piix. The fixup (libguestfs, under TCG
# here: slow) rewrites fstab to UUID=, the bootloader to the target's
# names, and rebuilds the initramfs with the guest's own update-initramfs
# (a busybox script in this generated guest), into a new image (-o). Dry
# run and second run (--in-place) leave the image byte-identical. The
# fstab has a NUL byte and 1 MiB after it: all of it is kept. Every ext
# partition is checked with e2fsck before and after: a damaged one is refused. Checked with debugfs, which shares no code.
source "$SRC/tests/lib.sh"
source "$SRC/tests/drivers-inject/linux-guest.sh"
need vhdiinfo

KV=2.6.32-5-686
ROOT_UUID=6d3f0b2a-1c4e-4f57-9a1b-2c3d4e5f6a7b
BOOT_UUID=0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d

linux_trees $KV
cat >root/etc/fstab <<'FSTAB'
# /etc/fstab of server1 (HP Smart Array)
/dev/cciss/c0d0p2  /      ext4  errors=remount-ro  0  1
/dev/hda1          /boot  ext2  defaults           0  2
proc               /proc  proc  defaults           0  0
FSTAB
# A NUL byte, then 1 MiB more of the file: every byte after it is kept
# (fstab and the other files are byte buffers, not C strings).
{ printf '# NUL ahead\0after the NUL\n'; for i in $(seq 1 16384); do printf '# padding line %05d of sixty-four bytes, kept byte for byte...\n' $i; done
  echo '# last line of fstab'; } >>root/etc/fstab
fstab_size=$(stat -c %s root/etc/fstab)
cat >boot/grub/menu.lst <<MENU
default 0
title Debian GNU/Linux, kernel $KV
root (hd0,0)
kernel /vmlinuz-$KV root=/dev/cciss/c0d0p2 ro quiet
initrd /initrd.img-$KV
MENU
echo '(hd0) /dev/cciss/c0d0' >boot/grub/device.map

truncate -s 64M disk.img
printf 'label: dos\nstart=2048, size=32768, type=83\nstart=34816, type=83\n' | sfdisk -q disk.img >/dev/null
truncate -s $((32768 * 512)) boot.img
truncate -s $(((131072 - 34816) * 512)) root.img
mkfs.ext2 -q -F -U $BOOT_UUID -d boot boot.img
mkfs.ext4 -q -F -U $ROOT_UUID -d root root.img
dd if=boot.img of=disk.img bs=1M oflag=seek_bytes seek=$((2048 * 512)) conv=notrunc status=none
dd if=root.img of=disk.img bs=1M oflag=seek_bytes seek=$((34816 * 512)) conv=notrunc status=none
rm -f boot.img root.img
# The same guest as a dynamic VHD, for the NBD bridge and --into below.
"$BIN/vdisk" convert -O vhd disk.img disk.vhd

cp disk.img bad.img
before=$(sha256sum <disk.img)
"$BIN/drivers-inject" --dry-run --report dry.json disk.img >dry.txt
[ "$(sha256sum <disk.img)" = "$before" ] || fail "--dry-run changed the image"
grep -q '"os": "linux"' dry.json || fail "not inspected as Linux"
grep -q "update-initramfs -u -k $KV" dry.json || { cat dry.txt >&2; fail "no initramfs rebuild planned"; }

# -o: a new image (through the NBD bridge); the input stays as it was.
"$BIN/drivers-inject" -o fixed.img --report run.json disk.img >run.txt || { cat run.txt >&2; fail "fixup failed"; }
grep -q '"status": "ready"' run.json || fail "not ready"
[ "$(sha256sum <disk.img)" = "$before" ] || fail "-o wrote to its input"
mv fixed.img disk.img
guest_cat 34816 96256 /etc/fstab >fstab
grep -q "^UUID=$ROOT_UUID  */  " fstab || { cat fstab >&2; fail "fstab root"; }
grep -q "^UUID=$BOOT_UUID  */boot  " fstab || { cat fstab >&2; fail "fstab /boot"; }
grep -q '^# /etc/fstab of server1' fstab || fail "fstab comment lost"
grep -q '^proc  ' fstab || fail "fstab proc line"
# Two device names rewritten to UUID= (+24 and +32 bytes): nothing else changed.
[ "$(stat -c %s fstab)" = $((fstab_size + 24 + 32)) ] || fail "fstab size $(stat -c %s fstab), was $fstab_size"
tail -n 1 fstab | contains -x '# last line of fstab' || fail "fstab cut short"
contains -a -F 'after the NUL' fstab || fail "fstab: the bytes after the NUL"
[ "$(tr -cd '\0' <fstab | wc -c)" = 1 ] || fail "the NUL byte was not kept"
guest_cat 2048 32768 /grub/menu.lst >menu.lst
grep -q "kernel /vmlinuz-$KV root=/dev/sda2 ro quiet" menu.lst || { cat menu.lst >&2; fail "menu.lst"; }
guest_cat 2048 32768 /grub/device.map | contains -x '(hd0) /dev/sda' || fail "device.map"
guest_cat 34816 96256 /etc/initramfs-tools/modules | contains -x ata_piix || fail "initramfs-tools/modules"
guest_cat 2048 32768 /initrd.img-$KV | gzip -dc | cpio -t --quiet >list
grep -q "lib/modules/$KV/kernel/drivers/ata/ata_piix.ko" list || { cat list >&2; fail "initrd lacks ata_piix"; }
grep -q "cciss.ko" list || fail "initrd lost cciss"

after=$(sha256sum <disk.img)
"$BIN/drivers-inject" --in-place disk.img >again.txt
grep -q 'Result: nothing to do' again.txt || { cat again.txt >&2; fail "second run"; }
[ "$(sha256sum <disk.img)" = "$after" ] || fail "second run wrote to the image"

# A VHD is served to libguestfs through the in-process NBD bridge; --into
# puts every change into a new differencing child and none into the VHD.
h=$(sha256sum <disk.vhd)
"$BIN/drivers-inject" --into child.vhd --report vhd.json disk.vhd >vhd.txt || { cat vhd.txt >&2; fail "--into on a VHD"; }
grep -q '"status": "ready"' vhd.json || fail "VHD run not ready"
[ "$(sha256sum <disk.vhd)" = "$h" ] || fail "--into wrote to the parent VHD"
vhdiinfo child.vhd | contains 'Parent filename.*disk.vhd' || fail "child.vhd is not a child of disk.vhd"
"$BIN/vdisk" convert -O raw child.vhd merged.img
guest_cat 34816 96256 /etc/fstab merged.img | contains "^UUID=$ROOT_UUID  */  " || fail "fstab through the chain"
guest_cat 2048 32768 /initrd.img-$KV merged.img | gzip -dc | cpio -t --quiet | contains ata_piix.ko \
    || fail "initrd through the chain"

# A damaged /boot (ext2: inodes in use marked free in its inode bitmap,
# which e2fsck -n reports; libguestfs still mounts and reads it): checked
# before anything is written, refused with one line, exit 1, nothing left.
dd if=bad.img of=b.img bs=512 skip=2048 count=32768 status=none
ibm=$(dumpe2fs b.img 2>/dev/null | sed -n 's/.*Inode bitmap at \([0-9]*\).*/\1/p' | head -n 1)
bs=$(dumpe2fs -h b.img 2>/dev/null | sed -n 's/^Block size: *//p')
[ -n "$ibm" ] && [ -n "$bs" ] || fail "dumpe2fs: no inode bitmap"
printf '\x00' | dd of=b.img bs=1 seek=$((ibm * bs + 1)) conv=notrunc status=none
fsck_rc=0; e2fsck -n -f b.img >/dev/null 2>&1 || fsck_rc=$?
[ $fsck_rc -ne 0 ] || fail "e2fsck does not see the damage"
dd if=b.img of=bad.img bs=512 seek=2048 conv=notrunc status=none
h=$(sha256sum <bad.img)
expect_fail 1 'partition 1 .*damaged before the run \(e2fsck -n: .*nothing written' \
    "$BIN/drivers-inject" -o bad-out.img bad.img
[ "$(sha256sum <bad.img)" = "$h" ] || fail "the damaged image was written"
[ ! -e bad-out.img ] && [ ! -e bad-out.img.inject-tmp ] || fail "a refused -o left a file behind"
