# The VNC server: an RFB 3.8 client (rfbclient.py, raw encoding) connects to
# vmm --vnc unix:PATH, types a line the guest (guests/keyecho.asm) echoes
# on COM1, reads the framebuffer until it equals the live --screenshot
# (refreshed while the guest runs), and types Esc: the guest leaves through
# isa-debug-exit and the final screenshot is the same frame. Then the same
# for a planar 16-colour mode (12h) and a VBE mode.
. "$SRC/tests/lib.sh"
need nasm python3
nasm -f bin -I"$SRC/tests/platform/guests/" -o echo.raw "$SRC/tests/platform/guests/keyecho.asm"
truncate -s 1M echo.raw
"$BIN/vmm" -vnc "unix:$WORK/vnc.sock" -serial serial.txt -screenshot shot.png -timeout 100 \
    echo.raw 2>err.txt &
pid=$!
rc=0
python3 "$SRC/tests/platform/rfbclient.py" "$WORK/vnc.sock" serial.txt shot.png \
    'Hello, VNC!' || rc=$?
vrc=0
wait "$pid" || vrc=$?
cat serial.txt; echo
[ "$rc" -eq 0 ] || fail "the RFB client failed; vmm: $(cat err.txt)"
[ "$vrc" -eq 7 ] || fail "vmm exited $vrc (Esc should leave with 7): $(cat err.txt)"
[ ! -e vnc.sock ] || fail "the socket was left behind"
[ ! -e shot.png.part ] || fail "a partial screenshot was left behind"
# The final screenshot is the frame the client read.
python3 "$SRC/tests/platform/rfbclient.py" --same shot.png frame.rgb ||
    fail "the final screenshot differs from the frame the client read"

# graphics_frame GUEST W H: boots guests/GUEST.asm with --vnc, and saves
# as GUEST.rgb a frame read over VNC that equals the live screenshot and
# is W x H (the client follows the mode change through DesktopSize).
graphics_frame() {
    local name=$1 w=$2 h=$3 pid rc=0
    nasm -f bin -I"$SRC/tests/platform/guests/" -o "$name.raw" \
        "$SRC/tests/platform/guests/$name.asm"
    truncate -s 1M "$name.raw"
    rm -f shot.png
    "$BIN/vmm" --vnc "unix:$WORK/$name.sock" --serial /dev/null --screenshot shot.png \
        --timeout 100 "$name.raw" 2>err.txt &
    pid=$!
    python3 "$SRC/tests/platform/rfbclient.py" --frame "$WORK/$name.sock" shot.png "$name.rgb" ||
        rc=$?
    kill "$pid" 2>/dev/null || true
    wait "$pid" || true
    [ "$rc" -eq 0 ] || fail "$name: no frame; vmm: $(cat err.txt)"
    [ "$(stat -c %s "$name.rgb")" -eq $((w * h * 3)) ] || fail "$name: the frame is not ${w}x$h"
}

# A planar 16-colour mode (12h, 640x480, drawn by guests/planar.asm).
graphics_frame planar 640 480
# A VBE mode (320x200, 32 bpp, drawn by guests/vbe.asm through the bank
# window): the frame holds what the guest drew (first pixel 00 00 80, the
# last row's red is bank 3's C0).
graphics_frame vbe 320 200
[ "$(od -An -tx1 -N3 vbe.rgb | tr -d ' ')" = 000080 ] ||
    fail "VBE: first pixel $(od -An -tx1 -N3 vbe.rgb)"
[ "$(od -An -tx1 -j $((320 * 199 * 3)) -N1 vbe.rgb | tr -d ' ')" = c0 ] ||
    fail "VBE: the last row is not bank 3"

# Wrong --vnc arguments: one line, exit 2.
expect_fail 2 "--vnc wants :N" "$BIN/vmm" --vnc 5900 echo.raw
expect_fail 2 "--vnc needs a DISK or --cdrom and a VGA" "$BIN/vmm" --vnc :1 --vga none echo.raw
: >notasocket
expect_fail 1 "notasocket exists and is not a socket" "$BIN/vmm" --vnc unix:notasocket echo.raw
