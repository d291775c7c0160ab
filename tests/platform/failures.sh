# Failure verdicts: no OS on the disk, a triple fault, a spin with
# interrupts disabled, a halt with interrupts disabled.
. "$SRC/tests/lib.sh"
. "$SRC/tests/platform/lib-platform.sh"
need nasm xorriso
g=$(guest bootsectors)
check_verdict 1 "no-bootable-device SeaBIOS: 'No bootable device" --timeout 60 "$g/blank.raw"
check_verdict 1 "triple-fault triple fault \(shutdown\) at 0000:00007C" --timeout 60 "$g/triple.raw"
check_verdict 1 "hang spinning with interrupts disabled at 0000:00007C.. for the last" --timeout 30 "$g/spin.raw"
# Nothing matches before the timeout: the hello sector halts with IF=1.
check_verdict 1 "timeout no verdict before the timeout" --timeout 3 "$g/hello.raw"
