# qcow2 read interop. Every variant qemu-img writes (v2, v3, compressed zlib
# and zstd, extended L2, small and large clusters, external data file,
# backing files of raw and VHD, internal snapshots (each one too, by -l),
# zero clusters) reads back through vdisk as qemu-img reads it, and vdisk
# check finds it clean;
# an encrypted image is refused by name, and so is a parent that does not
# probe as the format recorded for it.
source "$SRC/tests/vdisk/qcow2-lib.sh"

# qemu-img's variants through vdisk.
for o in compat=0.10 compat=1.1 cluster_size=512 cluster_size=2M extended_l2=on \
         extended_l2=on,cluster_size=16K compression_type=zstd data_file=ext.data; do
    rm -f q.qcow2 ext.data
    qemu-img convert -O qcow2 -o $o src.raw q.qcow2
    same q.qcow2 "$o"
    $V check q.qcow2 >/dev/null || fail "vdisk check finds problems in qemu-img's $o"
done
for c in zlib zstd; do
    rm -f q.qcow2
    qemu-img convert -c -O qcow2 -o compression_type=$c src.raw q.qcow2
    same q.qcow2 "compressed $c"
    $V info q.qcow2 | grep "compression-type: $c" >/dev/null || fail "info: compression $c"
    $V check q.qcow2 >/dev/null || fail "vdisk check finds problems in compressed $c"
done
# Overlays: on a raw file with extended L2 (partial subclusters, zero
# writes), on a VHD, with v2 zero writes; and internal snapshots.
qemu-img convert -O vpc src.raw base.vhd
for o in extended_l2=on compat=1.1 compat=0.10; do
    for b in src.raw:raw base.vhd:vpc; do
        rm -f ov.qcow2
        qemu-img create -q -f qcow2 -o $o -b ${b%:*} -F ${b#*:} ov.qcow2
        qemu-io -c 'write -P 0x11 1000 3000' -c 'write -z 70000 5000' -c 'write -z 3M 64K' \
            -c 'write -P 7 20000000 900000' ov.qcow2 >/dev/null
        same ov.qcow2 "overlay $o on ${b#*:}"
    done
done
rm -f s.qcow2
qemu-img convert -O qcow2 src.raw s.qcow2
qemu-img snapshot -c snap1 s.qcow2
qemu-io -c 'write -P 9 0 1M' s.qcow2 >/dev/null
qemu-img snapshot -c snap2 s.qcow2
qemu-io -c 'write -P 8 5M 1M' s.qcow2 >/dev/null
same s.qcow2 "image with snapshots"
$V info s.qcow2 | grep "snapshot-2: id 2, name 'snap2'" >/dev/null || fail "snapshots not listed"
$V check s.qcow2 >/dev/null || fail "vdisk check finds problems with snapshots"
expect_fail 1 "s.qcow2.*internal snapshots" $W s.qcow2 0 512
# Each snapshot reads as qemu-img reads it (-l, qemu-img's forms), also after
# the disk grew past the snapshots' size: vdisk gives the snapshot's own
# size, qemu-img 7.2 the current one (zeros after the snapshot's end).
qemu-img resize -q s.qcow2 +1M
for sn in 1 snap1 snapshot.name=snap2 snapshot.id=2; do
    qemu-img convert -O raw -l $sn s.qcow2 ref.raw
    $V convert -O raw -l $sn s.qcow2 ours.raw
    [ "$(stat -c %s ours.raw)" = 20972544 ] || fail "snapshot $sn: not the snapshot's size"
    cmp -n 20972544 ref.raw ours.raw || fail "snapshot $sn reads differently"
    [ -z "$(tail -c +20972545 ref.raw | tr -d '\0' | head -c 1)" ] || fail "qemu-img's tail"
done
cmp -s ours.raw src.raw && fail "snapshot 2 reads as the current state"
rm -f ref.raw ours.raw
same s.qcow2 "grown image with snapshots"
expect_fail 1 "s.qcow2: no internal snapshot with id or name 'nope'" \
    $V convert -O raw -l nope s.qcow2 x.raw
expect_fail 1 "base.vhd: format vhd has no internal snapshots" $V convert -O raw -l 1 base.vhd x.raw

# A parent recorded as raw that probes as qcow2 (its guest wrote a qcow2
# header) is refused, not read as qcow2.
qemu-img create -q -f qcow2 fake.raw 1M
qemu-img create -q -f qcow2 -b fake.raw -F raw fake-ov.qcow2 1M
expect_fail 1 "fake-ov.qcow2: its backing file '.*fake.raw' is recorded as raw but probes as qcow2" \
    $V convert -O raw fake-ov.qcow2 x.raw

# Encrypted: refused by name. qemu-img's LUKS image when qemu-img manages
# to make one (on a loaded host its key-iteration benchmark fails now and
# then: "Unable to get accurate CPU usage"), and headers patched to say LUKS
# and the old AES method (which qemu no longer makes).
if qemu-img create -q -f qcow2 --object secret,id=k,data=pw \
        -o encrypt.format=luks,encrypt.key-secret=k,encrypt.iter-time=200 enc.qcow2 1M 2>/dev/null; then
    expect_fail 1 "enc.qcow2: encrypted qcow2 image \(LUKS\)" $V convert -O raw enc.qcow2 enc.raw
fi
qemu-img create -q -f qcow2 luks.qcow2 1M
printf '\0\0\0\2' | dd of=luks.qcow2 bs=1 seek=32 conv=notrunc status=none
expect_fail 1 "luks.qcow2: encrypted qcow2 image \(LUKS\)" $V convert -O raw luks.qcow2 enc.raw
qemu-img create -q -f qcow2 aes.qcow2 1M
printf '\0\0\0\1' | dd of=aes.qcow2 bs=1 seek=32 conv=notrunc status=none
expect_fail 1 "aes.qcow2: encrypted qcow2 image \(AES\)" $V info aes.qcow2

exit 0
