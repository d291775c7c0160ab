# vdisk rebase for qcow2 and VHDX children: -u after moving the parent (the
# old one gone), safe mode onto a parent with other content (the child
# reads the same), read back by qemu-img (qcow2: check clean, the backing
# file and its format as qemu-img shows them) and by libvhdi (VHDX, whose
# differencing disks qemu-img does not read); a grandchild still opens
# after its parent was rebased with -u; refusals are one line.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
W=$BUILD/tests/vd-write
need qemu-img qemu-io python3

backing_of() { qemu-img info --output=json "$1" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j.get("backing-filename",""), j.get("backing-filename-format",""))'; }

# ---- qcow2, version 3 and version 2 with 512-byte clusters ----
qemu-img create -q -f qcow2 b1.qcow2 8M
qemu-io -c 'write -P 1 0 4M' b1.qcow2 >/dev/null
qemu-img create -q -f qcow2 b2.qcow2 8M
qemu-io -c 'write -P 2 2M 4M' b2.qcow2 >/dev/null
for o in compat=1.1 compat=0.10,cluster_size=512; do
    rm -f c.qcow2
    qemu-img create -q -f qcow2 -o $o -b b1.qcow2 -F qcow2 c.qcow2 8M
    qemu-io -c 'write -P 9 3M 64k' c.qcow2 >/dev/null
    $V convert c.qcow2 before.raw
    $V rebase -b b2.qcow2 c.qcow2 || fail "$o: safe rebase"
    [ "$(backing_of c.qcow2)" = "b2.qcow2 qcow2" ] || fail "$o: backing after the rebase: $(backing_of c.qcow2)"
    qemu-img check c.qcow2 >/dev/null || fail "$o: qemu-img check after the rebase"
    qemu-img compare c.qcow2 before.raw >/dev/null || fail "$o: qemu-img reads the rebased child differently"
    $V compare c.qcow2 before.raw >/dev/null || fail "$o: vdisk reads the rebased child differently"
    # The parent moves: -u names it; a VHD copy of it is as good a parent.
    mkdir -p moved && mv b2.qcow2 moved/
    $V rebase -u -b moved/b2.qcow2 c.qcow2 || fail "$o: rebase -u after moving the parent"
    [ "$(backing_of c.qcow2)" = "moved/b2.qcow2 qcow2" ] || fail "$o: backing after -u: $(backing_of c.qcow2)"
    qemu-img compare c.qcow2 before.raw >/dev/null || fail "$o: rebase -u changed the content"
    $V convert -O vhd -o size=exact moved/b2.qcow2 b2.vhd
    $V rebase -u -b b2.vhd c.qcow2 || fail "$o: rebase -u onto a VHD"
    [ "$(backing_of c.qcow2)" = "b2.vhd vpc" ] || fail "$o: backing after -u onto a VHD: $(backing_of c.qcow2)"
    qemu-img compare c.qcow2 before.raw >/dev/null || fail "$o: qemu-img reads the child of a VHD differently"
    command -v qcowinfo >/dev/null && { qcowinfo c.qcow2 | grep -q "Backing filename.*b2.vhd" || fail "$o: qcowinfo backing name"; }
    mv moved/b2.qcow2 . && rm -f b2.vhd
done
# An image without a backing file gets one with -u (as qemu-img).
qemu-img create -q -f qcow2 lone.qcow2 8M
$V rebase -u -b b1.qcow2 lone.qcow2 || fail "rebase -u of an image without a backing file"
qemu-img compare lone.qcow2 b1.qcow2 >/dev/null || fail "the new overlay does not read its backing file"

# ---- VHDX ----
head -c 8M /dev/urandom >p1.raw
head -c 8M /dev/urandom >p2.raw
$V convert -O vhdx p1.raw p1.vhdx
$V convert -O vhdx p2.raw p2.vhdx
$V create -f vhdx -b p1.vhdx ch.vhdx >/dev/null
$W ch.vhdx 1048576 65536 9
$V convert ch.vhdx ch.raw
$V create -f vhdx -b ch.vhdx gc.vhdx >/dev/null
$W gc.vhdx 4194304 4096 7
$V convert gc.vhdx gc.raw
# -u after the parent moved; the grandchild still matches its parent.
mkdir -p mv && mv p1.vhdx mv/
expect_fail 1 "parent not found" $V info ch.vhdx
$V rebase -u -b mv/p1.vhdx ch.vhdx || fail "vhdx: rebase -u after moving the parent"
$V compare ch.vhdx ch.raw >/dev/null || fail "vhdx: rebase -u changed the content"
$V check ch.vhdx >/dev/null || fail "vhdx: check after rebase -u"
$V compare gc.vhdx gc.raw >/dev/null || fail "vhdx: the grandchild no longer opens after rebase -u"
# Safe mode onto other content.
$V rebase -b p2.vhdx ch.vhdx || fail "vhdx: safe rebase"
$V compare ch.vhdx ch.raw >/dev/null || fail "vhdx: the safe rebase changed what the child reads"
$V check ch.vhdx >/dev/null || fail "vhdx: check after the safe rebase"
$V info ch.vhdx | grep -q '^parent_locator: relative_path=.\\p2.vhdx$' || fail "vhdx: the locator does not name p2.vhdx"
if command -v vhdimount >/dev/null && [ -e /dev/fuse ] && mkdir -p mnt && vhdimount ch.vhdx mnt >/dev/null 2>&1; then
    # libvhdi numbers the chain from the base: the child is the last.
    cmp mnt/vhdi2 ch.raw && cmp mnt/vhdi1 p2.raw; r=$?
    fusermount -u mnt 2>/dev/null || umount mnt
    [ $r = 0 ] || fail "vhdx: libvhdi reads the rebased chain differently"
fi
if command -v vhdiinfo >/dev/null; then
    vhdiinfo ch.vhdx | grep -q 'Parent filename.*p2.vhdx' || fail "vhdx: vhdiinfo does not see the new parent"
fi
# Refusals, each leaving the image as it was.
sha256sum ch.vhdx >sum.txt
$V convert -O vhdx p1.raw big.vhdx
$V resize big.vhdx 16M >/dev/null
expect_fail 1 "a VHDX child has its parent's size" $V rebase -u -b big.vhdx ch.vhdx
$V convert -O vhd -o size=exact p2.raw p2.vhd
expect_fail 1 "a VHDX differencing disk needs a VHDX parent" $V rebase -u -b p2.vhd ch.vhdx
expect_fail 1 "not a differencing VHDX" $V rebase -u -b p2.vhdx big.vhdx
sha256sum -c sum.txt >/dev/null || fail "a refused rebase changed the child"
echo OK
