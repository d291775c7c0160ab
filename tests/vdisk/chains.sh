# Chains that nothing can open: vdisk check opens the chain as every other
# command does and reports it (exit 1), and the error of a chain deeper than
# the limit shows its cause on one line.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk

# check_fails IMAGE PATTERN: check exits 2 (damaged) and prints the cause.
check_fails() {
    local rc=0
    $V check "$1" >out.txt 2>err.txt || rc=$?
    [ $rc = 2 ] || { cat out.txt err.txt; fail "check $1 exited $rc (2: damaged)"; }
    grep -Eq -- "$2" out.txt || { cat out.txt; fail "check $1 does not say /$2/"; }
    grep -q 'No errors' out.txt && fail "check $1 says no errors"
    $V check --output=json "$1" >out.json 2>/dev/null || true
    python3 -c 'import json,sys; j = json.load(open(sys.argv[1])); assert j["corruptions"] >= 1 and j["check-errors"] == 0, j' out.json
}

# A child that is its own parent.
$V create -f vhd -o size=exact p.vhd 4M
$V create -f vhd -b p.vhd c.vhd
cp c.vhd p.vhd
check_fails p.vhd "loops back to '\./p.vhd'"
expect_fail 1 "loops back" $V info p.vhd

# A -> B -> A.
$V create -f vhd -o size=exact a.vhd 4M
$V create -f vhd -b a.vhd b.vhd
$V create -f vhd -b b.vhd a2.vhd
mv a2.vhd a.vhd
check_fails a.vhd "loops back to '\./a.vhd'"
check_fails b.vhd "loops back to '\./b.vhd'"

# A parent that is a symlink to itself.
$V create -f vhd -o size=exact s.vhd 4M
$V create -f vhd -b s.vhd t.vhd
rm s.vhd && ln -s s.vhd s.vhd
check_fails t.vhd "s.vhd"

# A chain one image deeper than the limit (64 parents): the error is one
# line that ends with the cause, not a kilobyte of "parent of" prefixes.
$V create -f vhd -o size=exact d0.vhd 1M
for i in $(seq 1 65); do
    $V create -f vhd -b "d$((i - 1)).vhd" "d$i.vhd" 2>err.txt || { cat err.txt; fail "create d$i"; }
done
expect_fail 1 "backing chain deeper than 64 images$" $V info d65.vhd
[ "$(wc -c <err.txt)" -lt 300 ] || { cat err.txt; fail "the deep-chain error is too long"; }
expect_fail 1 "backing chain deeper than 64 images$" $V convert -O raw d65.vhd out.raw
check_fails d65.vhd "backing chain deeper than 64 images$"
# One image less opens.
$V check d64.vhd | grep 'No errors' >/dev/null || fail "check of a 64-parent chain"
echo OK
