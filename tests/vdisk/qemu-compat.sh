# qemu-img's habits, field by field on the same images: info/map/check
# JSON keys and values, and the exit codes of check and compare. A script
# written for qemu-img must read vdisk's answers unchanged. Known and
# intended differences are asserted as such (see docs/vdisk.md).
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
need qemu-img qemu-io python3

# A source with data, zeros and holes (not a multiple of the VMDK grain).
truncate -s 9437184 src.raw
head -c 300000 /dev/urandom | dd of=src.raw conv=notrunc status=none
head -c 65536 /dev/urandom | dd of=src.raw bs=64k seek=40 conv=notrunc status=none
dd if=/dev/zero of=src.raw bs=64k seek=60 count=2 conv=notrunc status=none
qemu-img convert -f raw -O vmdk src.raw s.vmdk
qemu-img convert -f raw -O vpc -o subformat=dynamic src.raw d.vhd
qemu-img convert -f raw -O vpc -o subformat=fixed src.raw f.vhd
qemu-img create -f vmdk -b s.vmdk -F vmdk c.vmdk >/dev/null
qemu-io -f vmdk -c 'write -P 7 1M 64k' -c 'write -P 8 8M 4k' c.vmdk >/dev/null
mkdir sub && qemu-img create -f vmdk -b ../s.vmdk -F vmdk sub/c2.vmdk >/dev/null

# same_info IMAGE [QEMU-FORMAT]: every key both tools know agrees; the keys a qemu-img
# script relies on are all there.
same_info() {
    qemu-img info ${2:+-f $2} --output=json "$1" >q.json
    $V info --output=json "$1" >v.json || fail "vdisk info $1"
    python3 - q.json v.json "$1" <<'PY' || fail "info of $1 differs from qemu-img's"
import json, sys
q, v = (json.load(open(f)) for f in sys.argv[1:3])
for k in ("filename", "format", "virtual-size", "actual-size", "cluster-size", "dirty-flag",
          "backing-filename", "full-backing-filename"):
    if k in q:
        assert k in v, (sys.argv[3], "missing", k)
        assert q[k] == v[k], (sys.argv[3], k, q[k], v[k])
    else:
        assert k not in v or k == "cluster-size", (sys.argv[3], "extra", k)
PY
}
for img in src.raw s.vmdk d.vhd c.vmdk sub/c2.vmdk; do same_info $img; done
# A fixed VHD (qemu-img does not probe it: it would call it raw).
same_info f.vhd vpc

# same_map IMAGE: the same meaning byte by byte (depth, present, zero,
# data and the file offset), whatever the extent boundaries.
same_map() {
    qemu-img map --output=json "$1" >q.json
    $V map --output=json "$1" >v.json || fail "vdisk map $1"
    python3 - q.json v.json "$1" <<'PY' || fail "map of $1 differs from qemu-img's"
import json, sys
q, v = (json.load(open(f)) for f in sys.argv[1:3])
def at(m, pos):
    for e in m:
        if e["start"] <= pos < e["start"] + e["length"]:
            off = e.get("offset")
            return (e["depth"], e["present"], e["zero"], e["data"],
                    None if off is None else off + pos - e["start"])
    raise AssertionError((sys.argv[3], "no extent at", pos))
cuts = sorted({e["start"] for e in q + v})
end = q[-1]["start"] + q[-1]["length"]
assert end == v[-1]["start"] + v[-1]["length"], (sys.argv[3], "sizes")
for c in cuts:
    assert at(q, c) == at(v, c), (sys.argv[3], c, at(q, c), at(v, c))
PY
}
for img in src.raw s.vmdk c.vmdk; do same_map $img; done

# check: exit codes and JSON keys.
check_rc() {   # check_rc TOOL IMAGE -> exit status
    local rc=0
    if [ "$1" = qemu ]; then qemu-img check --output=json "$2" >q.json 2>/dev/null || rc=$?
    else $V check --output=json "$2" >v.json 2>/dev/null || rc=$?; fi
    echo $rc
}
[ "$(check_rc qemu src.raw)" = 63 ] && [ "$(check_rc vdisk src.raw)" = 63 ] ||
    fail "check of a raw image: qemu-img and vdisk exit 63 (no check for the format)"
[ ! -s v.json ] || fail "check of a raw image printed JSON"
[ "$(check_rc qemu s.vmdk)" = 0 ] && [ "$(check_rc vdisk s.vmdk)" = 0 ] || fail "check of a clean VMDK"
python3 - q.json v.json <<'PY' || fail "check JSON of a clean VMDK"
import json, sys
q, v = (json.load(open(f)) for f in sys.argv[1:3])
for k, val in q.items():
    assert v.get(k) == val, (k, val, v.get(k))
PY
# Damage: vdisk exits 2 with qemu's corruptions counter. (qemu-img's VMDK
# check stops at the first bad entry with "Check failed", exit 1; its
# qcow2 check exits 2 as here.)
cp s.vmdk bad.vmdk
python3 - bad.vmdk <<'PY'
import struct, sys
f = open(sys.argv[1], "r+b"); h = f.read(512)
gd = struct.unpack_from("<Q", h, 56)[0]
f.seek(gd * 512); gt = struct.unpack("<I", f.read(4))[0]
f.seek(gt * 512); f.write(struct.pack("<I", 0x7fffff00))
PY
[ "$(check_rc vdisk bad.vmdk)" = 2 ] || fail "check of a damaged VMDK: exit 2"
python3 -c 'import json,sys; j = json.load(open("v.json")); assert j["corruptions"] >= 1 and j["check-errors"] == 0 and j["format"] == "vmdk", j' ||
    fail "check JSON of a damaged VMDK"
# A VHD: qemu-img has no check for it (63); vdisk has one, and says vpc.
[ "$(check_rc qemu d.vhd)" = 63 ] && [ "$(check_rc vdisk d.vhd)" = 0 ] || fail "check of a VHD"
python3 -c 'import json; j = json.load(open("v.json")); assert j["format"] == "vpc" and j["check-errors"] == 0, j' ||
    fail "check JSON of a VHD"

# compare: 0 identical, 1 different, 2 an image that does not open.
cmp_rc() { local rc=0; "$@" >/dev/null 2>&1 || rc=$?; echo $rc; }
cp src.raw other.raw; printf x | dd of=other.raw bs=1 seek=5000000 conv=notrunc status=none
for pair in "src.raw s.vmdk" "src.raw other.raw" "src.raw missing.raw" "missing.raw src.raw"; do
    set -- $pair
    q=$(cmp_rc qemu-img compare "$1" "$2"); v=$(cmp_rc $V compare "$1" "$2")
    [ "$q" = "$v" ] || fail "compare $1 $2: qemu-img exits $q, vdisk $v"
done
[ "$(cmp_rc $V compare src.raw missing.raw)" = 2 ] || fail "compare of a missing image: exit 2"
echo OK
