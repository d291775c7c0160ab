# Recognition that never guesses: every container vdisk does not read, made
# by qemu-img (and a DMG trailer, a COWD header), is refused by name, exit 1,
# by every tool (vdisk, vmm, drivers-inject, p2v capture --disk, p2v serve
# -O); -f raw forces raw; an ISO 9660 image is raw and vdisk info says so;
# the help texts list what the registry holds.
source "$SRC/tests/lib.sh"
need qemu-img python3
V=$BIN/vdisk

# refused NAME FILE: every tool that opens FILE fails naming NAME.
refused() {
    local name=$1 f=$2 msg="$2: $1 images are not supported yet"
    expect_fail 1 "$msg" $V info "$f"
    expect_fail 1 "$msg" $V convert -O vhd "$f" out.vhd
    [ ! -e out.vhd ] || fail "convert of $f left out.vhd"
    expect_fail 1 "$msg" $V check "$f"
    expect_fail 1 "$msg" $V map "$f"
    expect_fail 2 "$msg" $V compare "$f" "$f"     # qemu-img compare: 2, cannot open
    expect_fail 1 "$msg" "$BIN/vmm" --check --timeout 5 "$f"
    local rc=0
    "$BIN/drivers-inject" --dry-run "$f" >di.out 2>di.err || rc=$?
    [ $rc = 1 ] && grep -q -- "$msg" di.err || { cat di.err; fail "drivers-inject $f exited $rc"; }
    expect_fail 1 "$msg" "$BIN/p2v" capture --server 127.0.0.1:1 --token-file token \
        --retry-for 1 --state s.session --disk "$f"
    # -f raw forces raw: the container's bytes.
    $V info -f raw "$f" | grep -q '^file format: raw$' || fail "-f raw $f"
}
printf '0123456789abcdef0123\n' >token

for fmt in parallels qed qcow; do
    qemu-img create -q -f $fmt x.$fmt 8M
    refused $fmt x.$fmt
done
# The formats with drivers are read as what they are, never as raw.
for fmt in qcow2 vdi vmdk vhdx; do
    qemu-img create -q -f $fmt r.$fmt 8M
    $V info r.$fmt | grep -q "^file format: $fmt$" || fail "r.$fmt is not read as $fmt"
done
# qemu-img times its PBKDF, which fails now and then on a loaded machine
# ("Unable to get accurate CPU usage"): a few tries, then a LUKS1 header
# written here.
for try in 1 2 3; do
    qemu-img create -q --object secret,id=s0,data=pw -f luks -o key-secret=s0,iter-time=10 \
        x.luks 8M 2>/dev/null && break
    rm -f x.luks
done
[ -e x.luks ] || python3 -c 'import sys; sys.stdout.buffer.write(b"LUKS\xba\xbe\x00\x01" + bytes(1 << 20))' >x.luks
refused luks x.luks

# Made here: a DMG "koly" trailer, an ESX 2 "COWD" sparse header, and a
# VMDK descriptor with a comment before createType (read as a VMDK: its
# missing extent is the error, not raw bytes).
python3 - <<'PY'
import struct
d = bytearray(1 << 20)
d[-512:-512 + 12] = b"koly" + struct.pack(">II", 4, 512)
open("x.dmg", "wb").write(d)
c = bytearray(1 << 20)
c[0:8] = b"COWD" + struct.pack("<I", 1)
open("x.cowd", "wb").write(c)
open("x.desc", "w").write("# written by hand\nversion=1\ncreateType=\"vmfs\"\n"
                          "RW 2048 VMFS \"x-flat.vmdk\"\n")
PY
refused dmg x.dmg
refused vmfssparse x.cowd
expect_fail 1 "x.desc: cannot open extent file 'x-flat.vmdk'" $V info x.desc

# Creating or converting to a recognised-only format names it too.
expect_fail 1 "parallels images are not supported yet" $V create -f parallels n.img 1M
[ ! -e n.img ] || fail "create -f parallels left a file"
$V create -f raw r.raw 1M
expect_fail 1 "qed images are not supported yet" $V convert -O qed r.raw n.qed
[ ! -e n.qed ] || fail "convert -O qed left a file"
expect_fail 1 "p2v serve: luks images are not supported yet; -O takes vhd, vmdk, vhdx, qcow2, vdi, raw" \
    "$BIN/p2v" serve --listen 127.0.0.1:1 --dir . --token-file token -O luks

# A raw disk stays raw (an MBR, random bytes): nothing is guessed.
head -c 1048576 /dev/urandom >rand.img
$V info rand.img | grep -q '^file format: raw$' || fail "random bytes are raw"

# A CD image is raw, but vdisk info says what it is.
if command -v xorriso >/dev/null; then
    mkdir iso && echo hello >iso/a.txt
    xorriso -as mkisofs -quiet -o cd.iso iso 2>/dev/null
    $V info cd.iso >info.txt
    grep -q '^file format: raw$' info.txt && grep -q '^content: ISO 9660 CD image' info.txt ||
        { cat info.txt; fail "ISO 9660 is raw and said so"; }
fi

# The lists come from the registry.
$V --help >help.txt
grep -q '^formats: vhd (alias vpc), vmdk, vhdx (alias avhdx), qcow2, vdi, raw$' help.txt ||
    { cat help.txt; fail "vdisk --help formats"; }
grep -q 'qcow, vmfssparse, parallels, qed, dmg, luks' help.txt ||
    { cat help.txt; fail "vdisk --help recognised formats"; }
$V create --help | grep -q '^vhd options:' || fail "vdisk create --help lists vhd options"
$V create --help | grep -q '^vhdx options:' || fail "vdisk create --help lists vhdx options"
$V create --help | grep -q '^raw options: none' || fail "vdisk create --help lists raw"
"$BIN/p2v" serve --help | grep -q 'image format: vhd, vmdk, vhdx, qcow2, vdi, raw (default vhd)' ||
    fail "p2v serve --help -O"
"$BIN/drivers-inject" --help | grep -q 'extension names (vhd, vmdk, vhdx, qcow2; default vhd)' ||
    fail "drivers-inject --help --into"
echo "foreign formats refused by name"
