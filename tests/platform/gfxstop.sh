# The graphical STOP screen (Windows 2000/XP/2003 through bootvid in VGA
# mode 12h), from synthetic boot sectors (guests/gfxstop.asm): blue fill
# with white text and the STOP line in RAM (ANSI, UTF-16LE; the CPU idle
# in HLT or spinning) gives the code; without the line, bluescreen without
# a code, before the timeout; a grey screen, colour 4 on the VGA BIOS's palette (red) and a blue screen
# without text are no bluescreen (each with the STOP line in RAM).
. "$SRC/tests/lib.sh"
. "$SRC/tests/platform/lib-platform.sh"
need nasm python3
g=$(guest gfxstop)
code='STOP 0x0000007B \(0xF78D2524,0xC0000034,0x00000000,0x00000000\) on the graphical screen'
check_verdict 1 "bluescreen $code" --timeout 60 "$g/gfxstop.raw"
check_verdict 1 "bluescreen $code" --timeout 60 "$g/gfxstop-utf16.raw"
# A CPU that spins on the screen with interrupts off sits on it as well.
check_verdict 1 "bluescreen $code" --timeout 60 "$g/gfxstop-spin.raw"
check_verdict 1 'bluescreen \(graphical STOP screen; code not found in memory\)$' \
    --timeout 60 "$g/gfxstop-nostop.raw"
# ... decided by the screen staying, not by the timeout.
rc=0
"$BIN/vmm" --check --timeout 60 --output=json "$g/gfxstop-nostop.raw" >verdict.json || rc=$?
[ "$rc" -eq 1 ] || fail "json: vmm exited $rc"
python3 - verdict.json <<'PY' || fail "json verdict: $(cat verdict.json)"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["verdict"] == "bluescreen" and not j["booted"], j
assert j["detail"] == "(graphical STOP screen; code not found in memory)", j
assert j["seconds"] < 50, j
PY
# The end of the run looks too (a timeout shorter than the settling time).
check_verdict 1 'bluescreen \(graphical STOP screen; code not found in memory\)$' \
    --timeout 3 "$g/gfxstop-nostop.raw"
check_verdict 1 'timeout no verdict before the timeout' --timeout 3 "$g/gfxstop-grey.raw"
check_verdict 1 'timeout no verdict before the timeout' --timeout 3 "$g/gfxstop-vgapal.raw"
check_verdict 1 'timeout no verdict before the timeout' --timeout 3 "$g/gfxstop-notext.raw"
