# Without --expect, a login prompt waiting on a serial port is a boot.
. "$SRC/tests/lib.sh"
. "$SRC/tests/platform/lib-platform.sh"
need nasm xorriso
g=$(guest bootsectors)
check_verdict 0 "booted prompt 'testbox login: ?' on COM1" --timeout 60 "$g/prompt.raw"
