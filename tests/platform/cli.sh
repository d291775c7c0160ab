# Command-line errors: one line on stderr, exit 2 for usage, 1 for a job
# that cannot start.
. "$SRC/tests/lib.sh"
expect_fail 2 "no DISK given" "$BIN/vmm"
expect_fail 2 "--check needs a DISK" "$BIN/vmm" --check --bios /dev/null
expect_fail 2 "--boot wants c" "$BIN/vmm" --boot x disk.raw
expect_fail 2 "--boot d needs --cdrom" "$BIN/vmm" --boot d disk.raw
expect_fail 2 "--output wants json" "$BIN/vmm" --check --output=xml disk.raw
expect_fail 2 "--expect" "$BIN/vmm" --check --expect '(' disk.raw
expect_fail 2 "too many disks" "$BIN/vmm" a b c d e
expect_fail 2 "--vga wants" "$BIN/vmm" --vga cirrus a
expect_fail 1 "nonexistent.raw" "$BIN/vmm" --check nonexistent.raw
expect_fail 1 "cannot open BIOS image missing.bin" "$BIN/vmm" --check --bios missing.bin nonexistent.raw
truncate -s 100 tiny.raw
expect_fail 1 "too small" "$BIN/vmm" --check tiny.raw
truncate -s 1M blank.raw
expect_fail 1 "cannot open VGA BIOS missing-vga.bin" "$BIN/vmm" --check --vga-bios missing-vga.bin blank.raw
"$BIN/vmm" --help | grep -- '--check' >/dev/null || fail "--help does not describe --check"
