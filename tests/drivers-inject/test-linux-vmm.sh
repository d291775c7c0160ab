# End to end: a real 32-bit Debian kernel (linux-image-686:i386) on a
# "Smart Array" Linux server: SYSLINUX boots root=/dev/cciss/c0d0p2, the
# initramfs loads hpsa but not ata_piix, fstab names /dev/cciss/c0d0pN.
# Under vmm (PIIX3 IDE) it panics: the root never appears. drivers-inject
# rewrites syslinux.cfg and fstab and has the guest's own update-initramfs
# rebuild the initramfs with ata_piix; then vmm --check boots it to the
# real root's /sbin/init, which prints a marker naming its root and fstab.
source "$SRC/tests/lib.sh"
source "$SRC/tests/drivers-inject/linux-guest.sh"
need apt-get dpkg depmod modprobe mkfs.fat mcopy syslinux
[ -e /usr/lib/syslinux/mbr/mbr.bin ] || skip "needs syslinux-common (mbr.bin)"

kpkg=$(apt-cache depends linux-image-686:i386 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || skip "cannot resolve linux-image-686:i386 (apt-get update with i386 enabled?)"
apt-get download -q "$kpkg" busybox-static:i386 >/dev/null 2>&1 || skip "apt-get download of $kpkg failed"
dpkg -x linux-image-*.deb kernel
dpkg -x busybox-static_*.deb bb
rm -f ./*.deb
KV=$(ls kernel/lib/modules)
depmod -b kernel "$KV"

# The guest's root: i386 busybox, the modules this test needs (with their
# dependencies, as modprobe resolves them), /sbin/init printing the marker.
mkdir -p root/bin root/sbin root/usr/sbin root/etc/initramfs-tools root/boot root/dev root/proc root/sys root/tmp \
    root/lib/modules/$KV
cp bb/bin/busybox root/bin/busybox
for a in sh mount echo sed grep cut cat poweroff gzip cpio find mkdir cp mv rm ln; do ln -s busybox root/bin/$a; done
for m in ata_piix sd_mod ext4 hpsa; do
    modprobe -d kernel -S "$KV" --show-depends $m | sed -n 's|^insmod '"$PWD"'/kernel/||p' | while read -r f; do
        mkdir -p "root/${f%/*}"
        cp "kernel/$f" "root/$f"
    done
done
cp kernel/lib/modules/$KV/modules.builtin kernel/lib/modules/$KV/modules.order root/lib/modules/$KV/
depmod -b root "$KV"
echo 12.0 >root/etc/debian_version
cat >root/etc/fstab <<'FSTAB'
/dev/cciss/c0d0p2 / ext4 errors=remount-ro 0 1
/dev/cciss/c0d0p1 /boot vfat defaults 0 2
FSTAB
printf '# modules to include in the initramfs\nhpsa\n' >root/etc/initramfs-tools/modules
cat >root/sbin/init <<'INIT'
#!/bin/sh
mount -t proc proc /proc
echo "VMM-INJECT-MARKER: root $(sed -n 's/.*root=\([^ ]*\).*/\1/p' /proc/cmdline) fstab $(grep ' / ' /etc/fstab | cut -d' ' -f1)"
poweroff -f
INIT
chmod 755 root/sbin/init
# The guest's own initramfs tool: builds /boot/initrd.img-VERSION with
# busybox, the modules of /etc/initramfs-tools/modules plus sd_mod, ext4 and
# the crc32c its metadata checksums need
# (each after its dependencies, from modules.dep), and an /init that loads
# them and mounts root= read-only. ROOT (for building the captured one
# here, outside the guest) prefixes every path. Usage: -u -k VERSION
cat >root/usr/sbin/update-initramfs <<'TOOL'
#!/bin/sh
set -e
while [ $# -gt 0 ]; do [ "$1" = -k ] && { ver=$2; shift; }; shift; done
R=${ROOT:-}
mods=/lib/modules/$ver
tmp=$R/tmp/initramfs.$$
rm -rf "$tmp"
mkdir -p "$tmp/bin" "$tmp/dev" "$tmp/proc" "$tmp/root"
cp "$R/bin/busybox" "$tmp/bin/busybox"
for a in sh mount insmod sed sleep cat echo switch_root; do ln -s busybox "$tmp/bin/$a"; done
: >"$tmp/load"
for m in $(grep -v '^#' "$R/etc/initramfs-tools/modules") sd_mod crc32c_generic ext4; do
    line=$(grep "/$m.ko:" "$R$mods/modules.dep")
    order=${line%%:*}
    for d in ${line#*:}; do order="$d $order"; done
    for f in $order; do
        grep -qx "$f" "$tmp/load" && continue
        echo "$f" >>"$tmp/load"
        mkdir -p "$tmp$mods/${f%/*}"
        cp "$R$mods/$f" "$tmp$mods/$f"
    done
done
cat >"$tmp/init" <<'EOF_INIT'
#!/bin/sh
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
for f in $(cat /load); do insmod "/lib/modules/$(sed 's/ .*//' /proc/sys/kernel/osrelease)/$f" || echo "initramfs: cannot load $f"; done
root=$(sed -n 's/.*root=\([^ ]*\).*/\1/p' /proc/cmdline)
i=0
# Disks are probed asynchronously, and slowly on an emulated CPU: wait as
# initramfs-tools does (rootdelay), though not for its 180 s.
while [ ! -b "$root" ] && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
mount -t ext4 -o ro "$root" /root || { echo "initramfs: cannot mount the root $root"; exit 1; }
exec switch_root /root /sbin/init
EOF_INIT
chmod 755 "$tmp/init"
(cd "$tmp" && find . | cpio -o -H newc 2>/dev/null | gzip) >"$R/boot/initrd.img-$ver.new"
mv "$R/boot/initrd.img-$ver.new" "$R/boot/initrd.img-$ver"
rm -rf "$tmp"
TOOL
chmod +x root/usr/sbin/update-initramfs
ROOT=$PWD/root busybox sh root/usr/sbin/update-initramfs -u -k "$KV"
mv root/boot/initrd.img-$KV initrd.img
gzip -dc initrd.img | cpio -t --quiet | contains hpsa.ko || fail "the captured initramfs lacks hpsa"
gzip -dc initrd.img | cpio -t --quiet | contains ata_piix.ko && fail "the captured initramfs has ata_piix"

# MBR + SYSLINUX on a FAT16 /boot (partition 1), ext4 root (partition 2).
truncate -s 128M disk.img
printf 'label: dos\nstart=2048, size=65536, type=6, bootable\nstart=67584, type=83\n' | sfdisk -q disk.img
dd if=/usr/lib/syslinux/mbr/mbr.bin of=disk.img conv=notrunc bs=440 count=1 status=none
mkfs.fat -F 16 --offset 2048 -n BOOT disk.img $((65536 / 2)) >/dev/null
printf 'DEFAULT linux\nSERIAL 0 115200\nPROMPT 0\nLABEL linux\n  LINUX /vmlinuz-%s\n  INITRD /initrd.img-%s\n  APPEND root=/dev/cciss/c0d0p2 ro console=ttyS0,115200 quiet cryptomgr.notests noisapnp\n' \
    "$KV" "$KV" >syslinux.cfg
export MTOOLS_SKIP_CHECK=1
mcopy -i disk.img@@$((2048 * 512)) kernel/boot/vmlinuz-$KV ::vmlinuz-$KV
mcopy -i disk.img@@$((2048 * 512)) initrd.img ::initrd.img-$KV
mcopy -i disk.img@@$((2048 * 512)) syslinux.cfg ::syslinux.cfg
syslinux --offset $((2048 * 512)) --install disk.img
truncate -s $(((262144 - 67584) * 512)) root.img
mkfs.ext4 -q -F -d root root.img
dd if=root.img of=disk.img bs=1M oflag=seek_bytes seek=$((67584 * 512)) conv=notrunc status=none
rm -rf root.img kernel bb initrd.img

# As captured: the root device never appears on PIIX IDE.
rc=0
"$BIN/vmm" --check --timeout 300 -m 256 --serial before-serial.txt disk.img >before.txt 2>&1 || rc=$?
cat before.txt
[ $rc = 1 ] && contains '^verdict: panic' before.txt || fail "the unrepaired guest did not panic"
contains 'initramfs: cannot mount the root /dev/cciss/c0d0p2' before-serial.txt \
    || { cat before-serial.txt >&2; fail "the unrepaired guest panicked for another reason"; }

"$BIN/drivers-inject" --in-place --report run.json disk.img >run.txt || { cat run.txt >&2; fail "fixup failed"; }
grep -q '"status": "ready"' run.json || { cat run.txt >&2; fail "not ready"; }
grep -q '/boot/syslinux.cfg: 1 device name' run.json || { cat run.txt >&2; fail "syslinux.cfg not rewritten"; }
grep -q "update-initramfs -u -k $KV" run.json || { cat run.txt >&2; fail "no initramfs rebuild"; }

"$BIN/vmm" --check --timeout 300 -m 256 --expect 'VMM-INJECT-MARKER' --serial serial.txt disk.img >after.txt 2>&1 \
    || { cat after.txt serial.txt >&2; fail "the repaired guest did not boot"; }
cat after.txt
contains -E '^verdict: booted' after.txt || fail "no booted verdict"
tr -d '\r' <serial.txt | contains -E 'VMM-INJECT-MARKER: root /dev/sda2 fstab UUID=[0-9a-f-]+$' \
    || { grep VMM-INJECT serial.txt >&2; fail "marker does not show the repaired root and fstab"; }
