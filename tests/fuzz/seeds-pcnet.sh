#!/usr/bin/env bash
# Seed corpus for fuzz_pcnet in the harness's encoding (tests/fuzz/fuzz_nic.h:
# RAM prefix, then op, size, value records): the pcnet32 driver's bring-up
# with 32-bit (software style 2) and 16-bit (style 0) structures, one frame
# sent through the transmit ring and one received into the receive ring.
# Usage: seeds-pcnet.sh VDISK OUTDIR (VDISK unused).
set -eu
out=$2
mkdir -p "$out"
python3 - "$out" <<'PY'
import struct, sys
out = sys.argv[1]
def acc(write, off, val=0, size=2):
    return struct.pack("<BBI", (0x80 if write else 0) | off, {1: 0, 2: 1, 4: 2}[size], val)
def csr(i, v): return acc(True, 0x12, i) + acc(True, 0x10, v)
def bcr(i, v): return acc(True, 0x12, i) + acc(True, 0x16, v)
def frame(bcast, src=0x800, length=60): return struct.pack("<BBI", 0x40 | bcast, 1, (src << 16) | (length - 14))
def seed(style):
    ram = bytearray(4096)
    if style:
        # init block at 0x100: mode 0, RLEN 2 (4), TLEN 2, PADR, LADRF, rings 0x200/0x300
        struct.pack_into("<HBB6s2x8sII", ram, 0x100, 0, 2 << 4, 2 << 4,
                         bytes.fromhex("525400123456"), b"\xff" * 8, 0x200, 0x300)
        for i in range(4):    # receive descriptors owned by the card, 512-byte buffers at 0x400
            struct.pack_into("<IIII", ram, 0x200 + 16 * i, 0x400 + 0x200 * i, 0x8000F000 | (0x1000 - 512), 0, 0)
        struct.pack_into("<IIII", ram, 0x300, 0x800, 0x83000000 | 0xF000 | (0x1000 - 60), 0, 0)
    else:
        struct.pack_into("<H6s8sHBBHBB", ram, 0x100, 0, bytes.fromhex("525400123456"), b"\xff" * 8,
                         0x200, 0, 2 << 5, 0x300, 0, 2 << 5)
        for i in range(4):
            struct.pack_into("<HBBHH", ram, 0x200 + 8 * i, 0x400 + 0x200 * i, 0, 0x80, (0x10000 - 512) & 0xFFFF, 0)
        struct.pack_into("<HBBHH", ram, 0x300, 0x800, 0, 0x83, (0x10000 - 60) & 0xFFFF, 0)
    ram[0x800:0x800 + 14] = bytes.fromhex("ffffffffffff5254001234560800")
    prog = acc(False, 0x14)                       # reset
    prog += bcr(20, 2 if style else 0)
    prog += csr(1, 0x100) + csr(2, 0) + csr(0, 0x0001) + acc(False, 0x10)
    prog += csr(0, 0x0042) + csr(0, 0x0048)       # start with interrupts, transmit demand
    prog += frame(1) + frame(0, length=600)       # broadcast, then a 600-byte chained one
    prog += acc(True, 0x12, 0) + acc(False, 0x10) + csr(0, 0x7F00) + csr(0, 0x0004)
    prog += acc(True, 0x10, 0, 4) + acc(False, 0x14, 0, 4)   # DWIO switch
    return struct.pack("<H", len(ram)) + bytes(ram) + prog
open(out + "/style2", "wb").write(seed(True))
open(out + "/style0", "wb").write(seed(False))
PY
