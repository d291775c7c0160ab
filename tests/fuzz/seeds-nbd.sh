#!/usr/bin/env bash
# Seeds for fuzz_nbd: client byte streams for the NBD bridge (fixed newstyle
# handshake, options, requests). Usage: seeds-nbd.sh VDISK DIR (VDISK unused).
set -eu
python3 - "$2" <<'PY'
import os, struct, sys
out = sys.argv[1]
IHAVEOPT = 0x49484156454F5054
def opt(o, data=b""):
    return struct.pack(">QII", IHAVEOPT, o, len(data)) + data
def go(name=b"", infos=()):
    return opt(7, struct.pack(">I", len(name)) + name + struct.pack(">H", len(infos))
               + b"".join(struct.pack(">H", i) for i in infos))
def rq(cmd, off, length, handle=1, flags=0):
    return struct.pack(">IHHQQI", 0x25609513, flags, cmd, handle, off, length)
flags = struct.pack(">I", 3)
size = 64 * 1024 + 3 * 512
seeds = {
    # A session as libguestfs' qemu runs it: read, write, zeroes, flush, trim, disconnect.
    "session": flags + go(b"", (0, 3)) + rq(0, 0, 512) + rq(1, 4096, 8, 2) + b"ABCDEFGH"
               + rq(6, 8192, 1024, 3) + rq(3, 0, 0, 4) + rq(4, 0, 512, 5) + rq(2, 0, 0, 6),
    "export-name": struct.pack(">I", 1) + opt(1, b"disk") + rq(0, size - 512, 512),
    "unknown-options": flags + opt(3) + opt(10, b"x" * 20) + opt(6, b"\0" * 7) + go() + rq(0, 0, 1),
    "abort": flags + opt(2),
    "bad-go": flags + opt(7, struct.pack(">I", 0xFFFFFFF0) + b"\0\0") + go(b"x") + rq(0, 0, 1),
    "beyond-export": flags + go() + rq(0, size - 511, 512) + rq(0, 1 << 63, 1)
                     + rq(6, size, 1) + rq(4, 0, 0xFFFFFFFF) + rq(0, 0, 33 << 20) + rq(1, size, 512),
    "unknown-commands": flags + go() + rq(5, 0, 0) + rq(7, 0, 512) + rq(0xFFFF, 0, 0) + rq(0, 0, 512, 9, 0xFFFF),
    "bad-magic": flags + go() + b"\x25\x60\x95\x14" + bytes(24),
    "oversized-option": flags + struct.pack(">QII", IHAVEOPT, 7, 1 << 31),
    "truncated-handshake": b"\0\0",
    "truncated-write": flags + go() + rq(1, 0, 4096) + b"short",
    "unknown-client-flags": struct.pack(">I", 0x80000003) + go(),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
PY
