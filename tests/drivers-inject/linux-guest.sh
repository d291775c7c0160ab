# Generates the pieces of a Linux guest for the drivers-inject tests
# (sourced): a root tree with busybox and a minimal update-initramfs (the
# guest's own tool: it adds the modules listed in
# /etc/initramfs-tools/modules), and a /boot tree with a kernel
# placeholder and an initramfs carrying cciss but not the target's driver.
# linux_trees KERNEL_VERSION  -> ./root and ./boot
# guest_cat START_SECTOR SIZE_SECTORS PATH [IMAGE]: a file of the ext2/3/4
#   filesystem at that place in IMAGE (default disk.img), with debugfs.

need mkfs.ext4 mkfs.ext2 sfdisk debugfs gzip cpio busybox sha256sum
[ -e /usr/lib/x86_64-linux-gnu/guestfs/supermin.d ] || need libguestfs-test-tool

# Like grep -q, but reads all its input (no SIGPIPE for the writer under pipefail).
contains() { grep "$@" >/dev/null; }

linux_trees() {
    local kv=$1
    mkdir -p root/etc/initramfs-tools root/bin root/usr/sbin root/boot root/dev root/proc root/sys root/tmp \
        root/lib/modules/$kv/kernel/drivers/ata root/lib/modules/$kv/kernel/drivers/ide/pci \
        root/lib/modules/$kv/kernel/drivers/block
    cp "$(command -v busybox)" root/bin/busybox
    for a in sh gzip cpio find grep mkdir cp mv rm head cat; do ln -s busybox root/bin/$a; done
    echo 6.0.10 >root/etc/debian_version
    echo '# modules to include in the initramfs' >root/etc/initramfs-tools/modules
    echo "ata_piix module for $kv" >root/lib/modules/$kv/kernel/drivers/ata/ata_piix.ko
    echo "piix module for $kv" >root/lib/modules/$kv/kernel/drivers/ide/pci/piix.ko
    echo "cciss module for $kv" >root/lib/modules/$kv/kernel/drivers/block/cciss.ko
    : >root/lib/modules/$kv/modules.builtin
    cat >root/usr/sbin/update-initramfs <<'TOOL'
#!/bin/sh
# The guest's own initramfs tool (a minimal stand-in for Debian's): adds
# the modules listed in /etc/initramfs-tools/modules. Usage: -u -k VERSION
set -e
while [ $# -gt 0 ]; do [ "$1" = -k ] && { ver=$2; shift; }; shift; done
img=/boot/initrd.img-$ver
tmp=/tmp/initramfs.$$
rm -rf $tmp; mkdir -p $tmp; cd $tmp
gzip -dc $img | cpio -id
for m in $(grep -v '^#' /etc/initramfs-tools/modules); do
    f=$(find /lib/modules/$ver -name "$m.ko" | head -n 1)
    mkdir -p ".${f%/*}"; cp "$f" ".$f"
done
find . | cpio -o -H newc | gzip >$img.new
mv $img.new $img
cd /; rm -rf $tmp
TOOL
    chmod +x root/usr/sbin/update-initramfs

    mkdir -p boot/grub initrd/lib/modules/$kv/kernel/drivers/block
    echo "kernel $kv" >boot/vmlinuz-$kv
    echo '#!/bin/sh' >initrd/init
    cp root/lib/modules/$kv/kernel/drivers/block/cciss.ko initrd/lib/modules/$kv/kernel/drivers/block/
    (cd initrd && find . | cpio -o -H newc --quiet | gzip) >boot/initrd.img-$kv
    rm -rf initrd
}

guest_cat() {
    dd if="${4:-disk.img}" of=p.img bs=512 skip=$1 count=$2 status=none
    debugfs -R "cat $3" p.img 2>/dev/null
    rm -f p.img
}
