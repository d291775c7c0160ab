# vdisk amend: a monolithicSparse VMDK's adapter_type and hwversion change
# in place (the content and the rest of the descriptor stay; qemu-img
# still reads it); layout options cannot; a bad key is a usage error; a
# format without amend says so.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk

truncate -s 8M src.raw
head -c 1000000 /dev/urandom | dd of=src.raw conv=notrunc status=none
$V convert -O vmdk src.raw d.vmdk
$V info d.vmdk | grep -q '^adapter-type: ide$' || fail "the default adapter"
$V amend -o adapter_type=lsilogic,hwversion=7 d.vmdk || fail "amend"
$V info d.vmdk | grep -q '^adapter-type: lsilogic$' || fail "adapter_type not changed"
$V info d.vmdk | grep -q '^hwversion: 7$' || fail "hwversion not changed"
$V compare d.vmdk src.raw >/dev/null && $V check d.vmdk >/dev/null || fail "amend changed the content"
if command -v qemu-img >/dev/null; then
    qemu-img compare -f vmdk d.vmdk -F raw src.raw >/dev/null || fail "qemu-img reads the amended VMDK differently"
fi
sha256sum d.vmdk >sum.txt
expect_fail 1 "subformat cannot change in place" $V amend -o subformat=monolithicFlat d.vmdk
expect_fail 1 "adapter_type must be ide, lsilogic, buslogic or legacyESX, not 'scsi'" $V amend -o adapter_type=scsi d.vmdk
expect_fail 2 "format vmdk has no option 'colour'" $V amend -o colour=red d.vmdk
expect_fail 2 "-o OPTS is required" $V amend d.vmdk
sha256sum -c sum.txt >/dev/null || fail "a refused amend changed the image"
$V convert -O vhd src.raw d.vhd
expect_fail 1 "amending options is not supported for format vhd" $V amend -o subformat=fixed d.vhd
echo OK
