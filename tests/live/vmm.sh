# iso.sh on vmm instead of QEMU: our own PC (i440FX, SeaBIOS, ATAPI CD
# boot) as the "physical" machine, its PCnet-PCI II card (the pcnet32
# driver) on libslirp's user-mode network reaching `p2v serve` on this
# host's loopback as 10.0.2.2, the source disk on IDE. The same checks.
LIVE_VMM=1
source "$SRC/tests/live/iso.sh"
