#!/usr/bin/env bash
# Builds the 32-bit Linux network test guest into OUTDIR (default: the
# current directory), from the same Debian i386 packages as build-linux.sh
# (fetched with `apt-get download`, unpacked with `dpkg -x`):
#   linux-net.raw  MBR + syslinux on FAT16: kernel + initramfs whose /init
#                  loads the network card's module (pcnet32, or tulip for
#                  a DEC 21140 on the PCI bus), asks DHCP for an address, fetches
#                  the URL the DHCP reply names as its boot file with wget
#                  (or, with vmmnet.ip=ADDR vmmnet.url=URL on the kernel
#                  command line, takes ADDR/24 and fetches URL: for a TAP
#                  network, which has no DHCP server),
#                  answers one TCP connection on port 80 with nc, and powers
#                  off. Progress lines start with VMM-NET (VMM-NET-IRQ: the
#                  card's line in /proc/interrupts).
# Needs: apt-get (i386 architecture enabled), dpkg, cpio, gzip, sfdisk,
# mtools, dosfstools, syslinux, syslinux-common.
set -eu -o pipefail
out=${1:-.}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

kpkg=$(apt-cache depends linux-image-686:i386 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || { echo "build-linux-net: cannot resolve linux-image-686:i386 (apt-get update with i386 enabled?)" >&2; exit 77; }
apt-get download -q "$kpkg" busybox-static:i386 >/dev/null 2>&1 \
    || { echo "build-linux-net: apt-get download failed" >&2; exit 77; }
dpkg -x linux-image-*.deb kernel
dpkg -x busybox-static_*.deb bb
vmlinuz=$(ls kernel/boot/vmlinuz-* | head -1)
mods=$(ls -d kernel/lib/modules/*/kernel)

mkdir -p root/bin root/dev root/proc root/sys root/tmp root/lib/modules
cp bb/bin/busybox root/bin/busybox
for t in sh mount echo poweroff sleep cat grep head dmesg insmod ifconfig route udhcpc wget nc sed; do
    ln -s busybox "root/bin/$t"
done
for m in drivers/net/mii.ko drivers/net/ethernet/amd/pcnet32.ko drivers/net/ethernet/dec/tulip/tulip.ko; do
    cp "$mods/$m" root/lib/modules/
done
cat > root/bin/dhcp.sh <<'SCRIPT'
#!/bin/sh
# udhcpc's hook: configure eth0 and keep what the lease says.
case "$1" in
bound|renew)
    ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
    for r in $router; do route add default gw "$r" dev "$interface"; break; done
    echo "$ip" > /tmp/ip
    echo "$boot_file" > /tmp/bootfile
    ;;
esac
exit 0
SCRIPT
chmod 755 root/bin/dhcp.sh
cat > root/init <<'INIT'
#!/bin/sh
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t proc proc /proc
mount -t sysfs sysfs /sys
exec </dev/console >/dev/console 2>&1
nic=pcnet32
for d in /sys/bus/pci/devices/*; do
    case "$(cat $d/vendor):$(cat $d/device)" in 0x1011:0x0009) nic=tulip ;; esac
done
insmod /lib/modules/mii.ko
insmod /lib/modules/$nic.ko
ifconfig lo 127.0.0.1 up
ifconfig eth0 up || { echo "VMM-NET-FAIL: no eth0"; poweroff -f; }
static= url=
for w in $(cat /proc/cmdline); do
    case $w in vmmnet.ip=*) static=${w#*=} ;; vmmnet.url=*) url=${w#*=} ;; esac
done
up=0
if [ -n "$static" ]; then
    ifconfig eth0 "$static" netmask 255.255.255.0 up && echo "$static" > /tmp/ip && echo "$url" > /tmp/bootfile && up=1
elif udhcpc -i eth0 -n -q -t 10 -T 2 -s /bin/dhcp.sh >/dev/null 2>&1; then
    up=1
fi
if [ $up = 1 ]; then
    echo "VMM-NET-IP: $(cat /tmp/ip)"
    echo "VMM-NET-IRQ: $(grep eth0 /proc/interrupts)"
    url=$(cat /tmp/bootfile)
    if [ -n "$url" ] && wget -q -O /tmp/payload "$url"; then
        echo "VMM-NET-GOT: $(cat /tmp/payload)"
    else
        echo "VMM-NET-FAIL: wget '$url'"
    fi
    printf 'HTTP/1.0 200 OK\r\n\r\nVMM-NET-GUEST-PAYLOAD\r\n' > /tmp/reply
    echo "VMM-NET-LISTEN"
    nc -l -p 80 < /tmp/reply > /tmp/request
    echo "VMM-NET-SERVED: $(head -c 40 /tmp/request | sed -n 1p)"
else
    echo "VMM-NET-FAIL: no address (DHCP or vmmnet.ip=)"
    dmesg | grep -i -e pcnet -e eth0 -e tulip
fi
echo "VMM-NET-DONE"
poweroff -f
INIT
chmod 755 root/init
(cd root && find . | cpio -o -H newc --quiet | gzip -9) > initrd.gz

img=linux-net.raw
truncate -s 64M "$img"
printf 'label: dos\nstart=2048, type=6, bootable\n' | sfdisk -q "$img"
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$img" conv=notrunc bs=440 count=1 status=none
off=$((2048 * 512))
mkfs.fat -F 16 --offset 2048 -n P2VNET "$img" $((63 * 1024)) >/dev/null
printf 'DEFAULT linux\nSERIAL 0 115200\nPROMPT 0\nLABEL linux\n  LINUX /vmlinuz\n  INITRD /initrd.gz\n  APPEND %s\n' \
    "console=ttyS0,115200 quiet cryptomgr.notests noisapnp" > syslinux.cfg
export MTOOLS_SKIP_CHECK=1
mcopy -i "$img@@$off" "$vmlinuz" ::vmlinuz
mcopy -i "$img@@$off" initrd.gz ::initrd.gz
mcopy -i "$img@@$off" syslinux.cfg ::syslinux.cfg
syslinux --offset "$off" --install "$img"
mv "$img" "$out/"
