#!/usr/bin/env bash
# Seed corpus for fuzz_tulip in the harness's encoding (tests/fuzz/fuzz_nic.h:
# RAM prefix, then op, size, value records): the Linux tulip driver's
# bring-up (software reset, rings, a setup frame, start), a frame sent and
# one received, a serial ROM word read and an MII register read by
# bit-banging CSR9. Usage: seeds-tulip.sh VDISK OUTDIR (VDISK unused).
set -eu
out=$2
mkdir -p "$out"
python3 - "$out" <<'PY'
import struct, sys
out = sys.argv[1]
def acc(write, csr, val=0, size=4):
    return struct.pack("<BBI", (0x80 if write else 0) | csr, {1: 0, 2: 1, 4: 2}[size], val)
def frame(bcast, src=0x800, length=60):
    return struct.pack("<BBI", 0x40 | bcast, 2, (src << 16) | (length - 14))
ram = bytearray(4096)
# receive ring at 0x200: 4 descriptors, 1536-byte buffers at 0x400..., the last ends the ring
for i in range(4):
    struct.pack_into("<IIII", ram, 0x200 + 16 * i, 0x80000000, 1536 | (0x02000000 if i == 3 else 0),
                     0x1000 + 0x600 * i, 0)
# transmit ring at 0x300: a setup frame (192 bytes at 0x900), then a 60-byte frame at 0x800
struct.pack_into("<IIII", ram, 0x300, 0x80000000, 0x08000000 | 192, 0x900, 0)
struct.pack_into("<IIII", ram, 0x310, 0x80000000, 0xE2000000 | 60, 0x800, 0)
ram[0x800:0x80E] = bytes.fromhex("ffffffffffff5254001234560800")
for i, b in enumerate(bytes.fromhex("525400123456")):
    ram[0x900 + (i // 2) * 4 + (i % 2)] = b
bringup = (acc(True, 0, 1) + acc(True, 0, 0x01A0E000) + acc(True, 3, 0x200) + acc(True, 4, 0x300)
           + acc(True, 7, 0x0001EBEF) + acc(True, 6, 0x00002002) + acc(True, 1, 0) + acc(False, 5)
           + acc(True, 5, 0x0001FFFF) + frame(1) + frame(0, length=300) + acc(False, 8))
def srom_read(addr):
    ENB = 0x4801
    s = acc(True, 9, ENB & ~1) + acc(True, 9, ENB)
    cmd = addr | (6 << 6)
    for i in range(10, -1, -1):
        d = 4 if cmd & (1 << i) else 0
        s += acc(True, 9, ENB | d) + acc(True, 9, ENB | d | 2) + acc(False, 9)
    s += acc(True, 9, ENB)
    for _ in range(16):
        s += acc(True, 9, ENB | 2) + acc(False, 9) + acc(True, 9, ENB)
    return s + acc(True, 9, ENB & ~1)
def mii_read(phy, reg):
    s = b""
    for _ in range(33):
        s += acc(True, 9, 0x20000) + acc(True, 9, 0x30000)
    cmd = (0xF6 << 10) | (phy << 5) | reg
    for i in range(15, -1, -1):
        d = 0x20000 if cmd & (1 << i) else 0
        s += acc(True, 9, d) + acc(True, 9, d | 0x10000)
    for _ in range(19):
        s += acc(True, 9, 0x40000) + acc(False, 9) + acc(True, 9, 0x50000)
    return s
blob = struct.pack("<H", len(ram)) + bytes(ram)
open(out + "/bringup", "wb").write(blob + bringup)
open(out + "/srom", "wb").write(blob + srom_read(10) + srom_read(0))
open(out + "/mii", "wb").write(blob + mii_read(1, 1) + mii_read(1, 5))
PY
