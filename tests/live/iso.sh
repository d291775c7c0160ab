# The live ISO boots from CD on a Pentium II with 128 MiB (QEMU TCG), takes
# its options from the boot prompt (typed on the serial port, as a PXE menu
# line carries them) and its token from p2v/token on the CD (added to a
# copy of the ISO with xorriso, as a user would), captures the machine's
# disk over the virtual network to `p2v serve` on this host, powers off,
# and the capture equals the source.
# vmm.sh runs it on vmm (LIVE_VMM=1) with a PCnet card.
source "$SRC/tests/live/lib.sh"
name=iso nic=e1000
[ "${LIVE_VMM:-0}" = 0 ] || { name=vmm; nic=pcnet; }
site_iso "$WORK/site.iso"
boot "$WORK/$name.log" 280 -cdrom "$WORK/site.iso" -boot d -nic user,model=$nic -- \
    --step 'boot:' "p2v p2v.server=10.0.2.2:$PORT p2v.name=$name p2v.compress=zstd p2v.post=poweroff" ||
    { tail -40 "$WORK/$name.log" >&2; fail "the live ISO did not capture and power off ($name)"; }
check $name "$WORK/$name.log"
stop_server
