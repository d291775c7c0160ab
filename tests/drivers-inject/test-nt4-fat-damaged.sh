# NT 4.0 on FAT16 whose SYSTEM hive's cluster chain loops back after its
# last cluster (both FATs): replacing the hive through mtools used to walk
# the loop into a freed cluster, free "cluster 0" and zero FAT entry 0 in
# both FATs, and the run still said "Result: ready". Now the volume is
# checked before anything is written (our chain walk and fsck.fat -n):
# refused with one line, exit 1, the image untouched, no output left
# behind; --force gets past that check, but FAT entries 0/1 never change
# (nothing written). A volume that fsck.fat calls damaged after the run
# (here: a lost cluster, forced) is an error, never "ready". fsck.fat and
# mtools are the oracles.
source "$SRC/tests/lib.sh"
source "$SRC/tests/drivers-inject/guest.sh"
need mcopy mshowfat fsck.fat sha256sum

make_guest disk.img nt4 fat
mkdir media
placeholder atapi.sys "nt4 sp6a atapi.sys"
gcab -c -z media/ATAPI.SY_ atapi.sys
part=$((63 * 512))
# The BPB: reserved sectors, FAT size; entries are 16-bit.
rsvd=$(od -An -tu2 -j $((part + 14)) -N2 disk.img | tr -d ' ')
fatsz=$(od -An -tu2 -j $((part + 22)) -N2 disk.img | tr -d ' ')
fat1=$((part + rsvd * 512)) fat2=$((part + (rsvd + fatsz) * 512))
# set_entry IMAGE CLUSTER VALUE: in both FATs.
set_entry() {
    for f in $fat1 $fat2; do
        printf "\\x$(printf %02x $(($3 & 255)))\\x$(printf %02x $(($3 >> 8)))" |
            dd of="$1" bs=1 seek=$((f + 2 * $2)) conv=notrunc status=none
    done
}
dd if=disk.img of=p.img bs=512 skip=63 status=none
chain=$(MTOOLS_SKIP_CHECK=1 mshowfat -i p.img ::/WINNT/system32/config/SYSTEM)
rm -f p.img
first=$(echo "$chain" | sed -n 's/.*<\([0-9]*\)-\([0-9]*\)>.*/\1/p')
last=$(echo "$chain" | sed -n 's/.*<\([0-9]*\)-\([0-9]*\)>.*/\2/p')
[ -n "$first" ] && [ -n "$last" ] || fail "SYSTEM's chain: $chain"
cp disk.img clean.img
set_entry disk.img "$last" "$first"
dd if=disk.img of=p.img bs=512 skip=63 status=none
fsck.fat -n p.img >fsck.txt 2>&1 && fail "the looped chain is not damage to fsck.fat"
contains -i 'circular' fsck.txt || { cat fsck.txt >&2; fail "fsck.fat does not see the loop"; }
rm -f p.img
before=$(sha256sum <disk.img)

expect_fail 1 "damaged before the run.*cluster $last loops back to cluster $first.*--force" \
    "$BIN/drivers-inject" --drivers media --in-place disk.img
contains 'Result: error' "$WORK/out.txt" || fail "summary result"
contains 'Result: ready' "$WORK/out.txt" && fail "a damaged volume reported ready"
contains 'Changes needed ([0-9]*), none made' "$WORK/out.txt" || { cat "$WORK/out.txt" >&2; fail "summary header"; }
[ "$(sha256sum <disk.img)" = "$before" ] || fail "the damaged volume was written"

expect_fail 1 'damaged before the run' "$BIN/drivers-inject" --drivers media -o out.img disk.img
[ ! -e out.img ] && [ ! -e out.img.inject-tmp ] || fail "a refused -o left a file behind"

# --force: past the check, but the FAT writer never clobbers entries 0/1.
expect_fail 1 'entry 0/1 .* would change; the damaged FAT volume is not written' \
    "$BIN/drivers-inject" --drivers media --in-place --force disk.img
[ "$(sha256sum <disk.img)" = "$before" ] || fail "--force wrote FAT entry 0"
[ "$(od -An -tx1 -j $fat1 -N2 disk.img | tr -d ' ')" = f8ff ] || fail "FAT entry 0"

# After the run: a lost cluster (allocated, in no file) is damage to
# fsck.fat; forced past the first check (noted), the result is checked
# again: an error, never ready, but written as the user forced it.
cp clean.img lost.img
set_entry lost.img 1000 65535
expect_fail 1 'damaged after the run.*fsck.fat -n.*kept as written \(--force\)' \
    "$BIN/drivers-inject" --drivers media --force -o lost-out.img lost.img
contains 'Result: ready' "$WORK/out.txt" && fail "a volume damaged after the run reported ready"
contains '^Note: written with --force: .*damaged before the run' "$WORK/out.txt" || fail "--force not noted"
contains '^Changes made ' "$WORK/out.txt" || fail "summary of a forced write"
[ -e lost-out.img ] && [ ! -e lost-out.img.inject-tmp ] || fail "the forced -o output"

# The clean guest: repaired into a copy that fsck.fat and mtools read.
"$BIN/drivers-inject" --drivers media -o fixed.img clean.img >run.txt || { cat run.txt >&2; fail "clean run"; }
contains '^Result: ready$' run.txt || fail "clean run not ready"
dd if=fixed.img of=p.img bs=512 skip=63 status=none
fsck.fat -n p.img >fsck.txt 2>&1 || { cat fsck.txt >&2; fail "fsck.fat after the run"; }
