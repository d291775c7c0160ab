# p2v migrate --to ova: the captured Linux sample as one OVF package. The
# .ova is a POSIX ustar archive (every header's magic checked) holding the
# descriptor first, the manifest second, then the disk; the manifest's
# SHA-256 lines pass `sha256sum -c` on the extracted members; the
# descriptor's File size is the member's true size, its Disk capacity the
# capture's disk size, its virtual hardware the model's (memory, CPUs, IDE
# controller as the disk's parent, the NIC with the original MAC); the disk
# is a streamOptimized VMDK that qemu-img (and libvmdk) read as the
# capture's content. The loose VMDK is gone (the package holds it). A
# non-ASCII VM name packs in the C locale. A full
# disk while packing fails the define step with one line and leaves no
# partial package. The capture stays byte-identical.
source "$SRC/tests/lib.sh"
source "$SRC/tests/migrate/lib.sh"
need apt-get dpkg cpio sfdisk mcopy mkfs.fat syslinux python3 xmllint qemu-img tar sha256sum

capture_sample s1
before=$(tree_sum "$SAMPLE_DIR")
mac=$(xmllint --xpath 'string(//nic[1]/@mac)' "$SAMPLE_DIR/manifest.xml" | tr A-F a-f)
size=$(xmllint --xpath 'string(//disk[1]/@size)' "$SAMPLE_DIR/manifest.xml")

"$BIN/p2v" migrate --to ova --no-verify --memory 300 --vcpus 2 -o out "$SAMPLE_DIR" >migrate.txt 2>migrate.err ||
    { cat migrate.txt migrate.err >&2; fail "p2v migrate --to ova exited non-zero"; }
[ -s out/s1.ova ] || fail "no out/s1.ova"
[ -z "$(find out -maxdepth 1 \( -name '*.vmdk' -o -name '*.tmp' \))" ] || fail "loose VMDK or temporary file left beside the OVA"

# The archive: member order and the ustar header of each member.
python3 - out/s1.ova >members.txt <<'PY' || fail "the OVA is not a ustar archive: $(cat members.txt)"
import sys, tarfile
with open(sys.argv[1], "rb") as raw, tarfile.open(sys.argv[1]) as t:
    for m in t.getmembers():
        raw.seek(m.offset + 257)
        magic = raw.read(8)
        assert magic == b"ustar\x0000", (m.name, magic)
        assert m.isfile(), m.name
        print(m.name, m.size)
PY
[ "$(cut -d' ' -f1 members.txt | tr '\n' ' ')" = "s1.ovf s1.mf s1-disk0.vmdk " ] ||
    fail "member order: $(cat members.txt)"
mkdir x
tar -xf out/s1.ova -C x || fail "tar cannot extract the OVA"

# The manifest: one SHA256 line for each other member, all true.
[ "$(wc -l <x/s1.mf)" = 2 ] || fail "manifest: $(cat x/s1.mf)"
sed -n 's/^SHA256(\(.*\))= \([0-9a-f]\{64\}\)$/\2  \1/p' x/s1.mf >x/sums
[ "$(wc -l <x/sums)" = 2 ] || fail "manifest lines are not SHA256(FILE)= HEX: $(cat x/s1.mf)"
(cd x && sha256sum -c --quiet sums) || fail "the manifest's digests do not match the members"

# The descriptor, field by field (namespace-blind XPath).
o=x/s1.ovf
xmllint --noout "$o" || fail "xmllint cannot parse the OVF"
X() { xmllint --xpath "$1" "$o"; }
el() { echo "//*[local-name()='$1']"; }
ch() { echo "*[local-name()='$1']"; }
at() { echo "@*[local-name()='$1']"; }
[ "$(X "namespace-uri(/*)")" = http://schemas.dmtf.org/ovf/envelope/1 ] || fail "not an OVF 1.x envelope"
[ "$(X "string($(el File)/$(at href))")" = s1-disk0.vmdk ] || fail "File href"
[ "$(X "string($(el File)/$(at size))")" = "$(stat -c %s x/s1-disk0.vmdk)" ] || fail "File size is not the member's size"
[ "$(X "string($(el Disk)/$(at capacity))")" = "$size" ] || fail "Disk capacity is not $size"
[ "$(X "string($(el Disk)/$(at format))")" = 'http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized' ] ||
    fail "Disk format"
[ "$(X "string($(el VirtualSystem)/$(ch Name))")" = s1 ] || fail "Name"
[ "$(X "string($(el VirtualSystemType))")" = vmx-04 ] || fail "VirtualSystemType"
item() { echo "$(el Item)[*[local-name()='ResourceType']='$1']"; }
[ "$(X "string($(item 4)/$(ch VirtualQuantity))")" = 300 ] || fail "memory"
[ "$(X "string($(item 4)/$(ch AllocationUnits))")" = 'byte * 2^20' ] || fail "memory units"
[ "$(X "string($(item 3)/$(ch VirtualQuantity))")" = 2 ] || fail "CPUs"
ide=$(X "string($(item 5)/$(ch InstanceID))")
[ -n "$ide" ] && [ "$(X "string($(item 17)/$(ch Parent))")" = "$ide" ] || fail "the disk's parent is not the IDE controller"
[ "$(X "string($(item 17)/$(ch HostResource))")" = ovf:/disk/vmdisk1 ] || fail "HostResource"
[ "$(X "string($(el Disk)/$(at diskId))")" = vmdisk1 ] && [ "$(X "string($(el Disk)/$(at fileRef))")" = "$(X "string($(el File)/$(at id))")" ] ||
    fail "Disk -> File reference"
[ "$(X "string($(item 10)/$(ch ResourceSubType))")" = E1000 ] || fail "NIC model"
if [ -n "$mac" ]; then
    [ "$(X "string($(item 10)/$(ch Address))")" = "$mac" ] || fail "NIC MAC"
fi

# The disk: streamOptimized, the capture's content.
qemu-img info --output=json x/s1-disk0.vmdk >info.json
[ "$(json 'd["format"], d["format-specific"]["data"]["create-type"], d["virtual-size"]' info.json)" = "('vmdk', 'streamOptimized', $size)" ] ||
    fail "not a $size-byte streamOptimized VMDK: $(cat info.json)"
qemu-img compare -q -F vpc x/s1-disk0.vmdk "$SAMPLE_DIR/disk0.vhd" || fail "the VMDK's content differs from the capture"
if command -v vmdkinfo >/dev/null; then
    vmdkinfo x/s1-disk0.vmdk >vmdkinfo.txt || fail "vmdkinfo cannot read the VMDK"
    grep -F "($size bytes)" vmdkinfo.txt >/dev/null || { cat vmdkinfo.txt >&2; fail "vmdkinfo: not $size bytes"; }
fi

# A non-ASCII VM name in the C locale: the members carry the UTF-8 name
# (a pax extended header; the others stay plain ustar) and the manifest
# still checks.
LC_ALL=C "$BIN/p2v" migrate --to ova --no-verify --name 'wéb' -o utf "$SAMPLE_DIR" >utf.txt 2>&1 ||
    { cat utf.txt >&2; fail "a non-ASCII VM name"; }
mkdir xu
tar -xf utf/wéb.ova -C xu || fail "tar cannot extract the OVA with a non-ASCII name"
[ "$(cd xu && ls | sort | tr '\n' ' ')" = "wéb-disk0.vmdk wéb.mf wéb.ovf " ] || fail "non-ASCII members: $(ls xu)"
(cd xu && sed -n 's/^SHA256(\(.*\))= \([0-9a-f]\{64\}\)$/\2  \1/p' wéb.mf | sha256sum -c --quiet) || fail "non-ASCII name: manifest"

# A full disk while the package is written (a file size limit just above
# the VMDK's size, for p2v only: its tools run unlimited through wrappers):
# the define step fails with one line naming the package, no partial .ova
# or temporary file is left, and the disk stays for a retry.
mkdir fbin
cp "$BIN/p2v" fbin/p2v      # p2v migrate runs the tools next to its own executable
for t in drivers-inject vdisk vmm; do
    printf '#!/bin/bash\nulimit -S -f unlimited\nexec %q "$@"\n' "$BIN/$t" >"fbin/$t"
    chmod +x "fbin/$t"
done
limit=$(( $(stat -c %s x/s1-disk0.vmdk) / 1024 + 2 ))
rc=0
(trap '' XFSZ; ulimit -S -f "$limit"; exec fbin/p2v migrate --to ova --no-verify -o full "$SAMPLE_DIR") >full.txt 2>full.err || rc=$?
[ "$rc" -eq 1 ] || { cat full.txt full.err >&2; fail "a full disk while packing: exit $rc, wanted 1"; }
grep -v 'warning: no Windows or Linux system' full.err >full.line
[ "$(wc -l <full.line)" = 1 ] && grep -E 'step define failed: cannot write .*/full/s1\.ova\.tmp: .*File too large' full.line >/dev/null ||
    { cat full.err >&2; fail "a full disk while packing: not one line naming the package"; }
[ ! -e full/s1.ova ] && [ ! -e full/s1.ova.tmp ] || fail "a partial OVA was left"
[ -s full/s1-disk0.vmdk ] || fail "the converted disk was deleted although the package failed"

[ "$(tree_sum "$SAMPLE_DIR")" = "$before" ] || fail "p2v migrate changed the capture"
echo ok
