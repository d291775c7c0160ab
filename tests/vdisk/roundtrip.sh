# raw -> VHD (fixed, dynamic; CHS-rounded and exact sizes) -> raw is
# byte-identical, for sizes that are and are not CHS multiples, including
# a sparse image over 4 GiB.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk

make_source() {   # NAME SIZE: sparse file with data at the start, middle, end
    truncate -s "$2" "$1"
    head -c 3000000 /dev/urandom | dd of="$1" conv=notrunc status=none
    head -c 70000 /dev/urandom | dd of="$1" bs=512 seek=$(( $2 / 1024 + 3 )) conv=notrunc status=none
    head -c 4096 /dev/urandom | dd of="$1" bs=512 seek=$(( $2 / 512 - 8 )) conv=notrunc status=none
    printf 'tail' | dd of="$1" bs=1 seek=$(( $2 - 4 )) conv=notrunc status=none
}

# zero_tail A B: B is A followed only by zeros.
zero_tail() {
    local a=$(stat -c %s "$1") b=$(stat -c %s "$2")
    [ "$b" -ge "$a" ] || fail "$2 is smaller than $1"
    cmp -n "$a" "$1" "$2" || fail "$2 differs from $1"
    [ "$b" = "$a" ] || cmp -n $((b - a)) -i "$a:0" "$2" /dev/zero || fail "$2 tail not zero"
}

# 10514432 is a CHS multiple (302/4/17); 10 MiB + 512 and 5 GiB + 512 are not.
for size in 10514432 10486272 5368709632; do
    make_source src.raw $size
    for sub in dynamic fixed; do
        for sizing in chs exact; do
            $V convert -O vhd -o subformat=$sub,size=$sizing src.raw out.vhd
            $V check out.vhd >/dev/null || fail "check $sub $sizing $size"
            $V convert -O raw out.vhd back.raw
            if [ $sizing = exact ]; then
                cmp src.raw back.raw || fail "$sub exact $size not identical"
            else
                zero_tail src.raw back.raw
                # CHS rounding: the size is a whole geometry, never smaller.
                vs=$($V info --output=json out.vhd | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
                chs=$($V info --output=json out.vhd | python3 -c 'import json,sys; print(json.load(sys.stdin)["format-specific"]["data"]["chs-size"])')
                [ "$vs" = "$chs" ] || [ $size -gt 136899993600 ] || fail "size $vs is not the CHS size $chs"
            fi
            rm -f out.vhd back.raw
        done
    done
    # The merged image's content equals the source, by vdisk compare too.
    $V convert -O vhd src.raw d.vhd && $V compare src.raw d.vhd >/dev/null
    rm -f src.raw d.vhd
done

# Memory stays bounded whatever the size: a sparse 2000 GiB disk (above the
# largest CHS geometry) to a dynamic VHD and back, each under 256 MiB peak.
truncate -s 2000G huge.raw
printf 'start' | dd of=huge.raw conv=notrunc status=none
printf 'end' | dd of=huge.raw bs=1 seek=$(( (2000 << 30) - 3 )) conv=notrunc status=none
/usr/bin/time -f %M -o rss1 $V convert -O vhd huge.raw huge.vhd
/usr/bin/time -f %M -o rss2 $V convert -O raw huge.vhd huge.back
for f in rss1 rss2; do [ "$(cat $f)" -lt 262144 ] || fail "peak memory $(cat $f) KiB"; done
[ "$(stat -c %s huge.back)" = $((2000 << 30)) ] || fail "2000 GiB size not kept"
$V compare huge.raw huge.back >/dev/null || fail "2000 GiB round trip"
rm -f huge.raw huge.vhd huge.back

# -t none: the same content, dynamic VHD (blocks laid out for direct
# writes), fixed VHD and raw, read back by qemu-img too; where the file
# system has O_DIRECT (not tmpfs, which keeps every page), the data was
# not copied into the page cache.
make_source src.raw 10486272
direct_observable=0
if [ "$(stat -f -c %T .)" != tmpfs ] &&
   dd if=/dev/zero of=direct.probe bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
    direct_observable=1
fi
for out in subformat=dynamic,size=exact:vhd subformat=fixed,size=exact:vhd :raw; do
    fmt=${out#*:} opts=${out%:*}
    $V convert -t none -O $fmt ${opts:+-o $opts} src.raw direct.$fmt
    if [ $direct_observable = 1 ]; then
        cached=$(fincore --bytes --noheadings --output RES direct.$fmt)
        [ "$cached" -lt 1048576 ] || fail "-t none $out: $cached bytes of OUT in the page cache"
    fi
    $V convert -O raw direct.$fmt back.raw && cmp src.raw back.raw || fail "-t none $out differs"
    if command -v qemu-img >/dev/null; then
        qfmt=raw
        [ $fmt = vhd ] && qfmt=vpc     # (qemu-img probes a fixed VHD as raw)
        qemu-img compare -q -f raw -F $qfmt src.raw direct.$fmt || fail "-t none $out: qemu-img reads another content"
    fi
    rm -f direct.$fmt back.raw
done
expect_fail 2 "-t takes writeback or none, not 'unsafe'" $V convert -t unsafe -O raw src.raw x.raw
rm -f src.raw direct.probe

# Azure: fixed, a whole number of MiB, file = N MiB + 512.
make_source az.raw 10486272
$V convert -O vhd -o azure=on az.raw az.vhd
[ "$(stat -c %s az.vhd)" = $((11 * 1048576 + 512)) ] || fail "azure size $(stat -c %s az.vhd)"
$V convert -O raw az.vhd az.back && zero_tail az.raw az.back
echo OK
