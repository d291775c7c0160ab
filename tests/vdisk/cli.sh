# The command line: --help everywhere, usage errors exit 2 with one line,
# sizes, info/map/check JSON, compare's verdicts and commit.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
need python3

for cmd in info create convert check compare map commit; do
    $V $cmd --help | grep "usage: vdisk $cmd" >/dev/null || fail "$cmd --help"
done
$V --help | grep 'exit status' >/dev/null || fail "vdisk --help"
expect_fail 2 "unknown command 'frob'" $V frob
expect_fail 2 "vdisk create: -f FMT is required" $V create x.vhd 1M
expect_fail 2 "bad size '12Q'" $V create -f vhd x.vhd 12Q
expect_fail 2 "unknown format 'qcow9'" $V convert -O qcow9 a b
expect_fail 2 "expects exactly one IMAGE" $V info
expect_fail 2 "unknown option or missing value: .--bogus." $V map --bogus x
expect_fail 2 "format vhd has no option 'colour'" $V create -f vhd -o colour=red x.vhd 1M
expect_fail 1 "cannot open 'missing.vhd'" $V info missing.vhd
[ ! -e x.vhd ] || fail "a failed create left x.vhd behind"

# Sizes: suffixes are powers of 1024; size=exact keeps the bytes.
$V create -f raw r.raw 3M && [ "$(stat -c %s r.raw)" = 3145728 ] || fail "3M raw"
$V create -f vhd -o size=exact e.vhd 1536K
$V info --output=json e.vhd >e.json
python3 - e.json <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["format"] == "vpc" and j["virtual-size"] == 1572864, j
d = j["format-specific"]["data"]
assert d["subformat"] == "dynamic" and d["geometry"] == "65535/16/255", d
assert d["creator-app"] == "vdsk" and j["cluster-size"] == 2097152, j
PY
$V info e.vhd | grep '^geometry: 65535/16/255$' >/dev/null || fail "info geometry"

# check: clean image exit 0; JSON lists problems.
$V check e.vhd | grep 'No errors' >/dev/null || fail "check clean"
$V check --output=json e.vhd | python3 -c 'import json,sys; assert json.load(sys.stdin)["problems"] == []'

# map: an empty dynamic disk is one unallocated extent; after a write, data.
$V map --output=json e.vhd | python3 -c '
import json,sys; m = json.load(sys.stdin)
assert m == [{"start": 0, "length": 1572864, "depth": 0, "present": False, "zero": True, "data": False, "kind": "unallocated"}], m'
"$BUILD/tests/vd-write" e.vhd 512 1024
$V map e.vhd | grep -Eq '^0x200 +0x400 +data$' || { $V map e.vhd; fail "map after write"; }

# compare: identical across formats; a zero tail is a warning (exit 0), -s
# makes it a difference; a different byte gives its offset and exit 1.
$V convert -O raw e.vhd e.raw
$V compare e.vhd e.raw | grep 'Images are identical' >/dev/null || fail "compare same"
truncate -s 2M e2.raw && dd if=e.raw of=e2.raw conv=notrunc status=none
$V compare e.vhd e2.raw >out.txt || fail "zero tail should be identical"
grep -q 'Warning: Image size mismatch' out.txt && grep -q 'identical' out.txt || fail "zero tail message"
rc=0; $V compare -s e.vhd e2.raw >/dev/null || rc=$?; [ $rc = 1 ] || fail "compare -s size"
printf 'x' | dd of=e2.raw bs=1 seek=2000000 conv=notrunc status=none
rc=0; $V compare e.vhd e2.raw >out.txt || rc=$?
[ $rc = 1 ] && grep -q 'mismatch at offset 2000000' out.txt || { cat out.txt; fail "compare tail diff"; }
printf 'y' | dd of=e.raw bs=1 seek=700 conv=notrunc status=none
rc=0; $V compare e.vhd e.raw >out.txt || rc=$?
[ $rc = 1 ] && grep -q 'Content mismatch at offset 700!' out.txt || { cat out.txt; fail "compare diff"; }

# -p outside a terminal: whole lines (no \r), so that a log shows progress;
# without -p nothing.
$V convert -p -O raw e.vhd p.raw 2>err.txt && grep -q '(100.0%)' err.txt && ! grep -q $'\r' err.txt ||
    { cat err.txt; fail "progress outside a terminal"; }
$V convert -O raw e.vhd q.raw 2>err.txt && [ ! -s err.txt ] || fail "progress without -p"
$V create -f vhd big.vhd 10G && $V info big.vhd | grep '(10737893376 bytes)' >/dev/null || fail "10G"

# convert refuses to write over its own input.
expect_fail 1 "refusing to write 'e.vhd'" $V convert -O vhd e.vhd e.vhd
ln -s e.vhd link.vhd
expect_fail 1 "refusing to write 'link.vhd'" $V convert -O raw e.vhd link.vhd

# commit: the child's sectors land in the parent; the child reads the same.
$V create -f vhd -o size=exact base.vhd 4M
"$BUILD/tests/vd-write" base.vhd 0 4194304 1
$V create -f vhd -b base.vhd top.vhd
"$BUILD/tests/vd-write" top.vhd 1049088 70000 2
$V convert -O raw top.vhd before.raw
expect_fail 1 "not a differencing image" $V commit base.vhd
$V commit top.vhd | grep 'Image committed' >/dev/null || fail commit
$V compare top.vhd before.raw >/dev/null || fail "child changed by commit"
$V compare base.vhd before.raw >/dev/null || fail "parent lacks the committed data"
$V check base.vhd >/dev/null && $V check top.vhd >/dev/null
echo OK
