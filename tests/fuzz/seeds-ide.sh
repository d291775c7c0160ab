#!/usr/bin/env bash
# Seed corpus for fuzz_ide: command sequences in the harness's encoding
# (tests/fuzz/fuzz_ide.c: op, size, value): IDENTIFY, READ and WRITE
# SECTORS by PIO on the disk, READ DMA through a PRD table, and an ATAPI
# INQUIRY packet to the CD-ROM. Usage: seeds-ide.sh VDISK OUTDIR (VDISK unused).
set -eu
out=$2
mkdir -p "$out"
python3 - "$out" <<'PY'
import struct, sys
out = sys.argv[1]
def acc(write, channel, reg, val=0, size=1):
    op = (0x80 if write else 0) | (channel << 6) | reg
    return struct.pack("<BBI", op, {1: 0, 2: 1, 4: 2}[size], val)
def taskfile(channel, regs):
    return b"".join(acc(True, channel, r, v) for r, v in regs)
data_in = lambda ch, words: b"".join(acc(False, ch, 0, 0, 2) for _ in range(words))
data_out = lambda ch, words: b"".join(acc(True, ch, 0, 0x1234 + i, 2) for i in range(words))
seeds = {
    "identify": taskfile(0, [(6, 0xA0), (7, 0xEC)]) + acc(False, 0, 7) + data_in(0, 256),
    "read-pio": taskfile(0, [(2, 1), (3, 5), (4, 0), (5, 0), (6, 0xE0), (7, 0x20)]) + data_in(0, 256),
    "write-pio": taskfile(0, [(2, 1), (3, 7), (4, 0), (5, 0), (6, 0xE0), (7, 0x30)]) + data_out(0, 256)
                 + acc(False, 0, 7),
    # PRD table at 0x1000 (bus-master registers 16 + 4..7), READ DMA, start.
    "read-dma": acc(True, 0, 16 + 4, 0x1000, 4) + taskfile(0, [(2, 2), (3, 0), (4, 0), (5, 0), (6, 0xE0), (7, 0xC8)])
                + acc(True, 0, 16, 0x09) + acc(False, 0, 16 + 2) + acc(False, 0, 7),
    "atapi-inquiry": taskfile(1, [(6, 0xA0), (1, 0), (4, 36), (5, 0), (7, 0xA0)])
                     + b"".join(acc(True, 1, 0, w, 2) for w in (0x0012, 0x0000, 0x0024, 0, 0, 0))
                     + data_in(1, 18) + acc(False, 1, 7),
}
for name, blob in seeds.items():
    open("%s/%s" % (out, name), "wb").write(blob)
PY
