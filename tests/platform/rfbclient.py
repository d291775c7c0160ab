#!/usr/bin/env python3
"""A small RFB 3.8 client (raw encoding) for the vmm VNC test.

rfbclient.py SOCKET SERIAL SCREENSHOT TEXT: connects to vmm's Unix socket,
waits for "keys> " on the serial log, types TEXT and Enter, waits for the
guest to echo it on COM1, then reads the framebuffer until it equals the
live --screenshot PNG (refreshed every second while the guest runs), moves
the mouse, saves the frame as frame.rgb and types Esc (the guest leaves).
rfbclient.py --frame SOCKET SCREENSHOT OUT saves a frame equal to the live
screenshot; rfbclient.py --same PNG RGB compares a PNG with a saved frame.
Exit 0 on success, 1 with one message otherwise."""
import os
import socket
import struct
import sys
import time
import zlib

DEADLINE = time.monotonic() + 60


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def wait_for(what, cond):
    while not cond():
        if time.monotonic() > DEADLINE:
            fail("gave up waiting for " + what)
        time.sleep(0.05)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            fail("the server closed the connection")
        buf += chunk
    return buf


def png_rgb(path):
    """(w, h, RGB bytes) of an 8-bit RGB PNG, the kind vmm writes."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype != 2:
                fail("unexpected PNG format")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride, out, prev = w * 3, bytearray(), bytearray(w * 3)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 3] if i >= 3 else 0
            b = prev[i]
            c = prev[i - 3] if i >= 3 else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pr) & 255
        out += line
        prev = line
    return w, h, bytes(out)


class Client:
    """An RFB 3.8 connection: no security, 32-bit true colour, raw encoding
    and the DesktopSize pseudo-encoding (the guest changes modes)."""

    def __init__(self, sock_path):
        wait_for("the VNC socket", lambda: os.path.exists(sock_path))
        s = self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock_path)
        s.settimeout(30)
        if recv_exact(s, 12) != b"RFB 003.008\n":
            fail("not an RFB 3.8 server")
        s.sendall(b"RFB 003.008\n")
        n = recv_exact(s, 1)[0]
        types = recv_exact(s, n)
        if 1 not in types:
            fail("no 'None' security type: %r" % types)
        s.sendall(b"\x01")
        if struct.unpack(">I", recv_exact(s, 4))[0] != 0:
            fail("security handshake failed")
        s.sendall(b"\x01")                              # ClientInit: shared
        self.w, self.h = struct.unpack(">HH", recv_exact(s, 4))
        recv_exact(s, 16)
        name = recv_exact(s, struct.unpack(">I", recv_exact(s, 4))[0])
        if name != b"vmm":
            fail("desktop name %r" % name)
        # 32 bits per pixel, little endian: bytes B G R X.
        s.sendall(struct.pack(">B3xBBBBHHHBBB3x", 0, 32, 24, 0, 1, 255, 255, 255, 16, 8, 0))
        s.sendall(struct.pack(">BxHii", 2, 2, 0, -223))  # SetEncodings: raw, DesktopSize

    def frame(self):
        """The whole framebuffer as RGB bytes (self.w x self.h)."""
        s = self.s
        while True:
            s.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, self.w, self.h))
            fb = bytearray(self.w * self.h * 3)
            resized = False
            if recv_exact(s, 1)[0] != 0:
                fail("unexpected server message")
            recv_exact(s, 1)
            nrects = struct.unpack(">H", recv_exact(s, 2))[0]
            for _ in range(nrects):
                x, y, rw, rh, enc = struct.unpack(">HHHHi", recv_exact(s, 12))
                if enc == -223:
                    self.w, self.h, resized = rw, rh, True
                    continue
                if enc != 0:
                    fail("encoding %d, not raw" % enc)
                px = recv_exact(s, rw * rh * 4)
                if resized:
                    continue
                for r in range(rh):
                    row = px[r * rw * 4:(r + 1) * rw * 4]
                    at = ((y + r) * self.w + x) * 3
                    fb[at:at + rw * 3] = bytes(b for i in range(0, len(row), 4)
                                               for b in (row[i + 2], row[i + 1], row[i]))
            if not resized:
                return bytes(fb)

    def key(self, sym, down):
        self.s.sendall(struct.pack(">BBxxI", 4, 1 if down else 0, sym))

    def matching_frame(self, shot):
        """Reads frames until one equals the live screenshot SHOT."""
        while True:
            fb = self.frame()
            png = png_rgb(shot) if os.path.exists(shot) else None
            if png and png[0] == self.w and png[1] == self.h and png[2] == fb:
                if len(set(fb)) < 2:
                    fail("the framebuffer is blank")
                return fb
            if time.monotonic() > DEADLINE:
                diff = [i for i in range(0, len(fb), 3)
                        if png and len(png[2]) == len(fb) and fb[i:i + 3] != png[2][i:i + 3]]
                fail("the framebuffer (%dx%d) never matched the live screenshot %s: %d pixels "
                     "differ" % (self.w, self.h, png[:2] if png else None, len(diff)))
            time.sleep(0.2)


def main():
    sock_path, serial, shot, text = sys.argv[1:5]
    c = Client(sock_path)
    key = c.key

    def serial_text():
        try:
            return open(serial, "rb").read()
        except OSError:
            return b""

    wait_for("'keys> ' on COM1", lambda: b"keys> " in serial_text())
    for ch in text:
        shifted = ch.isupper() or ch in '!@#$%^&*()_+{}|:"<>?~'
        if shifted:
            key(0xFFE1, True)
        key(ord(ch), True)
        key(ord(ch), False)
        if shifted:
            key(0xFFE1, False)
    key(0xFF0D, True)
    key(0xFF0D, False)
    want = b"keys> " + text.encode() + b"\r\n"
    wait_for("the typed line on COM1", lambda: want in serial_text())
    for mask, x, y in ((0, 10, 10), (1, 20, 5), (0, 20, 5)):      # the mouse, for good measure
        c.s.sendall(struct.pack(">BBHH", 5, mask, x, y))
    fb = c.matching_frame(shot)
    open("frame.rgb", "wb").write(fb)
    key(0xFF1B, True)
    key(0xFF1B, False)
    print("framebuffer %dx%d matches the screenshot" % (c.w, c.h))


if len(sys.argv) == 5 and sys.argv[1] == "--frame":
    # rfbclient.py --frame SOCKET SCREENSHOT OUT: a frame equal to the live
    # screenshot, saved as RGB bytes.
    c = Client(sys.argv[2])
    open(sys.argv[4], "wb").write(c.matching_frame(sys.argv[3]))
    print("framebuffer %dx%d matches the screenshot" % (c.w, c.h))
    sys.exit(0)
if len(sys.argv) == 4 and sys.argv[1] == "--same":
    # rfbclient.py --same PNG RGB: exit 0 when the PNG holds those pixels.
    sys.exit(0 if png_rgb(sys.argv[2])[2] == open(sys.argv[3], "rb").read() else 1)
main()
