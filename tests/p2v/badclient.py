#!/usr/bin/env python3
"""A hostile p2v agent for tests: speaks protocol version 3 (docs/protocol.md)
correctly up to a point, then sends one kind of bad input. Usage:
badclient.py PORT TOKENFILE CASE. Exits 0 when the server refused as
expected (an ERROR message or a closed connection, never a hang)."""
import hashlib, hmac, os, socket, struct, sys

port, token_file, case = int(sys.argv[1]), sys.argv[2], sys.argv[3]
token = open(token_file, "rb").read().rstrip(b"\r\n")
HELLO, CHALLENGE, AUTH, AUTH_OK, SESSION, SESSION_OK, MANIFEST, CHUNK = range(1, 9)
ERROR = 15

s = socket.create_connection(("127.0.0.1", port), timeout=10)

def send(t, body):
    s.sendall(b"P2" + bytes([t, 0]) + struct.pack("<I", len(body)) + body)

def recv():
    h = b""
    while len(h) < 8:
        d = s.recv(8 - len(h))
        if not d:
            return None, b""
        h += d
    n = struct.unpack("<I", h[4:])[0]
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            return None, b""
        b += d
    return h[2], b

def refused():
    """The server answers ERROR or closes; either is a refusal."""
    try:
        while True:
            t, b = recv()
            if t is None:
                return "closed"
            if t == ERROR:
                return "error: " + b[4:].decode("ascii", "replace")
    except socket.timeout:
        sys.exit("server neither refused nor closed within 10 s")

def handshake(tok=token):
    nonce = os.urandom(32)
    send(HELLO, struct.pack("<HH", 3, 0) + nonce)
    t, b = recv()
    assert t == CHALLENGE, t
    snonce = b[4:36]
    send(AUTH, hmac.new(tok, b"agent" + snonce + nonce, hashlib.sha256).digest())

def session(name=b"bad", size=1 << 20):
    send(SESSION, bytes(16) + bytes([0, 1, len(name)]) + name + struct.pack("<QI", size, 512))
    t, b = recv()
    return t

if case == "wrong-token":
    handshake(b"not-the-token-0123456789")
elif case == "bad-magic":
    s.sendall(b"XX\x01\x00\x24\x00\x00\x00" + bytes(36))
elif case == "oversized":
    s.sendall(b"P2\x01\x00" + struct.pack("<I", 1 << 30))
elif case == "truncated-hello":
    send(HELLO, b"\x01\x00")
elif case == "path-name":
    handshake()
    t, _ = recv()
    assert t == AUTH_OK, t
    send(SESSION, bytes(16) + bytes([0, 1, 9]) + b"../escape" + struct.pack("<QI", 1 << 20, 512))
elif case == "offset-outside":
    handshake()
    t, _ = recv()
    assert t == AUTH_OK, t
    assert session() == SESSION_OK
    data = bytes(4096)
    send(CHUNK, bytes([0, 0, 0, 0]) + struct.pack("<IQQ", 4096, 64 << 20, 0) + data)
elif case == "chunk-too-long":
    handshake()
    t, _ = recv()
    assert t == AUTH_OK, t
    assert session() == SESSION_OK
    send(CHUNK, bytes([0, 0, 0, 0]) + struct.pack("<IQQ", 2 << 20, 0, 0))
elif case == "zstd-not-negotiated":
    handshake()
    t, _ = recv()
    assert t == AUTH_OK, t
    assert session() == SESSION_OK
    send(CHUNK, bytes([0, 1, 0, 0]) + struct.pack("<IQQ", 1 << 20, 0, 0) + b"not zstd")
elif case == "chunk-replayed":
    handshake()
    t, _ = recv()
    assert t == AUTH_OK, t
    assert session() == SESSION_OK
    # A good chunk (its checksum: the first 8 bytes of its leaf, le64),
    # then the same chunk again.
    data = bytes(1 << 20)
    pieces = b"".join(hashlib.sha256(data[i:i + (1 << 16)]).digest() for i in range(0, 1 << 20, 1 << 16))
    sum64 = struct.unpack("<Q", hashlib.sha256(pieces).digest()[:8])[0]
    for _ in range(2):
        send(CHUNK, bytes([0, 0, 0, 0]) + struct.pack("<IQQ", 1 << 20, 0, sum64) + data)
elif case == "resend-zeros":
    # A 2 MiB disk whose first chunk holds data, then a wrong digest: the
    # server asks for the disk again, and this time the chunk is zeros
    # (the source changed). The image must not keep the old data.
    def leaf(data):
        return hashlib.sha256(b"".join(hashlib.sha256(data[i:i + (1 << 16)]).digest()
                                       for i in range(0, len(data), 1 << 16))).digest()
    def wait_for(want):
        while True:
            t, b = recv()
            if t == want:
                return b
            assert t in (9, 10), t      # ACK, NAK
    handshake()
    t, _ = recv()
    assert t == AUTH_OK, t
    assert session(b"rz", 2 << 20) == SESSION_OK
    data = os.urandom(1 << 20)
    send(CHUNK, bytes([0, 0, 0, 0]) + struct.pack("<IQQ", 1 << 20, 0, struct.unpack("<Q", leaf(data)[:8])[0]) + data)
    send(11, bytes([0]) + struct.pack("<I", 0) + bytes(32))      # DISK_END, wrong digest
    assert wait_for(12) == bytes([0, 0])                          # DISK_DONE, not ok
    zleaf = leaf(bytes(1 << 20))
    for off in (0, 1 << 20):
        send(CHUNK, bytes([0, 2, 0, 0]) + struct.pack("<IQQ", 1 << 20, off, struct.unpack("<Q", zleaf[:8])[0]))
    digest = hashlib.sha256(struct.pack("<Q", 2 << 20) + zleaf + zleaf).digest()
    send(11, bytes([0]) + struct.pack("<I", 0) + digest)
    assert wait_for(12) == bytes([0, 1])                          # DISK_DONE, ok
    send(MANIFEST, b"\x01<p2v-manifest/>")
    send(13, b"")                                                 # FINISH
    wait_for(14)                                                  # FINISH_OK
    print(case, "-> complete")
    sys.exit(0)
else:
    sys.exit("unknown case " + case)
print(case, "->", refused())
