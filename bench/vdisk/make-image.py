#!/usr/bin/python3
"""Writes the benchmark image: SIZE (default 4 GiB) in 1 MiB slots shaped
like a used server disk, fully allocated like a dd of a physical disk:
40 % incompressible slots, 10 % text slots, the rest zeros with one random
4 KiB "metadata" block in almost every zero slot. Deterministic (seeded).
usage: make-image.py OUT [SIZE_GIB]"""
import random, sys

out = sys.argv[1]
gib = int(sys.argv[2]) if len(sys.argv) > 2 else 4
slots = gib * 1024
MIB = 1 << 20
rng = random.Random(20261121)
kinds = ["random"] * (slots * 40 // 100) + ["text"] * (slots * 10 // 100)
kinds += ["zero"] * (slots - len(kinds))
rng.shuffle(kinds)
words = ("error warning info service started stopped user login logout "
         "transaction commit rollback disk network packet request response "
         "timeout retry backup volume shadow copy registry driver").split()
def text_slot():
    lines, size = [], 0
    while size < MIB:
        line = "%06d %s %s %s id=%d\n" % (rng.randrange(10**6), rng.choice(words),
               rng.choice(words), rng.choice(words), rng.randrange(10**9))
        lines.append(line); size += len(line)
    return "".join(lines).encode()[:MIB]
zero = bytes(MIB)
with open(out, "wb") as f:
    for i, kind in enumerate(kinds):
        if kind == "random":
            f.write(rng.randbytes(MIB))
        elif kind == "text":
            f.write(text_slot())
        else:
            slot = bytearray(zero)
            if i % 1024 != 1023:  # 2047 of 2049 zero slots in 4 GiB get one
                at = rng.randrange(256) * 4096
                slot[at:at + 4096] = rng.randbytes(4096)
            f.write(slot)
