# virt-v2v (Debian's) as the consumer of what `p2v migrate` writes for
# VMware. The source is drivers-inject's Windows Server 2003 test image
# (256 MiB: virt-v2v wants 100 MB free in the guest; it carries a PE32
# cmd.exe so that libguestfs inspection takes it for Windows), captured by
# p2v serve and migrated --to vmware and --to ova; then `virt-v2v -i vmx
# NAME.vmx -o local` and `virt-v2v -i ova NAME.ova -o local` (TCG: no KVM
# here; about a minute each) must convert it to the end: parse the .vmx
# (find the IDE disk) and the OVA (descriptor; the SHA-256 manifest checked
# against every member), read the VMDKs, inspect Windows, convert, write a
# disk and a libvirt XML. Control: the same OVA with one digest changed is
# refused at the manifest check, so the check did run and pass.
# The Linux sample of the other migrate tests is a kernel and an initramfs
# on FAT with no root file system, which virt-v2v's inspection rejects
# ("No root device found"); it is not used here.
source "$SRC/tests/lib.sh"
source "$SRC/tests/p2v/lib.sh"
source "$SRC/tests/drivers-inject/guest.sh"
source "$SRC/tests/migrate/lib.sh"
need python3 tar qemu-img xmllint
command -v virt-v2v >/dev/null || skip "needs virt-v2v (Debian package virt-v2v): the VMware/OVA acceptance test is not run"
export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
export TMPDIR=$WORK LIBGUESTFS_CACHEDIR=$WORK

make_guest w2k3.img w2k3 cab size=256
start_server "$WORK/srv" --once
capture --name w2k3 --disk w2k3.img >/dev/null
wait "$SERVER_PID" || fail "p2v serve --once failed"
cap=$WORK/srv/w2k3
"$BIN/p2v" migrate --to vmware --no-verify --memory 256 -o vm "$cap" >migrate.txt 2>&1 || { cat migrate.txt >&2; fail "migrate --to vmware"; }
"$BIN/p2v" migrate --to ova --no-verify --memory 256 -o ova "$cap" >>migrate.txt 2>&1 || { cat migrate.txt >&2; fail "migrate --to ova"; }

# v2v NAME ARGS...: virt-v2v converts to the end into NAME/.
v2v() {
    local name=$1 rc=0; shift
    mkdir "$name"
    timeout 200 virt-v2v "$@" -o local -os "$name" >"$name.log" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || { cat "$name.log" >&2; fail "virt-v2v $* exited $rc"; }
    [ -s "$name/w2k3-sda" ] && [ -s "$name/w2k3.xml" ] || { ls -l "$name" >&2; fail "virt-v2v $*: no converted disk and XML"; }
    [ "$(xmllint --xpath 'string(/domain/memory)' "$name/w2k3.xml")" = 262144 ] || fail "virt-v2v $*: memory not read from our definition"
    qemu-img info "$name/w2k3-sda" >/dev/null || fail "virt-v2v $*: the converted disk does not read"
    echo "virt-v2v $*: converted"
}
v2v v2v-vmx -i vmx vm/w2k3.vmx
v2v v2v-ova -i ova ova/w2k3.ova

# Control: one wrong digest in the manifest is refused.
mkdir bad
tar -xf ova/w2k3.ova -C bad
python3 - bad/w2k3.mf <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
head, digest = lines[1].split("= ")
lines[1] = head + "= " + ("1" if digest[0] == "0" else "0") + digest[1:]
open(sys.argv[1], "w").write("\n".join(lines))
PY
(cd bad && tar --format=ustar -cf ../bad.ova w2k3.ovf w2k3.mf w2k3-disk0.vmdk)
rc=0
timeout 200 virt-v2v -i ova bad.ova -o null >bad.log 2>&1 || rc=$?
[ "$rc" -ne 0 ] && grep -F 'does not match manifest' bad.log >/dev/null || { cat bad.log >&2; fail "virt-v2v accepted a wrong digest"; }
echo ok
