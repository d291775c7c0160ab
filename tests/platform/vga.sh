# VGA graphics: a boot sector sets mode 12h, draws through the graphics
# controller's write modes 0-3, the map mask and read mode 1, and has the
# VGA BIOS print a STOP line over it (guests/planar.asm); another draws in
# mode 13h (guests/mode13.asm); the screenshots must show each pixel
# where the VGA puts it.
. "$SRC/tests/lib.sh"
. "$SRC/tests/platform/lib-platform.sh"
need nasm xorriso python3
g=$(guest bootsectors)
check_verdict 0 "booted expected output 'VMM-TEST-MARKER: planar-ok' on (COM1|the screen)" \
    --timeout 60 --expect 'VMM-TEST-MARKER: planar-ok' --serial serial.txt \
    --screenshot screen.png "$g/planar.raw"
grep 'cmp=0F' serial.txt >/dev/null || fail "read mode 1 colour compare: $(grep -a cmp= serial.txt)"
cat >check.py <<'PY'
import struct, sys, zlib

def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype == 2, "not 8-bit RGB"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, rows, prev = zlib.decompress(idat), w * 3, [], bytearray(w * 3)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 3] if i >= 3 else 0
            b, c = prev[i], prev[i - 3] if i >= 3 else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, rows

w, h, rows = read_png(sys.argv[2])
px = lambda x, y: tuple(rows[y][3 * x:3 * x + 3]) if y < h and x < w else None
BLUE, WHITE, RED, MAGENTA = (0, 0, 0xAA), (0xFF, 0xFF, 0xFF), (0xAA, 0, 0), (0xAA, 0, 0xAA)
if sys.argv[1] == "mode13":
    size = (320, 200)
    want = [(px(10, 100), RED, "pixel 10,100"), (px(319, 199), WHITE, "pixel 319,199"),
            (px(0, 0), BLUE, "pixel 0,0"), (px(11, 100), BLUE, "pixel 11,100")]
else:
    size = (640, 480)
    want = [(px(x, 100), WHITE if x < 4 else BLUE, "row 100 x %d" % x) for x in range(8)]
    want += [(px(80 + x, 200), BLUE if x < 4 else RED, "row 200 x %d" % (80 + x)) for x in range(8)]
    want += [(px(40 + x, 300), px(x, 100), "row 300 x %d" % (40 + x)) for x in range(8)]
    want += [(px(x, 400), MAGENTA, "row 400 x %d" % x) for x in range(8)]
    want += [(px(x, y), BLUE, "background %d,%d" % (x, y)) for x, y in ((639, 479), (320, 240), (8, 100))]
    # The STOP text: white glyph pixels in the first two character rows.
    white = sum(px(x, y) == WHITE for y in range(32) for x in range(640))
    want.append((white > 400, True, "white text pixels in the top rows (%d)" % white))
if (w, h) != size:
    sys.exit("size %dx%d, want %dx%d" % (w, h, size[0], size[1]))
bad = [(what, got, exp) for got, exp, what in want if got != exp]
for what, got, exp in bad:
    print("%s: got %s, want %s" % (what, got, exp), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
python3 check.py planar screen.png || fail "the mode 12h screenshot does not show what the guest drew"
check_verdict 0 "booted expected output 'VMM-TEST-MARKER: mode13-ok' on (COM1|the screen)" \
    --timeout 60 --expect 'VMM-TEST-MARKER: mode13-ok' --screenshot mode13.png "$g/mode13.raw"
python3 check.py mode13 mode13.png || fail "the mode 13h screenshot does not show what the guest drew"
