# Failure verdicts: no OS on the disk (seen on the VGA screen, and on COM1
# when headless), a STOP screen, a triple fault, a spin with interrupts
# disabled, a timeout.
. "$SRC/tests/lib.sh"
. "$SRC/tests/platform/lib-platform.sh"
need nasm xorriso
g=$(guest bootsectors)
check_verdict 1 "no-bootable-device SeaBIOS: 'No bootable device" --timeout 60 "$g/blank.raw"
check_verdict 1 "no-bootable-device SeaBIOS: 'No bootable device.* on COM1" --timeout 60 \
    --vga none "$g/blank.raw"
check_verdict 1 "bluescreen STOP 0x0000007B \(0xF741B84C,0xC0000034,0x00000000,0x00000000\) on the screen" \
    --timeout 60 --screen-dump screen.txt "$g/bluescreen.raw"
grep -q '^INACCESSIBLE_BOOT_DEVICE$' screen.txt || fail "the STOP screen was not kept"
check_verdict 1 "triple-fault triple fault \(shutdown\) at 0000:00007C" --timeout 60 "$g/triple.raw"
check_verdict 1 "hang spinning with interrupts disabled at 0000:00007C.. for the last" --timeout 30 "$g/spin.raw"
# Nothing matches before the timeout: the hello sector halts with IF=1.
check_verdict 1 "timeout no verdict before the timeout" --timeout 3 "$g/hello.raw"
