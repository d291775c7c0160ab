# The whole chain on a real guest: the 32-bit Debian Linux disk of the
# platform tests (MBR + syslinux on FAT16, kernel + busybox initramfs that
# prints a marker) is captured by `p2v capture --compress zstd` into a
# `p2v serve --once` over loopback, and the captured dynamic VHD, as the
# server wrote it, boots under `vmm --check` to the marker without any
# conversion. On the way: the manifest validates and its digest is the one
# recomputed here, `vdisk check` is clean, the boot check leaves the VHD
# byte-identical, and the captured disk holds exactly the source's used
# content (read back by vdisk and by qemu-img, an independent reader).
source "$SRC/tests/p2v/lib.sh"                  # start_server, capture, fat_oracle, disk_digest
source "$SRC/tests/platform/lib-platform.sh"    # guest (cached build), check_verdict
need apt-get dpkg cpio sfdisk mcopy mkfs.fat syslinux xorriso qemu-img python3 xmllint partx

g=$(guest linux)
src=$g/linux.raw
marker=$(cat "$g/marker.txt")
src_hash=$(sha256sum <"$src")

# 1. Capture over loopback with a token file; the server exits after it.
start_server "$WORK/srv" --once
capture --name linux1 --disk "$src" --compress zstd --state "$WORK/session" >capture.txt
rc=0
wait "$SERVER_PID" || rc=$?
[ "$rc" -eq 0 ] || { cat "$WORK/server.err" >&2; fail "p2v serve --once exited $rc"; }
[ "$(sha256sum <"$src")" = "$src_hash" ] || fail "the capture changed the source disk"

dir=$WORK/srv/linux1
vhd=$dir/disk0.vhd
[ -f "$vhd" ] || fail "no captured image $vhd"
grep '^complete 1$' "$dir/state" >/dev/null || fail "capture not marked complete"
xmllint --noout --schema "$SRC/docs/manifest.xsd" "$dir/manifest.xml" 2>xmllint.err ||
    { cat xmllint.err >&2; fail "manifest does not validate against docs/manifest.xsd"; }
grep 'filesystem="fat16"' "$dir/manifest.xml" >/dev/null || fail "manifest: the FAT16 boot volume is not recognised"
grep 'verified="true"' "$dir/manifest.xml" >/dev/null || fail "manifest: digest not verified by the server"

# 2. The image is sound: vdisk's own check, and a dynamic VHD of the same size.
"$BIN/vdisk" check "$vhd" >check.txt || { cat check.txt >&2; fail "vdisk check found problems"; }
grep 'No errors were found' check.txt >/dev/null || fail "vdisk check: unexpected output"
"$BIN/vdisk" info "$vhd" >info.txt
grep '^subformat: dynamic$' info.txt >/dev/null || fail "the server did not write a dynamic VHD"
grep "^virtual size: .*($(stat -c %s "$src") bytes)" info.txt >/dev/null || fail "captured disk size differs"

# 3. Content: what a capture must hold is the source with the FAT volume's
# free clusters as zeros (fat_oracle, written from the FAT specification);
# the MBR, syslinux's gap and everything outside the volume as they are.
read -r pstart psectors < <(partx -g -o START,SECTORS -n 1 "$src")
cp "$src" expect.raw
dd if="$src" of=part.raw bs=512 skip="$pstart" count="$psectors" status=none
fat_oracle part.raw part.expect
dd if=part.expect of=expect.raw bs=512 seek="$pstart" conv=notrunc status=none
rm -f part.raw part.expect
if cmp -s "$src" expect.raw; then
    echo "the source's free space is all zeros: the capture must equal the source"
fi
"$BIN/vdisk" compare -s expect.raw "$vhd" || fail "vdisk compare: captured VHD differs from the source's used content"
qemu-img compare -q -f raw -F vpc expect.raw "$vhd" || fail "qemu-img compare: captured VHD differs from the source's used content"
"$BIN/vdisk" convert -O raw "$vhd" captured.raw
cmp expect.raw captured.raw || fail "vdisk convert to raw differs from the source's used content"
want=$(disk_digest captured.raw)
grep "sha256=\"$want\"" "$dir/manifest.xml" >/dev/null || fail "manifest digest is not $want"
rm -f expect.raw captured.raw

# 4. Boot the captured VHD itself (no conversion) to the marker; the check
# runs on a copy-on-write overlay, so the VHD stays byte-identical.
vhd_hash=$(sha256sum <"$vhd")
check_verdict 0 "booted expected output '$marker" --timeout 300 -m 256 --expect "$marker" "$vhd"
[ "$(sha256sum <"$vhd")" = "$vhd_hash" ] || fail "vmm --check changed the captured VHD"
echo ok
