# memtest86+ from a syslinux disk with its console on COM1 reaches its
# first tests.
. "$SRC/tests/lib.sh"
. "$SRC/tests/platform/lib-platform.sh"
need sfdisk mcopy mkfs.fat syslinux
g=$(guest memtest)
check_verdict 0 "booted expected output" --timeout 300 -m 64 --expect 'Test #[1-9]' \
    --serial serial.txt "$g/memtest.raw"
