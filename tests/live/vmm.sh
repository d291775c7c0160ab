# The live ISO of iso.sh on vmm instead of QEMU: our own PC (i440FX,
# SeaBIOS, ATAPI CD boot) as the "physical" machine, its PCnet-PCI II card
# (the pcnet32 driver) on libslirp's user-mode network reaching `p2v serve`
# on this host's loopback as 10.0.2.2, the source disk on IDE. The capture
# must equal the source as in iso.sh.
LIVE_VMM=1
source "$SRC/tests/live/lib.sh"
site_iso "$WORK/site.iso"
boot_vmm "$WORK/vmm.log" 280 -cdrom "$WORK/site.iso" -boot d -nic user,model=pcnet -- \
    --step 'boot:' "p2v p2v.server=10.0.2.2:$PORT p2v.name=vmm p2v.compress=zstd p2v.post=poweroff" ||
    { tail -40 "$WORK/vmm.log" >&2; fail "the live ISO did not capture and power off under vmm"; }
check vmm "$WORK/vmm.log"
stop_server
