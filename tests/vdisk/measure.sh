# vdisk measure: the required size is what convert then writes (file
# length) for raw and VHD (dynamic, fixed, other block sizes); the fully
# allocated size is what -S 0 writes; raw and --size agree with qemu-img
# measure's JSON; a format without the hook says so.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
need python3

truncate -s 50M src.raw
head -c 3000000 /dev/urandom | dd of=src.raw conv=notrunc status=none
head -c 4096 /dev/urandom | dd of=src.raw bs=1M seek=30 conv=notrunc status=none
json_of() { python3 -c 'import json,sys; j = json.load(sys.stdin); print(j["required"], j["fully-allocated"])'; }

for case in "raw" "vhd" "vhd subformat=fixed" "vhd block_size=512K" "vhd size=exact"; do
    set -- $case
    fmt=$1; opts=${2:+-o $2}
    read -r req full < <($V measure --output=json -O $fmt $opts src.raw | json_of)
    $V convert -O $fmt $opts src.raw out.img
    [ "$(stat -c %s out.img)" = "$req" ] || fail "$case: measured $req, convert wrote $(stat -c %s out.img)"
    $V convert -S 0 -O $fmt $opts src.raw full.img
    # A CHS-rounded VHD has a tail beyond the source that no copy writes.
    written=$(stat -c %s full.img)
    case "$case" in
    "vhd"|"vhd block_size=512K") [ "$written" -le "$full" ] ;;
    *) [ "$written" = "$full" ] ;;
    esac || fail "$case: fully allocated $full, -S 0 wrote $written"
    rm -f out.img full.img
done
# An empty image: only the metadata.
read -r req full < <($V measure --output=json -O vhd --size 50M | json_of)
$V create -f vhd e.vhd 50M
[ "$(stat -c %s e.vhd)" = "$req" ] || fail "--size: measured $req, create wrote $(stat -c %s e.vhd)"
# The human lines are qemu-img's.
$V measure -O raw --size 1M | diff - <(printf 'required size: 1048576\nfully allocated size: 1048576\n') ||
    fail "human output"
if command -v qemu-img >/dev/null; then
    for args in "-O raw src.raw" "-O raw --size 7M"; do
        [ "$(qemu-img measure --output=json $args | json_of)" = "$($V measure --output=json $args | json_of)" ] ||
            fail "measure $args differs from qemu-img's"
    done
fi
expect_fail 1 "measuring is not supported for format vmdk" $V measure -O vmdk src.raw
expect_fail 2 "format vhd has no option 'bogus'" $V measure -O vhd -o bogus=1 src.raw
expect_fail 2 "expects either --size SIZE or one IMAGE" $V measure -O vhd --size 1M src.raw
expect_fail 1 "cannot open 'none.raw'" $V measure none.raw
echo OK
