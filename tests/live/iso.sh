# The live ISO boots from CD on a Pentium II with 128 MiB (QEMU TCG), takes
# its options from the boot prompt (typed on the serial port, as a PXE menu
# line carries them) and its token from p2v/token on the CD (added to a
# copy of the ISO with xorriso, as a user would), captures the machine's
# disk over the virtual network to `p2v serve` on this host, powers off,
# and the capture equals the source.
source "$SRC/tests/live/lib.sh"
site_iso "$WORK/site.iso"
boot "$WORK/iso.log" 280 -cdrom "$WORK/site.iso" -boot d -nic user,model=e1000 -- \
    --step 'boot:' "p2v p2v.server=10.0.2.2:$PORT p2v.name=iso p2v.compress=zstd p2v.post=poweroff" ||
    { tail -40 "$WORK/iso.log" >&2; fail "the live ISO did not capture and power off"; }
check iso "$WORK/iso.log"
stop_server
