#!/usr/bin/env bash
# Seed corpus for fuzz_pc: short guest programs in the harness's encoding
# (tests/fuzz/fuzz_pc.c): 8259 + 8254 set up with a timer tick taken, the
# CMOS periodic interrupt, VGA sequencer/graphics registers, the fw_cfg
# signature. Usage: seeds-pc.sh VDISK OUTDIR (VDISK unused).
set -eu
out=$2
mkdir -p "$out"
python3 - "$out" <<'PY'
import struct, sys
out = sys.argv[1]
def wr(port, val, size=1):      # op 0: port write (size 1/2/4 as 0/1/2)
    return bytes([0]) + struct.pack("<HBI", port, {1: 0, 2: 1, 4: 2}[size], val)
def rd(port, size=1):           # op 2: port read
    return bytes([2]) + struct.pack("<HB", port, {1: 0, 2: 1, 4: 2}[size])
ACK, TIMER = bytes([5]), bytes([6])
seeds = {
    "pic-pit": [wr(0x20, 0x11), wr(0x21, 0x08), wr(0x21, 0x04), wr(0x21, 0x01), wr(0x21, 0x00),
                wr(0x43, 0x34), wr(0x40, 0x00), wr(0x40, 0x10), TIMER, ACK, wr(0x20, 0x20)],
    "cmos": [wr(0x70, 0x0A), rd(0x71), wr(0x70, 0x0B), wr(0x71, 0x42), TIMER, ACK, wr(0x70, 0x0C), rd(0x71)],
    "vga": [wr(0x3C4, 0x02), wr(0x3C5, 0x0F), wr(0x3CE, 0x05), wr(0x3CF, 0x00), wr(0x3D4, 0x0E), rd(0x3D5)],
    "fwcfg": [wr(0x510, 0x0000, 2), rd(0x511), rd(0x511), rd(0x511), rd(0x511)],
}
for name, ops in seeds.items():
    for flags in (0, 1):        # with and without APICs
        open("%s/%s-%d" % (out, name, flags), "wb").write(bytes([flags]) + b"".join(ops))
PY
