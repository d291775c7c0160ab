#!/usr/bin/env python3
"""A DNS server for one made-up name, for the live media's host-name test:
answers A queries for NAME with ADDR, AAAA queries for NAME with no
record (NOERROR), and every other name with NXDOMAIN. Logs each query
("QTYPE NAME") to LOG. Exits 3 when it cannot bind (port 53 in use, or
not allowed), after writing the reason to standard error; prints "ready"
on standard output once it listens.

  dns.py LISTEN-ADDR PORT NAME ADDR LOG"""
import socket, struct, sys

listen, port, name, addr, logpath = sys.argv[1], int(sys.argv[2]), sys.argv[3].lower(), sys.argv[4], sys.argv[5]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.bind((listen, port))
except OSError as e:
    print("cannot bind %s:%d/udp: %s" % (listen, port, e.strerror), file=sys.stderr)
    sys.exit(3)
print("ready", flush=True)
log = open(logpath, "a")


def qname(msg, off):
    """The dotted name at OFF (no compression in questions) and the offset after it."""
    labels = []
    while True:
        n = msg[off]
        off += 1
        if n == 0:
            return ".".join(labels), off
        if n & 0xC0:
            raise ValueError("compressed question name")
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n


while True:
    msg, peer = s.recvfrom(512)
    try:
        ident, flags, qd = struct.unpack(">HHH", msg[:6])
        if flags & 0x8000 or qd != 1:
            continue
        q, end = qname(msg, 12)
        qtype, qclass = struct.unpack(">HH", msg[end:end + 4])
    except (ValueError, IndexError, struct.error):
        continue
    log.write("%d %s\n" % (qtype, q))
    log.flush()
    question = msg[12:end + 4]
    known = q.lower().rstrip(".") == name
    rcode = 0 if known else 3
    answers = b""
    if known and qtype == 1 and qclass == 1:
        # The name by a pointer to the question (offset 12), TTL 60.
        answers = struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(addr)
    # QR, opcode 0, AA, RD copied, RA.
    rflags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
    head = struct.pack(">HHHHHH", ident, rflags, 1, 1 if answers else 0, 0, 0)
    s.sendto(head + question + answers, peer)
