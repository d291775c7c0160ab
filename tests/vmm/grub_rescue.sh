# GRUB 2 that cannot find its /boot stops at "grub rescue>": the verdict
# grub-rescue within a 10 s --timeout (it used to wait for the timeout),
# on the screen and headless on COM1. The disk is GRUB's own boot.img in
# the MBR and a core.img from grub-mkimage (Debian's grub-pc-bin) right
# after it, whose prefix names a partition the disk does not have.
. "$SRC/tests/lib.sh"
. "$SRC/tests/platform/lib-platform.sh"     # check_verdict
need grub-mkimage
GRUB_DIR=/usr/lib/grub/i386-pc
[ -r "$GRUB_DIR/boot.img" ] || skip "needs $GRUB_DIR (Debian package grub-pc-bin)"
cd "$WORK"
grub-mkimage -O i386-pc -d "$GRUB_DIR" -o core.img -p '(hd0,msdos1)/boot/grub' biosdisk part_msdos ||
    fail "grub-mkimage"
truncate -s 4M grub.raw
dd if="$GRUB_DIR/boot.img" of=grub.raw bs=440 count=1 conv=notrunc status=none
printf '\125\252' | dd of=grub.raw bs=1 seek=510 conv=notrunc status=none
dd if=core.img of=grub.raw bs=512 seek=1 conv=notrunc status=none   # boot.img loads sector 1
check_verdict 1 "grub-rescue GRUB: 'grub rescue>' on the screen" --timeout $FAST_VERDICT_TIMEOUT grub.raw
check_verdict 1 "grub-rescue GRUB: 'grub rescue> ?' on COM1" --timeout $FAST_VERDICT_TIMEOUT --vga none --serial serial.txt grub.raw
grep -q "no such partition" serial.txt || fail "GRUB did not say why it stopped"
