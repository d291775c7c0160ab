# The same ISO file as a USB stick (isohybrid): SeaBIOS boots it through the
# isohybrid MBR from a USB 2.0 mass-storage device (EHCI: through UHCI,
# 1 ms frames, loading 13 MB took 200 s of the test under TCG); the live
# system reads its token from p2v/site.token on the stick (p2v.token=file:),
# captures every fixed disk (the stick, removable, is not one of them) and
# powers off, and the capture equals the source.
source "$SRC/tests/live/lib.sh"
site_iso "$WORK/stick.img" site.token
boot "$WORK/usb.log" 280 -nic user,model=e1000 \
    -device usb-ehci,id=ehci -drive "if=none,id=stick,file=$WORK/stick.img,format=raw,snapshot=on" \
    -device usb-storage,bus=ehci.0,drive=stick,removable=on,bootindex=0 -- \
    --step 'boot:' "p2v p2v.server=10.0.2.2:$PORT p2v.token=file:site.token p2v.name=usb" ||
    { tail -40 "$WORK/usb.log" >&2; fail "the live ISO did not boot from USB, capture and power off"; }
check usb "$WORK/usb.log"
stop_server
