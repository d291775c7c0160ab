# The live system through PXE: QEMU's built-in TFTP server offers
# pxelinux.0, which reads a pxelinux.cfg/default carrying this machine's
# line (server, token, name, disks, post) as a team's PXE menu would, then
# the kernel and initrd of build/live/pxe; the machine captures its disk
# to `p2v serve` on this host with no typing and powers off, and the
# capture equals the source.
LIVE_TLS=1
source "$SRC/tests/live/lib.sh"
[ -e /usr/lib/ipxe/qemu/efi-e1000.rom ] || [ -e /usr/share/qemu/efi-e1000.rom ] ||
    skip "QEMU's e1000 boot ROM is missing (ipxe-qemu)"
mkdir -p "$WORK/tftp/pxelinux.cfg"
cp "$LIVE"/pxe/{pxelinux.0,ldlinux.c32,vmlinuz,initrd.img} "$WORK/tftp/"
# Only the options change: the built menu's own p2v line is the base.
base=$(awk '/^LABEL p2v$/ {p = 1} p && /APPEND/ {sub(/^ *APPEND /, ""); print; exit}' "$LIVE/pxe/pxelinux.cfg/default")
[ -n "$base" ] || fail "no 'LABEL p2v' APPEND line in build/live/pxe/pxelinux.cfg/default"
cat >"$WORK/tftp/pxelinux.cfg/default" <<CFG
SERIAL 0 115200
DEFAULT pxe01
LABEL pxe01
  LINUX vmlinuz
  INITRD initrd.img
  APPEND $base ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off p2v.server=10.0.2.2:$PORT p2v.token=$TOKEN p2v.name=pxe01 p2v.disks=sda p2v.tls=$PIN p2v.post=poweroff
CFG
boot "$WORK/pxe.log" 280 -boot n -nic "user,model=e1000,tftp=$WORK/tftp,bootfile=pxelinux.0" ||
    { tail -40 "$WORK/pxe.log" >&2; fail "the PXE-booted live system did not capture and power off"; }
grep 'PXELINUX' "$WORK/pxe.log" >/dev/null || fail "the machine did not boot pxelinux"
grep 'eth0 is 10.0.2.15/24 (ip=)' "$WORK/pxe.log" >/dev/null || fail "the static ip= was not used"
check pxe01 "$WORK/pxe.log"
stop_server
