#!/usr/bin/env python3
"""Writes a VDI laid out as VirtualBox's own conversions lay it out
(VDICore.h: 1.1 header of 0x190 bytes with LCHS geometry, data area at
1 MiB, blocks in the data area in the order they were written, a block
discarded to zeros, a disk size that is not a multiple of the block size)
from a raw file. Usage: vdi-vbox.py RAW OUT.vdi [static]"""
import os, struct, sys, uuid

raw, out = sys.argv[1], sys.argv[2]
static = len(sys.argv) > 3 and sys.argv[3] == "static"
data = open(raw, "rb").read()
size, bs = len(data), 1 << 20
blocks = (size + bs - 1) // bs
bmap_off, data_off = 512, 1 << 20
ZERO, FREE = 0xFFFFFFFE, 0xFFFFFFFF
entries, order = [FREE] * blocks, []
for i in range(blocks):
    chunk = data[i * bs:(i + 1) * bs]
    if static or chunk.strip(b"\0"):
        order.append(i)
    elif i % 4 == 2:
        entries[i] = ZERO      # discarded: reads as zeros
order = order[1::2] + order[0::2] if not static else order  # written out of order
for n, i in enumerate(order):
    entries[i] = n
hdr = bytearray(512)
hdr[0:40] = b"<<< Oracle VM VirtualBox Disk Image >>>\n"
struct.pack_into("<IIII I", hdr, 64, 0xBEDA107F, 0x00010001, 0x190, 2 if static else 1, 0)
hdr[84:84 + 12] = b"made by test"
struct.pack_into("<II IIII I Q IIII", hdr, 340, bmap_off, data_off, 0, 0, 0, 512, 0,
                 size, bs, 0, blocks, len(order))
for k, off in enumerate((392, 408)):
    hdr[off:off + 16] = uuid.uuid4().bytes_le
struct.pack_into("<IIII", hdr, 456, 1024, 16, 63, 512)   # LCHS geometry
with open(out, "wb") as f:
    f.write(hdr)
    f.write(b"".join(struct.pack("<I", e) for e in entries))
    for n, i in enumerate(order):
        chunk = data[i * bs:(i + 1) * bs]
        f.seek(data_off + n * bs)
        f.write(chunk + b"\0" * (bs - len(chunk)))
    f.truncate(data_off + len(order) * bs)
