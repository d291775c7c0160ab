# A dynamic VHD (made by qemu-img, an independent writer) boots without
# conversion, through the image library's VHD driver.
. "$SRC/tests/lib.sh"
. "$SRC/tests/platform/lib-platform.sh"
need nasm xorriso qemu-img
[ -f "$SRC/formats/vhd.c" ] || skip "the VHD driver (branch vhd) is not merged yet"
g=$(guest bootsectors)
qemu-img convert -f raw -O vpc -o subformat=dynamic "$g/hello-write.raw" disk.vhd
before=$(sha256sum <disk.vhd)
check_verdict 0 "booted expected output" --timeout 60 --expect 'readback-ok VMM-TEST-MARKER' disk.vhd
[ "$(sha256sum <disk.vhd)" = "$before" ] || fail "the VHD changed during --check"
