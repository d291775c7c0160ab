# png-check.py PAGE.png: the rendered report holds the verdict box (its
# green, #d7f5d7) and a dark rectangle of at least 300x150 pixels (the
# boot check's screen). A small PNG reader (8-bit RGB/RGBA, no interlace,
# the five filters of the PNG specification), as the test host has no PIL.
import struct, sys, zlib

def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    assert depth == 8 and color in (2, 6) and interlace == 0, "unsupported PNG"
    bpp = 3 if color == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows

w, h, bpp, rows = read_png(sys.argv[1])
px = lambda x, y: tuple(rows[y][x * bpp:x * bpp + 3])
green = sum(1 for y in range(0, h, 2) for x in range(0, w, 2) if px(x, y) == (0xd7, 0xf5, 0xd7))
dark_rows = 0
best = 0
for y in range(h):
    run = longest = 0
    for x in range(w):
        if max(px(x, y)) < 0x30:
            run += 1
            longest = max(longest, run)
        else:
            run = 0
    dark_rows = dark_rows + 1 if longest >= 300 else 0
    best = max(best, dark_rows)
print(f"verdict box pixels (sampled): {green}; tallest dark block >= 300 px wide: {best} rows")
sys.exit(0 if green > 500 and best >= 150 else 1)
