# vdisk rebase: -u after moving a parent (only the reference changes; the
# old parent may be gone), safe mode onto a different parent (the child
# copies what would change, and reads the same), and the refusals: a loop,
# a non-differencing image, a parent of another size, a format without the
# hook. The same for VMDK delta disks, checked by qemu-img.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
W=$BUILD/tests/vd-write
need python3

$V create -f vhd -o size=exact base.vhd 8M
$W base.vhd 0 8388608 1
$V create -f vhd -b base.vhd c.vhd
$W c.vhd 65536 4096 2
$V convert c.vhd before.raw

# The parent moves to another folder: the child no longer opens; -u
# names the new place.
mkdir moved && mv base.vhd moved/
expect_fail 1 "parent 'base.vhd' not found" $V info c.vhd
expect_fail 1 "parent 'base.vhd' not found" $V rebase -b moved/base.vhd c.vhd
$V rebase -u -b moved/base.vhd c.vhd || fail "rebase -u after moving the parent"
$V compare c.vhd before.raw >/dev/null || fail "rebase -u changed the content"
$V check c.vhd >/dev/null || fail "check after rebase -u"
$V info --output=json c.vhd | python3 -c 'import json,sys; j = json.load(sys.stdin); assert j["full-backing-filename"] == "./moved/base.vhd", j' ||
    fail "the child does not name the moved parent"
# It still opens from another folder (the relative locator is right).
mkdir elsewhere && (cd elsewhere && $V compare ../c.vhd ../before.raw >/dev/null) || fail "opened from elsewhere"

# Safe mode onto a parent with other content: the child keeps reading the
# same, storing what the new parent would change.
$V create -f vhd -o size=exact other.vhd 8M
$W other.vhd 1000000 4096 3
$V rebase -b other.vhd c.vhd || fail "rebase onto other.vhd"
$V compare c.vhd before.raw >/dev/null || fail "safe rebase changed what the child reads"
$V check c.vhd >/dev/null || fail "check after a safe rebase"
$V info c.vhd | grep -q '^backing file: ./other.vhd$' || fail "the child does not name other.vhd"
# -u onto a parent with other content: the content changes (the caller's call).
$V create -f vhd -o size=exact zero.vhd 8M
$V create -f vhd -b other.vhd c2.vhd
$V rebase -u -b zero.vhd c2.vhd
rc=0; $V compare c2.vhd other.vhd >/dev/null || rc=$?
[ $rc = 1 ] || fail "rebase -u onto zeros: compare exited $rc, wanted 1 (different)"

# Refusals, each leaving the image as it was.
sha256sum c.vhd moved/base.vhd >sum.txt
expect_fail 1 "refusing to write 'c.vhd'" $V rebase -b c.vhd c.vhd
$V create -f vhd -b c.vhd gc.vhd
expect_fail 1 "refusing to write 'c.vhd'" $V rebase -u -b gc.vhd c.vhd
expect_fail 1 "not a differencing image" $V rebase -b zero.vhd moved/base.vhd
expect_fail 1 "not a differencing VHD" $V rebase -u -b zero.vhd moved/base.vhd
$V create -f vhd -o size=exact big.vhd 16M
expect_fail 1 "a VHD child has its parent's size" $V rebase -u -b big.vhd c.vhd
expect_fail 2 "-b NEWPARENT is required" $V rebase c.vhd
sha256sum -c sum.txt >/dev/null || fail "a refused rebase changed an image"
expect_fail 1 "changing the backing file is not supported for format raw" $V rebase -u -b zero.vhd before.raw

# VMDK delta disks (monolithicSparse): the same, read back by qemu-img.
$V convert -O vmdk before.raw vbase.vmdk
$V create -f vmdk -b vbase.vmdk vc.vmdk
$W vc.vmdk 1048576 65536 4
$V convert vc.vmdk vbefore.raw
mkdir vmoved && mv vbase.vmdk vmoved/
$V rebase -u -b vmoved/vbase.vmdk vc.vmdk || fail "VMDK rebase -u after moving the parent"
$V compare vc.vmdk vbefore.raw >/dev/null || fail "VMDK rebase -u changed the content"
truncate -s 8388608 z.raw && $V convert -O vmdk z.raw vzero.vmdk
$V rebase -b vzero.vmdk vc.vmdk || fail "VMDK safe rebase"
$V compare vc.vmdk vbefore.raw >/dev/null && $V check vc.vmdk >/dev/null || fail "VMDK safe rebase: content or check"
if command -v qemu-img >/dev/null; then
    qemu-img info vc.vmdk | grep -q '^backing file: vzero.vmdk$' || fail "qemu-img does not see the new VMDK parent"
    qemu-img compare vc.vmdk vbefore.raw >/dev/null || fail "qemu-img reads the rebased VMDK differently"
    qemu-img check vc.vmdk >/dev/null || fail "qemu-img check of the rebased VMDK"
fi
expect_fail 1 "not a delta VMDK" $V rebase -u -b vzero.vmdk vmoved/vbase.vmdk
echo OK
