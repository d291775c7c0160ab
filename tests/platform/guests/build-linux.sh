#!/usr/bin/env bash
# Builds the 32-bit Linux test guests into OUTDIR (default: the current
# directory), from Debian i386 packages fetched with `apt-get download` and
# unpacked with `dpkg -x` (never installed):
#   linux.raw     MBR + syslinux on FAT16: kernel + initramfs whose /init
#                 prints VMM-LINUX-MARKER and powers off (console=ttyS0)
#   linux-panic.raw  the same kernel without an initramfs and a root that
#                 does not exist: "Kernel panic - not syncing"
#   linux.iso     isolinux CD with the same kernel and initramfs
#   linux-apic.raw  the same kernel and initramfs, kernel messages on, and
#                 `vmm.irqs` on the command line: /init prints the kernel's
#                 APIC messages and /proc/interrupts twice, a second apart
# Needs: apt-get (i386 architecture enabled), dpkg, cpio, gzip, sfdisk,
# mtools, dosfstools, syslinux, syslinux-common, isolinux, xorriso.
# CMDLINE overrides the kernel command line of linux.raw and linux.iso.
set -eu -o pipefail
out=${1:-.}
mkdir -p "$out"
out=$(cd "$out" && pwd)
marker=VMM-LINUX-MARKER
cmdline=${CMDLINE:-console=ttyS0,115200 quiet cryptomgr.notests noisapnp}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# The kernel package linux-image-686 depends on, and busybox.
kpkg=$(apt-cache depends linux-image-686:i386 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || { echo "build-linux: cannot resolve linux-image-686:i386 (apt-get update with i386 enabled?)" >&2; exit 77; }
apt-get download -q "$kpkg" busybox-static:i386 >/dev/null 2>&1 \
    || { echo "build-linux: apt-get download failed" >&2; exit 77; }
dpkg -x linux-image-*.deb kernel
dpkg -x busybox-static_*.deb bb
vmlinuz=$(ls kernel/boot/vmlinuz-* | head -1)

# initramfs: busybox, /init prints the marker and powers off.
mkdir -p root/bin root/dev root/proc root/sys
cp bb/bin/busybox root/bin/busybox
for t in sh mount echo poweroff sleep cat dmesg grep; do ln -s busybox "root/bin/$t"; done
cat > root/init <<INIT
#!/bin/sh
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t proc proc /proc
exec </dev/console >/dev/console 2>&1
case "\$(cat /proc/cmdline)" in
*vmm.irqs*)
    dmesg | grep -i -e apic -e timer
    echo "IRQS-BEGIN"; cat /proc/interrupts; echo "IRQS-END"
    sleep 1
    echo "IRQS-BEGIN"; cat /proc/interrupts; echo "IRQS-END"
    ;;
esac
echo "$marker: init reached, kernel \$(cat /proc/sys/kernel/osrelease)"
poweroff -f
INIT
chmod 755 root/init
(cd root && find . | cpio -o -H newc --quiet | gzip -9) > initrd.gz

make_disk() {     # make_disk IMAGE APPEND [initrd]
    local img=$1 append=$2 initrd=${3:-}
    rm -f "$img"
    truncate -s 64M "$img"
    printf 'label: dos\nstart=2048, type=6, bootable\n' | sfdisk -q "$img"
    dd if=/usr/lib/syslinux/mbr/mbr.bin of="$img" conv=notrunc bs=440 count=1 status=none
    local off=$((2048 * 512))
    mkfs.fat -F 16 --offset 2048 -n P2VTEST "$img" $((63 * 1024)) >/dev/null
    {
        echo "DEFAULT linux"
        echo "SERIAL 0 115200"
        echo "PROMPT 0"
        echo "LABEL linux"
        echo "  LINUX /vmlinuz"
        [ -n "$initrd" ] && echo "  INITRD /initrd.gz"
        echo "  APPEND $append"
    } > syslinux.cfg
    export MTOOLS_SKIP_CHECK=1
    mcopy -i "$img@@$off" "$vmlinuz" ::vmlinuz
    [ -n "$initrd" ] && mcopy -i "$img@@$off" "$initrd" ::initrd.gz
    mcopy -i "$img@@$off" syslinux.cfg ::syslinux.cfg
    syslinux --offset "$off" --install "$img"
}

make_disk linux.raw "$cmdline" initrd.gz
make_disk linux-apic.raw "console=ttyS0,115200 cryptomgr.notests noisapnp vmm.irqs" initrd.gz
make_disk linux-panic.raw "console=ttyS0,115200 root=/dev/sdz1 panic=0"

mkdir -p iso/isolinux
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 iso/isolinux/
cp "$vmlinuz" iso/vmlinuz
cp initrd.gz iso/initrd.gz
printf 'DEFAULT linux\nSERIAL 0 115200\nPROMPT 0\nLABEL linux\n  LINUX /vmlinuz\n  INITRD /initrd.gz\n  APPEND %s\n' \
    "$cmdline" > iso/isolinux/isolinux.cfg
xorriso -as mkisofs -quiet -o linux.iso -b isolinux/isolinux.bin -c isolinux/boot.cat \
    -no-emul-boot -boot-load-size 4 -boot-info-table iso 2>/dev/null

mv linux.raw linux-apic.raw linux-panic.raw linux.iso "$out/"
echo "$marker" > "$out/marker.txt"
