# An MBR disk with a half-full NTFS, a FAT32 and an ext4 (logical) volume,
# fresh and aged, captured over loopback: files and used blocks identical,
# free space zeros, the aged image no larger than the fresh one, the digest
# right, the manifest valid against docs/manifest.xsd.
source "$SRC/tests/p2v/lib.sh"
need mkntfs ntfscp ntfscat ntfsclone ntfsls ntfstruncate mkfs.fat mcopy mdel \
     mkfs.ext4 debugfs partclone.fat32 partclone.extfs sfdisk xmllint python3 fincore
[ "$FMT" = raw ] || need qemu-img

make_disk "$WORK/fresh.img" fresh
make_disk "$WORK/aged.img" aged
start_server "$WORK/out"
capture --name fresh --disk "$WORK/fresh.img" --state "$WORK/fresh.session" -p 2>"$WORK/fresh.progress" ||
    { cat "$WORK/fresh.progress" >&2; fail "fresh: capture failed"; }
# Uncompressed chunks of a raw source go from the page cache (sendfile);
# the checks below prove that what arrived is right.
in_place=$(grep -o '[0-9]* sent in place' "$WORK/fresh.progress" | tail -1 | cut -d' ' -f1)
[ "${in_place:-0}" -gt 0 ] || fail "fresh: no chunk was sent in place"
capture --name aged --disk "$WORK/aged.img" --state "$WORK/aged.session" --compress zstd
stop_server
# The server writes chunks with O_DIRECT where the file system has it, so
# the images' data is not left in the page cache (tmpfs keeps every page).
if [ "$(stat -f -c %T "$WORK")" != tmpfs ] &&
   dd if=/dev/zero of="$WORK/direct.probe" bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
    for kind in fresh aged; do
        img=$WORK/out/$kind/disk0.$FMT
        cached=$(fincore --bytes --noheadings --output RES "$img")
        [ "$cached" -lt $(($(allocated "$img") / 8)) ] ||
            fail "$kind: $cached bytes of the image in the page cache: not written direct"
    done
fi

for kind in fresh aged; do
    dir=$WORK/out/$kind
    img=$dir/disk0.$FMT
    [ -f "$img" ] || fail "$kind: no image $img"
    grep -q '^complete 1$' "$dir/state" || fail "$kind: not marked complete"
    xmllint --noout --schema "$SRC/docs/manifest.xsd" "$dir/manifest.xml" 2>"$WORK/xmllint.err" ||
        { cat "$WORK/xmllint.err" >&2; fail "$kind: manifest does not validate"; }
    to_raw "$img" "$WORK/$kind.cap"
    [ "$(stat -c %s "$WORK/$kind.cap")" = "$(stat -c %s "$WORK/$kind.img")" ] || fail "$kind: size differs"
    # File by file, through each filesystem's own tools.
    check_files "$WORK/$kind.cap"
    # Block by block: the volumes as ntfsclone/partclone copy them (used
    # blocks, zeros in free space), the MBR, gaps and EBRs as they are.
    expected_disk "$WORK/$kind.img" "$WORK/$kind.expect"
    cmp "$WORK/$kind.expect" "$WORK/$kind.cap" || fail "$kind: captured disk differs from the used-block oracle"
    # The digest in the manifest is the one this test computes itself.
    want=$(disk_digest "$WORK/$kind.cap")
    grep -q "sha256=\"$want\"" "$dir/manifest.xml" || fail "$kind: manifest digest is not $want"
    grep -q 'verified="true"' "$dir/manifest.xml" || fail "$kind: digest not verified"
done

# The aged disk really had stale data in its free space ...
cmp -s "$WORK/aged.img" "$WORK/aged.expect" && fail "aged disk has no stale data: test is void"
# ... and it did not make the image any larger: beyond the 4 KiB granules
# that hold data on the aged disk but zeros on the fresh one (stale bytes
# the volumes still own: file slack, ext4's journal left uninitialised by
# mkfs), which zero detection leaves out of the fresh image only.
fresh_size=$(allocated "$WORK/out/fresh/disk0.$FMT")
aged_size=$(allocated "$WORK/out/aged/disk0.$FMT")
extra=$(python3 - "$WORK/aged.cap" "$WORK/fresh.cap" <<'PY'
import sys
z = bytes(4096)
with open(sys.argv[1], "rb") as a, open(sys.argv[2], "rb") as f:
    n = 0
    while True:
        x, y = a.read(4096), f.read(4096)
        if not x:
            break
        n += x != z[:len(x)] and y == z[:len(y)]
print(n * 4096)
PY
)
echo "image bytes: fresh $fresh_size, aged $aged_size ($FMT); owned stale data $extra"
[ "$aged_size" -le $((fresh_size + extra)) ] ||
    fail "aged image ($aged_size) larger than fresh ($fresh_size) + owned stale data ($extra)"

# The manifest says what the source is.
m=$WORK/out/fresh/manifest.xml
grep -q 'mbr-signature="0x1234abcd"' "$m" || fail "MBR signature missing"
grep -q 'number="1" start="1048576" length="33554432" type="0x07" bootable="true" filesystem="ntfs"' "$m" ||
    fail "NTFS partition not described"
grep -q 'filesystem="fat32"' "$m" || fail "FAT32 not recognised"
grep -q 'number="5".*filesystem="ext4"' "$m" || fail "ext4 logical partition not recognised"
grep -q '<cpu count=' "$m" || fail "no CPU inventory"
grep -q '<memory bytes=' "$m" || fail "no memory inventory"
grep -q '<firmware type="\(bios\|uefi\)"' "$m" || fail "no firmware type"
# A superfloppy (NTFS at sector 0, no partition table) whose MFT is damaged,
# so its volume cannot be mapped: read in full, described as scheme none,
# and the manifest still validates.
truncate -s 16M "$WORK/sf.img"
mkntfs -F -Q "$WORK/sf.img" >/dev/null 2>&1
python3 - "$WORK/sf.img" <<'PY'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    b = f.read(512)
    mft = struct.unpack_from("<Q", b, 0x30)[0] * struct.unpack_from("<H", b, 11)[0] * b[13]
    f.seek(mft)
    assert f.read(4) == b"FILE"
    f.seek(mft)
    f.write(b"XXXX")
PY
start_server "$WORK/out"
capture --name sf --disk "$WORK/sf.img" --state "$WORK/sf.session"
stop_server
grep '<partition-table scheme="none" filesystem="unknown" used-bytes="16777216"/>' "$WORK/out/sf/manifest.xml" \
    >/dev/null || fail "damaged superfloppy not described as one unknown volume read in full"
xmllint --noout --schema "$SRC/docs/manifest.xsd" "$WORK/out/sf/manifest.xml" 2>"$WORK/xmllint.err" ||
    { cat "$WORK/xmllint.err" >&2; fail "superfloppy: manifest does not validate"; }
to_raw "$WORK/out/sf/disk0.$FMT" "$WORK/sf.cap"
cmp "$WORK/sf.img" "$WORK/sf.cap" || fail "damaged superfloppy not captured byte for byte"
echo "ok"
