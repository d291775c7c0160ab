#!/usr/bin/env bash
# Builds the p2v live media (docs/live.md) from Debian i386 packages, which
# are fetched with `apt-get download` and unpacked with dpkg-deb, never
# installed:
#   BUILD/live/p2v-live.iso   hybrid ISO: isolinux El Torito for CDs, and an
#                             isohybrid MBR so the same file boots from USB
#   BUILD/live/pxe/           vmlinuz, initrd.img, pxelinux.0, ldlinux.c32,
#                             pxelinux.cfg/default
# Debian's 686 kernel (no PAE: Pentium II and later), a busybox initramfs
# with the storage and NIC modules of NT-era servers (p2v/live/modules.txt)
# and the static i686 agent (built as tests/p2v/i686.sh builds it, in the
# same directory BUILD/p2v-i686, so the two share one build).
#   p2v/live/build.sh BUILD
# Needs: apt-get with the i386 architecture known to it (scripts/install-
# deps.sh), dpkg-deb, depmod (kmod), cpio, gzip, xorriso, gcc-multilib.
# Exit status: 0 built, 1 failed, 2 usage.
set -eu -o pipefail
[ $# -eq 1 ] && [ -n "$1" ] || { echo "usage: p2v/live/build.sh BUILD" >&2; exit 2; }
build=$1
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mkdir -p "$build/live"
build=$(cd "$build" && pwd)
out=$build/live
die() { echo "p2v-live: $*" >&2; exit 1; }
# One build at a time per build tree (the target and the tests share it);
# the media are replaced by rename, so a running QEMU keeps reading the
# file it opened.
exec 9>"$out/.lock"
flock 9

# The agent: i386 sysroot, then p2v/agent-build with the i686 toolchain.
root=$build/p2v-i686/root
"$top/p2v/i686-sysroot.sh" "$root" || die "the i386 -dev packages could not be downloaded (apt-get update? Debian mirror?)"
cmake -S "$top/p2v/agent-build" -B "$build/p2v-i686/build" -DCMAKE_TOOLCHAIN_FILE="$top/p2v/i686.cmake" \
    -DP2V_I686_SYSROOT="$root" -DCMAKE_BUILD_TYPE=Release >"$out/agent-cmake.log" 2>&1 ||
    { cat "$out/agent-cmake.log" >&2; die "configuring the i686 agent failed"; }
cmake --build "$build/p2v-i686/build" --target p2v-static >"$out/agent-build.log" 2>&1 ||
    { cat "$out/agent-build.log" >&2; die "building the i686 agent failed"; }
agent=$build/p2v-i686/build/bin/p2v-static

# The packages, kept between runs; the kernel is the one linux-image-686
# depends on today.
debs=$out/debs
mkdir -p "$debs"
kpkg=$(apt-cache depends linux-image-686:i386 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
kpkg=${kpkg%:i386}
if [ -z "$kpkg" ]; then     # apt's lists unreadable: the kernel fetched before, if any
    kpkg=$(ls "$debs"/linux-image-*_i386.deb 2>/dev/null | sed 's|.*/||; s|_.*||' | tail -1)
    [ -n "$kpkg" ] || die "cannot resolve linux-image-686:i386 (apt-get update with the i386 architecture added?)"
fi
kver=${kpkg#linux-image-}
pkgs=()
[ -n "$(ls "$debs/${kpkg}"_*.deb 2>/dev/null)" ] || pkgs+=("$kpkg:i386")
for p in busybox-static:i386 syslinux-common isolinux pxelinux; do
    [ -n "$(ls "$debs/${p%:i386}"_*.deb 2>/dev/null)" ] || pkgs+=("$p")
done
if [ ${#pkgs[@]} -gt 0 ]; then
    (cd "$debs" && apt-get download -q "${pkgs[@]}" >/dev/null 2>"$out/download.log") ||
        { cat "$out/download.log" >&2; die "apt-get download ${pkgs[*]} failed"; }
fi
# Nothing to do when the inputs are those of the last build.
stamp=$( (cd "$here" && sha256sum ./*; sha256sum "$agent"; ls "$debs"/*.deb) | sha256sum)
if [ -f "$out/p2v-live.iso" ] && [ -f "$out/pxe/initrd.img" ] && [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "p2v-live: $out/p2v-live.iso and $out/pxe/ are up to date"
    exit 0
fi
rm -f "$out/.stamp"
pkg=$out/pkg
rm -rf "$pkg" "$out/initrd" "$out/iso" "$out/pxe.new"
mkdir -p "$pkg"
for d in "$debs/${kpkg}"_*.deb "$debs"/busybox-static_*.deb "$debs"/syslinux-common_*.deb \
         "$debs"/isolinux_*.deb "$debs"/pxelinux_*.deb; do
    dpkg-deb -x "$d" "$pkg"
done
vmlinuz=$pkg/boot/vmlinuz-$kver
[ -f "$vmlinuz" ] || die "$kpkg has no /boot/vmlinuz-$kver"

# The initramfs.
ir=$out/initrd
mkdir -p "$ir"/{bin,sbin,dev,proc,sys,tmp,etc,media,p2v,lib/modules/"$kver"}
cp "$pkg/bin/busybox" "$ir/bin/busybox"
for a in $("$ir/bin/busybox" --list 2>/dev/null || qemu-i386 "$ir/bin/busybox" --list); do
    [ "$a" = busybox ] || ln -s busybox "$ir/bin/$a"
done
[ -L "$ir/bin/sh" ] && [ -L "$ir/bin/modprobe" ] ||
    die "cannot list busybox's applets (this kernel runs no i386 programs, and no qemu-i386?)"
ln -s ../bin/busybox "$ir/sbin/modprobe"     # the kernel's request_module()
strip -o "$ir/bin/p2v" "$agent"
install -m 755 "$here/init" "$ir/init"
install -m 755 "$here/udhcpc.script" "$ir/bin/udhcpc.script"
printf 'hosts: files dns\n' >"$ir/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n' >"$ir/etc/hosts"

# Modules: the list and what they depend on (from the full tree's
# modules.dep), then modules.dep/modules.alias for the subset.
kmods=$pkg/lib/modules/$kver
depmod -b "$pkg" "$kver" || die "depmod on $kpkg failed"
want=()
while read -r glob; do
    case $glob in ''|'#'*) continue ;; esac
    for f in "$kmods"/kernel/$glob; do
        [ -e "$f" ] || die "p2v/live/modules.txt: no $glob in $kpkg"
        want+=("${f#"$kmods"/}")
    done
done <"$here/modules.txt"
python3 - "$kmods" "$ir/lib/modules/$kver" "${want[@]}" <<'PY'
import os, shutil, sys
src, dst, want = sys.argv[1], sys.argv[2], sys.argv[3:]
deps = {}
for line in open(os.path.join(src, "modules.dep")):
    mod, _, rest = line.partition(":")
    deps[mod] = rest.split()
seen, todo = set(), list(want)
while todo:
    m = todo.pop()
    if m not in seen:
        seen.add(m)
        todo.extend(deps.get(m, []))
for m in seen:
    os.makedirs(os.path.dirname(os.path.join(dst, m)), exist_ok=True)
    shutil.copy(os.path.join(src, m), os.path.join(dst, m))
for f in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
    shutil.copy(os.path.join(src, f), os.path.join(dst, f))
PY
depmod -b "$ir" "$kver" || die "depmod on the initramfs failed"
(cd "$ir" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -9n) >"$out/initrd.img"

# The kernel command line of both media; a PXE menu adds p2v.server= and
# the rest per machine (docs/live.md).
append="console=ttyS0,115200 console=tty0 quiet"
serial="console=tty0 console=ttyS0,115200 quiet"
boot_cfg() {        # boot_cfg KERNEL INITRD
    cat <<CFG
SERIAL 0 115200
DEFAULT p2v
PROMPT 1
TIMEOUT 50
SAY p2v live: "p2v" (dialog on the screen) or "serial" (dialog on the first serial port),
SAY    with options after the name, e.g.  p2v p2v.server=10.0.0.5:7700 p2v.token=...
LABEL p2v
  LINUX $1
  INITRD $2
  APPEND $append
LABEL serial
  LINUX $1
  INITRD $2
  APPEND $serial
CFG
}

# ISO: isolinux for El Torito, isohdpfx.bin's MBR for USB sticks.
iso=$out/iso
mkdir -p "$iso/isolinux" "$iso/p2v"
cp "$pkg/usr/lib/ISOLINUX/isolinux.bin" "$pkg/usr/lib/syslinux/modules/bios/ldlinux.c32" "$iso/isolinux/"
cp "$vmlinuz" "$iso/vmlinuz"
cp "$out/initrd.img" "$iso/initrd.img"
boot_cfg /vmlinuz /initrd.img >"$iso/isolinux/isolinux.cfg"
cat >"$iso/p2v/README.txt" <<TXT
p2v live: put the server's token in p2v/token on a copy of this medium
(or give p2v.token= on the kernel command line); see docs/live.md.
TXT
rm -f "$out/p2v-live.iso.new"
xorriso -as mkisofs -quiet -o "$out/p2v-live.iso.new" -V P2V_LIVE -R -J \
    -isohybrid-mbr "$pkg/usr/lib/ISOLINUX/isohdpfx.bin" \
    -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
    "$iso" 2>"$out/xorriso.log" || { cat "$out/xorriso.log" >&2; die "xorriso failed"; }

mv "$out/p2v-live.iso.new" "$out/p2v-live.iso"

# PXE: pxelinux and the same kernel and initramfs.
pxe=$out/pxe.new
mkdir -p "$pxe/pxelinux.cfg"
cp "$pkg/usr/lib/PXELINUX/pxelinux.0" "$pkg/usr/lib/syslinux/modules/bios/ldlinux.c32" "$pxe/"
cp "$vmlinuz" "$pxe/vmlinuz"
cp "$out/initrd.img" "$pxe/initrd.img"
boot_cfg vmlinuz initrd.img >"$pxe/pxelinux.cfg/default"
rm -rf "$out/pxe.old"
[ ! -d "$out/pxe" ] || mv "$out/pxe" "$out/pxe.old"
mv "$pxe" "$out/pxe"
rm -rf "$pkg" "$iso" "$out/pxe.old"
echo "$stamp" >"$out/.stamp"
echo "p2v-live: $out/p2v-live.iso ($(($(stat -c %s "$out/p2v-live.iso") / 1024)) KiB), $out/pxe/ (kernel $kver, agent $(stat -c %s "$ir/bin/p2v") bytes)"
