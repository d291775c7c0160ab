#!/usr/bin/env python3
"""A slow client, as attackers of p2v serve do: COUNT connections to
127.0.0.1:PORT from SOURCE (a loopback address), each sending one byte and
then one more every 0.3 s (MODE dribble: a frame header that never ends;
tls: a TLS record that never ends), or nothing (silent), and reconnecting
at the next tick whenever the server drops one. Runs until STOPFILE exists; writes READYFILE
once COUNT connections were opened, and at the end prints how many the
server dropped."""
import os, select, socket, sys, time

port, count, source, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ready, stop = sys.argv[5], sys.argv[6]
PREFIX = {"dribble": b"P2\x01\x00\x24\x00\x00\x00", "tls": b"\x16\x03\x01\x02\x00" + b"\x01" * 64,
          "silent": b""}[mode]


def connect():
    s = socket.socket()
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    return [s, 0]       # socket, bytes of PREFIX sent


conns = [connect() for _ in range(count)]
open(ready, "w").close()
dropped = 0
next_tick = time.monotonic()
while not os.path.exists(stop):
    r, _, _ = select.select([c[0] for c in conns if c], [], [], 0.05)
    for i, c in enumerate(conns):
        if c is None:
            continue
        gone = False
        if c[0] in r:
            try:
                gone = c[0].recv(4096) == b""   # anything the server says is ignored
            except OSError:
                gone = True
        if not gone and time.monotonic() >= next_tick and c[1] < len(PREFIX):
            try:
                c[0].send(PREFIX[c[1]:c[1] + 1])
                c[1] += 1
            except OSError:
                gone = True
        if gone:
            dropped += 1
            c[0].close()
            conns[i] = None
    if time.monotonic() >= next_tick:
        # dropped ones come back at the next tick (not in a tight loop)
        for i, c in enumerate(conns):
            if c is None:
                try:
                    conns[i] = connect()
                except OSError:
                    pass
        next_tick = time.monotonic() + 0.3
print(dropped)
