# vdisk measure: the required size is what convert then writes (file
# length) for every format vdisk writes: raw, VHD (dynamic, fixed, other
# block sizes), qcow2 (v2 and v3, cluster sizes: our layout is qemu's with
# its default options, so qemu-img measure agrees there), VHDX (dynamic,
# fixed, other block and log sizes), VDI (dynamic, static), VMDK
# (monolithicSparse exactly; streamOptimized an upper bound, reached by
# incompressible data; monolithicFlat the extent and 4 KiB of descriptor);
# the fully allocated size is what -S 0 writes; raw and --size agree with
# qemu-img measure's JSON; a format without the hook says so.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
need python3

truncate -s 50M src.raw
head -c 3000000 /dev/urandom | dd of=src.raw conv=notrunc status=none
head -c 4096 /dev/urandom | dd of=src.raw bs=1M seek=30 conv=notrunc status=none
json_of() { python3 -c 'import json,sys; j = json.load(sys.stdin); print(j["required"], j["fully-allocated"])'; }

for case in "raw" "vhd" "vhd subformat=fixed" "vhd block_size=512K" "vhd size=exact" \
            "qcow2" "qcow2 compat=0.10,cluster_size=512" "qcow2 cluster_size=2M" "qcow2 cluster_size=4096" \
            "vhdx" "vhdx subformat=fixed" "vhdx block_size=1M,log_size=4M" \
            "vdi" "vdi static=on" "vmdk" "vmdk subformat=monolithicFlat"; do
    set -- $case
    fmt=$1; opts=${2:+-o $2}
    read -r req full < <($V measure --output=json -O $fmt $opts src.raw | json_of)
    $V convert -O $fmt $opts src.raw out.img
    # monolithicFlat: the descriptor file and the flat extent together.
    wrote=$(cat out.img* | wc -c)
    case "$case" in
    *monolithicFlat) [ "$wrote" -le "$req" ] && [ "$wrote" -gt $((req - 4096)) ] ;;
    *) [ "$wrote" = "$req" ] ;;
    esac || fail "$case: measured $req, convert wrote $wrote"
    $V convert -S 0 -O $fmt $opts src.raw full.img
    # A CHS-rounded VHD has a tail beyond the source that no copy writes.
    written=$(cat full.img* | wc -c)
    case "$case" in
    "vhd"|"vhd block_size=512K") [ "$written" -le "$full" ] ;;
    *monolithicFlat) [ "$written" -le "$full" ] && [ "$written" -gt $((full - 4096)) ] ;;
    *) [ "$written" = "$full" ] ;;
    esac || fail "$case: fully allocated $full, -S 0 wrote $written"
    rm -f out.img* full.img*
done
# An empty image: only the metadata.
read -r req full < <($V measure --output=json -O vhd --size 50M | json_of)
$V create -f vhd e.vhd 50M
[ "$(stat -c %s e.vhd)" = "$req" ] || fail "--size: measured $req, create wrote $(stat -c %s e.vhd)"
# The human lines are qemu-img's.
$V measure -O raw --size 1M | diff - <(printf 'required size: 1048576\nfully allocated size: 1048576\n') ||
    fail "human output"
if command -v qemu-img >/dev/null; then
    for args in "-O raw src.raw" "-O raw --size 7M" "-O qcow2 src.raw" \
                "-O qcow2 -o cluster_size=2M src.raw"; do
        [ "$(qemu-img measure --output=json $args | json_of)" = "$($V measure --output=json $args | json_of)" ] ||
            fail "measure $args differs from qemu-img's"
    done
fi
# streamOptimized: an upper bound, met by data that does not compress.
head -c 4M /dev/urandom >rnd.raw
read -r req full < <($V measure --output=json -O vmdk -o subformat=streamOptimized src.raw | json_of)
$V convert -O vmdk -o subformat=streamOptimized src.raw s.vmdk
[ "$(stat -c %s s.vmdk)" -le "$req" ] || fail "streamOptimized: measured $req, convert wrote $(stat -c %s s.vmdk)"
read -r req full < <($V measure --output=json -O vmdk -o subformat=streamOptimized rnd.raw | json_of)
$V convert -O vmdk -o subformat=streamOptimized rnd.raw r.vmdk
[ "$(stat -c %s r.vmdk)" = "$req" ] || fail "streamOptimized of random data: measured $req, convert wrote $(stat -c %s r.vmdk)"
# Empty images of each format: the metadata create writes.
for fmt in qcow2 vhdx vdi vmdk; do
    read -r req full < <($V measure --output=json -O $fmt --size 50M | json_of)
    $V create -f $fmt e.$fmt 50M >/dev/null
    [ "$(stat -c %s e.$fmt)" = "$req" ] || fail "--size for $fmt: measured $req, create wrote $(stat -c %s e.$fmt)"
done
expect_fail 1 "measuring is not supported for format qed" $V measure -O qed src.raw
expect_fail 2 "format vhd has no option 'bogus'" $V measure -O vhd -o bogus=1 src.raw
expect_fail 2 "expects either --size SIZE or one IMAGE" $V measure -O vhd --size 1M src.raw
expect_fail 1 "cannot open 'none.raw'" $V measure none.raw
echo OK
