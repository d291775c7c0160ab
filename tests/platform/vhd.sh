# A dynamic VHD (made by qemu-img, an independent writer) and a
# differencing VHD over it (made by vdisk) boot without conversion; the
# guest's write lands in the overlay, neither file changes.
. "$SRC/tests/lib.sh"
. "$SRC/tests/platform/lib-platform.sh"
need nasm xorriso qemu-img
g=$(guest bootsectors)
qemu-img convert -f raw -O vpc -o subformat=dynamic "$g/hello-write.raw" disk.vhd
"$BIN/vdisk" create -f vhd -b disk.vhd child.vhd >/dev/null || fail "vdisk cannot create the differencing VHD"
before=$(sha256sum disk.vhd child.vhd)
check_verdict 0 "booted expected output 'readback-ok VMM-TEST-MARKER" --timeout 60 \
    --expect 'readback-ok VMM-TEST-MARKER' disk.vhd
check_verdict 0 "booted expected output 'readback-ok VMM-TEST-MARKER" --timeout 60 \
    --expect 'readback-ok VMM-TEST-MARKER' child.vhd
[ "$(sha256sum disk.vhd child.vhd)" = "$before" ] || fail "a VHD changed during --check"
