# Image locks (OFD, qemu's byte scheme): an image another process writes
# cannot be opened for reading or writing, one it reads cannot be written;
# each refusal is one line naming the other use; -U lets read-only
# inspection through. qemu sees our locks and we see qemu's.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
W=$BUILD/tests/vd-write

$V create -f vhd -o size=exact base.vhd 8M
$W base.vhd 0 8388608 1
$V create -f vhd -b base.vhd top.vhd
$W top.vhd 65536 4096 2

# hold IMAGE: a writer that keeps IMAGE open (vd-write --loop) until killed.
holder=
hold() {
    : >hold.log
    "$W" "$1" --loop 4096 7 >hold.log &
    holder=$!
    for _ in $(seq 1 500); do [ -s hold.log ] && return 0; sleep 0.01; done
    fail "the writer did not start"
}
release() { kill "$holder"; wait "$holder" 2>/dev/null || true; holder=; }
trap '[ -z "$holder" ] || kill "$holder" 2>/dev/null' EXIT

busy="'top.vhd' is in use: another process has it open for writing"
hold top.vhd
expect_fail 1 "$busy" $V commit top.vhd
expect_fail 1 "$busy" $V convert -O raw top.vhd out.raw
[ ! -e out.raw ] || fail "a refused convert left out.raw"
expect_fail 1 "$busy" $V info top.vhd
expect_fail 1 "$busy" $V map top.vhd
expect_fail 2 "$busy" $V compare top.vhd base.vhd
expect_fail 1 "$busy" $W top.vhd 0 512
expect_fail 1 "$busy" $V create -f vhd -b top.vhd child.vhd
expect_fail 1 "$busy" $V create -f raw top.vhd 1M
$V info -U top.vhd | grep '^file format: vhd$' >/dev/null || fail "create replaced an image in use"
rc=0; $V check top.vhd >out.txt 2>&1 || rc=$?
[ $rc = 1 ] && grep -q "in use" out.txt || { cat out.txt; fail "check of an image being written"; }
# -U: read-only inspection goes through.
$V info -U top.vhd | grep '^file format: vhd$' >/dev/null || fail "info -U"
$V map -U top.vhd >/dev/null || fail "map -U"
$V check -U top.vhd >/dev/null || fail "check -U"
# The holder rewrites slots all the time, so the two reads may differ
# (exit 1); -U must only let compare open the image (2 would be a refusal).
rc=0; $V compare -U top.vhd top.vhd >/dev/null 2>&1 || rc=$?
[ $rc != 2 ] || fail "compare -U"
# The parent is only read by the writer of the child: readers may share it,
# a writer may not.
$V info base.vhd >/dev/null || fail "info of a parent being read"
expect_fail 1 "'base.vhd' is in use: another process has it open for reading" $W base.vhd 0 512
if command -v qemu-img >/dev/null; then
    rc=0; qemu-img info top.vhd >/dev/null 2>qemu.txt || rc=$?
    [ $rc != 0 ] && grep -q 'lock' qemu.txt || { cat qemu.txt; fail "qemu-img did not see our lock"; }
fi
release

# Nothing holds it any more: everything works again, commit included.
$V convert -O raw top.vhd out.raw
$V commit top.vhd | grep 'Image committed' >/dev/null || fail "commit after the writer ended"

# A reader in another process blocks a writer: commit writes the parent,
# which the writer of a sibling child reads.
$V create -f vhd -b base.vhd top2.vhd
$V create -f vhd -b base.vhd top3.vhd
hold top3.vhd
expect_fail 1 "base.vhd' is in use: another process has it open for reading" $V commit top2.vhd
expect_fail 1 "'base.vhd' is in use: another process has it open for reading" $V create -f vhd base.vhd 1M
release

# vmm running a disk read-write holds it as a writer; vmm --check (an
# overlay in memory) only reads it, so two checks share it.
bios=/usr/share/seabios/bios.bin
if [ -r "$bios" ]; then
    truncate -s 4M blank.img
    "$BIN/vmm" --vga none --serial /dev/null --timeout 60 blank.img &
    holder=$!
    for _ in $(seq 1 500); do
        $V info blank.img >/dev/null 2>&1 || break
        sleep 0.01
    done
    expect_fail 1 "'blank.img' is in use: another process has it open for writing" \
        $V convert -O raw blank.img out2.raw
    $V info -U blank.img >/dev/null || fail "info -U of the disk vmm runs"
    expect_fail 1 "'blank.img' is in use" "$BIN/vmm" --vga none --timeout 5 blank.img
    release
    "$BIN/vmm" --check --timeout 60 blank.img >/dev/null &
    holder=$!
    "$BIN/vmm" --check --timeout 60 blank.img >check.txt 2>&1 || true
    grep -q 'no-bootable-device' check.txt || { cat check.txt; fail "two vmm --check runs of one disk"; }
    wait "$holder" || true
    holder=
fi

# A reader that shares writing (drivers-inject's, whose qemu under
# libguestfs writes the raw image it reads) lets a writer in; a plain
# reader does not. Both refuse a writer that is already there.
# hold_as MODE IMAGE: vd-write --hold MODE keeps IMAGE open until
# unhold closes its stdin.
hold_as() {
    rm -f hold.in; mkfifo hold.in
    : >hold.log
    "$W" "$2" --hold "$1" <hold.in >hold.log &
    holder=$!
    exec 8>hold.in
    for _ in $(seq 1 500); do [ -s hold.log ] && return 0; sleep 0.01; done
    fail "the $1 holder did not start"
}
unhold() { exec 8>&-; wait "$holder" || fail "the holder failed"; holder=; }
if command -v qemu-io >/dev/null; then
    truncate -s 4M r.img
    hold_as read r.img
    rc=0; qemu-io -f raw -c 'write 0 512' r.img >qemu.txt 2>&1 || rc=$?
    [ $rc != 0 ] && grep -q 'write" lock' qemu.txt || { cat qemu.txt; fail "qemu wrote under a reader"; }
    expect_fail 1 "'r.img' is in use: another process has it open for reading" $W r.img 0 512
    unhold
    hold_as share-write r.img
    qemu-io -f raw -c 'write 0 512' r.img >qemu.txt 2>&1 ||
        { cat qemu.txt; fail "qemu could not write under a reader that shares writing"; }
    $W r.img 0 512 || fail "vd-write under a reader that shares writing"
    unhold
    hold_as write r.img
    expect_fail 1 "'r.img' is in use: another process has it open for writing" $W r.img --hold share-write
    unhold
fi

# qemu's own locks: an image qemu-io has open for writing is refused.
if command -v qemu-io >/dev/null; then
    mkfifo qin
    qemu-io -f vpc top2.vhd <qin >/dev/null 2>&1 &
    qpid=$!
    exec 9>qin
    for _ in $(seq 1 500); do
        $V info top2.vhd >/dev/null 2>&1 || break
        sleep 0.01
    done
    expect_fail 1 "'top2.vhd' is in use: another process has it open for writing" $V info top2.vhd
    exec 9>&-
    wait $qpid || true
fi
echo OK
