# vdisk amend: a monolithicSparse VMDK's adapter_type and hwversion change
# in place (the content and the rest of the descriptor stay; qemu-img
# still reads it); layout options cannot; a bad key is a usage error; a
# format without amend says so. qcow2: compat 1.1 -> 0.10 (zero clusters
# expanded, with and without a backing file) and back, lazy_refcounts on
# and off, checked by qemu-img (check clean, same content, its compat) and
# qcowinfo; what version 2 cannot hold (zstd) and layout options refused.
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
# qcow2.
if command -v qemu-img >/dev/null && command -v qemu-io >/dev/null; then
    compat_of() { qemu-img info --output=json "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin)["format-specific"]["data"]; print(d["compat"], d.get("lazy-refcounts", "-"))'; }
    qemu-img create -q -f qcow2 q.qcow2 8M
    qemu-io -c 'write -P 1 0 1M' -c 'write -P 2 4M 64k' -c 'write -z 4M 64k' -c 'write -z 6M 64k' q.qcow2 >/dev/null
    qemu-img create -q -f qcow2 bk.qcow2 8M
    qemu-io -c 'write -P 5 0 8M' bk.qcow2 >/dev/null
    qemu-img create -q -f qcow2 -b bk.qcow2 -F qcow2 ov.qcow2 8M
    qemu-io -c 'write -z 1M 1M' -c 'write -P 7 3M 4k' ov.qcow2 >/dev/null
    for img in q.qcow2 ov.qcow2; do
        $V convert $img $img.raw
        $V amend -o compat=0.10 $img || fail "$img: amend compat=0.10"
        [ "$(compat_of $img)" = "0.10 -" ] || fail "$img: compat after going down: $(compat_of $img)"
        qemu-img check $img >/dev/null || fail "$img: qemu-img check after going down"
        qemu-img compare $img $img.raw >/dev/null || fail "$img: content changed going down"
        $V amend -o compat=1.1,lazy_refcounts=on $img || fail "$img: amend compat=1.1"
        [ "$(compat_of $img)" = "1.1 True" ] || fail "$img: compat after going up: $(compat_of $img)"
        qemu-img check $img >/dev/null || fail "$img: qemu-img check after going up"
        $V amend -o lazy_refcounts=off $img || fail "$img: lazy_refcounts=off"
        [ "$(compat_of $img)" = "1.1 False" ] || fail "$img: compat after lazy_refcounts=off: $(compat_of $img)"
        qemu-img compare $img $img.raw >/dev/null && $V compare $img $img.raw >/dev/null || fail "$img: content changed"
        if command -v qcowinfo >/dev/null; then
            qcowinfo $img | grep -q "Format version.*: 3" || fail "$img: qcowinfo version"
        fi
    done
    qemu-img info ov.qcow2 | grep -q '^backing file: bk.qcow2' || fail "the overlay lost its backing file"
    qemu-img create -q -f qcow2 -o compression_type=zstd zs.qcow2 1M
    sha256sum zs.qcow2 >sum.txt
    expect_fail 1 "cannot go down to compat=0.10: it uses zstd compression" $V amend -o compat=0.10 zs.qcow2
    expect_fail 1 "cluster_size cannot change in place" $V amend -o cluster_size=4k zs.qcow2
    expect_fail 1 "lazy_refcounts must be on or off, not 'maybe'" $V amend -o lazy_refcounts=maybe zs.qcow2
    sha256sum -c sum.txt >/dev/null || fail "a refused amend changed the qcow2 image"
    # create takes lazy_refcounts too.
    $V create -f qcow2 -o lazy_refcounts=on l.qcow2 1M >/dev/null
    [ "$(compat_of l.qcow2)" = "1.1 True" ] || fail "create -o lazy_refcounts=on"
    expect_fail 1 "lazy_refcounts=on needs compat=1.1" $V create -f qcow2 -o compat=0.10,lazy_refcounts=on l2.qcow2 1M
fi
$V convert -O vhd src.raw d.vhd
expect_fail 1 "amending options is not supported for format vhd" $V amend -o subformat=fixed d.vhd
echo OK
