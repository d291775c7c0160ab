#!/usr/bin/env bash
# Seed corpus for fuzz_proto: well-formed frame streams of every message
# type (docs/protocol.md). Usage: seeds-proto.sh VDISK OUTDIR (VDISK unused).
set -eu
out=$2
mkdir -p "$out"
python3 - "$out" <<'PY'
import os, struct, sys
out = sys.argv[1]
def frame(t, body):
    return b"P2" + bytes([t, 0]) + struct.pack("<I", len(body)) + body
nonce = bytes(range(32))
name = b"web01"
msgs = {
    "hello": frame(1, struct.pack("<HH", 1, 1) + nonce),
    "challenge": frame(2, struct.pack("<HH", 1, 1) + nonce),
    "auth": frame(3, nonce) + frame(4, nonce),
    "session": frame(5, bytes(16) + bytes([1, 2, len(name)]) + name + struct.pack("<QIQI", 1 << 30, 512, 1 << 20, 4096)),
    "session_ok": frame(6, bytes(16) + bytes([2]) + struct.pack("<QQ", 0, 1 << 20)),
    "manifest": frame(7, b"\x01<?xml version='1.0'?><p2v-manifest/>"),
    "chunk": frame(8, bytes([0, 0, 0, 0]) + struct.pack("<IQQ", 16, 0, 123) + b"0123456789abcdef")
             + frame(8, bytes([0, 2, 0, 0]) + struct.pack("<IQQ", 1 << 20, 1 << 20, 5)),
    "acks": frame(9, bytes([0]) + struct.pack("<Q", 1 << 20)) + frame(10, bytes([0]) + struct.pack("<Q", 0)),
    "end": frame(11, bytes([0]) + struct.pack("<I", 3) + nonce) + frame(12, b"\x00\x01") + frame(13, b"") + frame(14, b""),
    "error": frame(15, struct.pack("<HH", 2, 5) + b"wrong"),
}
for k, v in msgs.items():
    open(os.path.join(out, k), "wb").write(v)
PY
