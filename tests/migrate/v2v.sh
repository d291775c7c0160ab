# virt-v2v (Debian's) as the consumer of what `p2v migrate` writes for
# VMware: the captured Linux sample migrated --to vmware and --to ova, then
# `virt-v2v -i vmx NAME.vmx -o null` and `virt-v2v -i ova NAME.ova -o null`
# (TCG: no KVM here). virt-v2v parses the .vmx (it must find the IDE disk)
# and the OVA (descriptor, the SHA-256 manifest checked against every
# member), opens the VMDKs through its own stack and inspects them. The
# sample is a kernel and an initramfs on FAT, with no root file system, so
# virt-v2v's inspection stops at "No root device found": the test accepts
# exactly that failure (or success), after the source was opened. Control:
# the same OVA with one digest changed is refused at the manifest check.
source "$SRC/tests/lib.sh"
source "$SRC/tests/migrate/lib.sh"
need apt-get dpkg cpio sfdisk mcopy mkfs.fat syslinux python3 xmllint tar
command -v virt-v2v >/dev/null || skip "needs virt-v2v (Debian package virt-v2v): the VMware/OVA acceptance test is not run"
export LIBGUESTFS_BACKEND_SETTINGS=force_tcg
export TMPDIR=$WORK LIBGUESTFS_CACHEDIR=$WORK

capture_sample s1
"$BIN/p2v" migrate --to vmware --no-verify --memory 256 -o vm "$SAMPLE_DIR" >migrate.txt 2>&1 || { cat migrate.txt >&2; fail "migrate --to vmware"; }
"$BIN/p2v" migrate --to ova --no-verify --memory 256 -o ova "$SAMPLE_DIR" >>migrate.txt 2>&1 || { cat migrate.txt >&2; fail "migrate --to ova"; }

# v2v NAME ARGS...: runs virt-v2v; accepted: success, or inspection's
# "No root device found" after the source was opened.
v2v() {
    local name=$1 rc=0; shift
    timeout 150 virt-v2v "$@" -o null >"$name.log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        grep -F 'Inspecting the source' "$name.log" >/dev/null && grep -F 'No root device found' "$name.log" >/dev/null ||
            { cat "$name.log" >&2; fail "virt-v2v $* exited $rc before inspecting the guest"; }
    fi
    grep -F 'Opening the source' "$name.log" >/dev/null || { cat "$name.log" >&2; fail "virt-v2v $*: the source was not opened"; }
    echo "virt-v2v $*: exit $rc, $(grep -o 'Inspecting the source\|No root device found' "$name.log" | tr '\n' ' ')"
}
v2v vmx -i vmx vm/s1.vmx
v2v ova -i ova ova/s1.ova

# Control: a digest that does not match is refused at the manifest check,
# so the check above did run and pass.
mkdir bad
tar -xf ova/s1.ova -C bad
python3 - bad/s1.mf <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
head, digest = lines[1].split("= ")
lines[1] = head + "= " + ("1" if digest[0] == "0" else "0") + digest[1:]
open(sys.argv[1], "w").write("\n".join(lines))
PY
(cd bad && tar --format=ustar -cf ../bad.ova s1.ovf s1.mf s1-disk0.vmdk)
rc=0
timeout 150 virt-v2v -i ova bad.ova -o null >bad.log 2>&1 || rc=$?
[ "$rc" -ne 0 ] && grep -F 'does not match manifest' bad.log >/dev/null || { cat bad.log >&2; fail "virt-v2v accepted a wrong digest"; }
echo ok
