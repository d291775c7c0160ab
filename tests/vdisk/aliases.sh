# An output never names an input: every output option of every tool refuses
# a file that is an input or a member of its backing chain, by the same
# device and inode (the path itself, a symlink, a hard link, a parent), with
# one line and exit 1, and leaves every image byte for byte as it was.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk

$V create -f vhd -o size=exact base.vhd 4M
"$BUILD/tests/vd-write" base.vhd 0 4194304 1
$V create -f vhd -b base.vhd top.vhd
"$BUILD/tests/vd-write" top.vhd 4096 8192 2
ln -s base.vhd sym.vhd
ln base.vhd hard.vhd
ln -s top.vhd topsym.vhd
sums() { sha256sum base.vhd top.vhd; }
sums >before.txt

# refused INPUT OUTPUT CMD...: CMD (with IN/OUT in it) refuses OUT.
refused() {
    local out=$1; shift
    expect_fail 1 "refusing to write '$out': it is " "$@"
    sums | cmp -s - before.txt || fail "'$*' changed an image"
}

# input, output: the image itself, a symlink, a hard link; the child's
# parent, directly and through a symlink; the child through a symlink.
pairs="base.vhd:base.vhd base.vhd:sym.vhd base.vhd:hard.vhd sym.vhd:hard.vhd \
top.vhd:base.vhd top.vhd:sym.vhd top.vhd:hard.vhd topsym.vhd:base.vhd top.vhd:topsym.vhd"
for p in $pairs; do
    in=${p%%:*} out=${p##*:}
    refused "$out" $V convert -O raw "$in" "$out"
    refused "$out" $V create -f vhd -b "$in" "$out"
    refused "$out" "$BIN/vmm" --check --serial "$out" "$in"
    refused "$out" "$BIN/vmm" --serial2 "$out" "$in"
    refused "$out" "$BIN/vmm" --check --screen-dump "$out" "$in"
    refused "$out" "$BIN/vmm" --check --screenshot "$out" "$in"
    refused "$out" "$BIN/vmm" --check --debugcon "$out" "$in"
    refused "$out" "$BIN/vmm" --check --serial "$out" other.vhd "$in"
    refused "$out" "$BIN/drivers-inject" --dry-run --report "$out" "$in"
    refused "$out" "$BIN/drivers-inject" --into "$out" "$in"
    refused "$out" "$BIN/drivers-inject" -o "$out" "$in"
done
# The error names both files, the chain member too.
expect_fail 1 "refusing to write 'sym.vhd': it is '.*base.vhd', in the backing chain of the input 'top.vhd'" \
    $V create -f vhd -b top.vhd sym.vhd

# Inputs other than disks: the CD-ROM, the firmware, a driver pack; and
# --report may not overwrite the --into child it describes.
cp before.txt fw.bin
refused fw.bin "$BIN/vmm" --bios fw.bin --debugcon fw.bin
refused sym.vhd "$BIN/vmm" --check --cdrom base.vhd --serial sym.vhd
mkdir pack && echo x >pack/a.inf
refused pack/a.inf "$BIN/drivers-inject" --dry-run --drivers pack/a.inf --report pack/a.inf base.vhd
refused pack/a.inf "$BIN/drivers-inject" --drivers pack/a.inf -o pack/a.inf base.vhd

# An input whose chain does not open still counts, by itself and by every
# member up to where the chain breaks: a child whose grandparent is gone.
$V create -f vhd -o size=exact g.vhd 1M
$V create -f vhd -b g.vhd m.vhd
$V create -f vhd -b m.vhd k.vhd
rm g.vhd
refused k.vhd $V convert -O raw k.vhd k.vhd
refused m.vhd "$BIN/vmm" --check --serial m.vhd k.vhd

# What is no input passes: a new file, an unrelated existing one.
echo old >report.json
"$BIN/drivers-inject" --dry-run --report report.json base.vhd >/dev/null 2>&1 || true
grep -q '^{' report.json || fail "--report refused an unrelated file"
$V convert -O raw top.vhd report.json
$V create -f vhd -b top.vhd child.vhd
sums | cmp -s - before.txt || fail "an image changed"
