# Hostile and broken images: one clear error line, exit 1, never a crash
# and never a write. A garbage SYSTEM hive, a truncated disk, a boot.ini
# full of junk, a corrupt driver.cab in the image, and random bytes.
source "$SRC/tests/lib.sh"
source "$SRC/tests/drivers-inject/guest.sh"
need sha256sum

# Garbage in place of the SYSTEM hive.
make_guest bad-hive.img xp
head -c 65536 /dev/urandom >junk
"$HELPERS/mkguest" bad-hive.img $((63 * 512)) "junk=WINDOWS\\system32\\config\\SYSTEM"
h=$(sha256sum <bad-hive.img)
expect_fail 1 'SYSTEM: not a valid registry hive' "$BIN/drivers-inject" --in-place bad-hive.img
[ "$(sha256sum <bad-hive.img)" = "$h" ] || fail "wrote to an image with a corrupt hive"

# A disk cut short inside the NTFS volume.
make_guest short.img w2k3
truncate -s 20M short.img
expect_fail 1 'short.img: no Windows volume could be read: partition 1: .*cannot mount the NTFS volume' "$BIN/drivers-inject" --in-place short.img

# boot.ini of random bytes, and a corrupt driver.cab in the image: the
# fixup still works (the cabinet is noted, the drivers come from --drivers).
make_guest junk.img w2k cab
head -c 3000 /dev/urandom | tr '\0' x >boot.ini
head -c 5000 /dev/urandom >driver.cab
"$HELPERS/mkguest" junk.img $((63 * 512)) "boot.ini=boot.ini" "driver.cab=WINNT\\Driver Cache\\i386\\driver.cab"
mkdir drv
for f in intelide.sys pciide.sys pciidex.sys; do placeholder drv/$f "drv $f"; done
"$BIN/drivers-inject" --drivers drv --in-place junk.img >out.txt 2>err.txt || { cat out.txt err.txt >&2; fail "junk boot.ini / cab"; }
grep -q 'Note: .*driver.cab' out.txt || fail "the corrupt cabinet is not noted"

# Random bytes, with and without an MBR signature.
head -c 4M /dev/urandom >random.img
expect_fail 1 'random.img' "$BIN/drivers-inject" --in-place random.img
printf '\x55\xaa' | dd of=random.img bs=1 seek=510 conv=notrunc status=none
expect_fail 1 'random.img' "$BIN/drivers-inject" --in-place random.img
