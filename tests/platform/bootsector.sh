# A nasm boot sector prints over the BIOS (VGA text screen) and COM1; the
# check finds the marker, keeps the serial log, the screen and a PNG.
. "$SRC/tests/lib.sh"
. "$SRC/tests/platform/lib-platform.sh"
need nasm xorriso
g=$(guest bootsectors)
check_verdict 0 "booted expected output 'VMM-TEST-MARKER: bootsector-ok' on (COM1|the screen)" \
    --timeout 60 --expect 'VMM-TEST-MARKER: bootsector-ok' --serial serial.txt \
    --screen-dump screen.txt --screenshot screen.png "$g/hello.raw"
grep -q 'VMM-TEST-MARKER: bootsector-ok' serial.txt || fail "marker missing from the serial log"
grep -q '^VMM-TEST-MARKER: bootsector-ok$' screen.txt || fail "marker missing from the screen dump"
grep -q '^SeaBIOS (version' screen.txt || fail "SeaBIOS banner missing from the screen dump"
# A PNG of the 80x25 text screen in 8x16 cells: 640x400.
[ "$(head -c 8 screen.png | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "not a PNG"
[ "$(od -An -tu1 -j16 -N8 screen.png | tr -s ' ' | sed 's/^ //')" = "0 0 2 128 0 0 1 144" ] \
    || fail "screenshot is not 640x400"
# JSON output.
"$BIN/vmm" --check --output=json --timeout 60 --expect 'bootsector-ok' "$g/hello.raw" >v.json
python3 -c 'import json,sys; d=json.load(open("v.json")); sys.exit(0 if d["verdict"]=="booted" and d["booted"] else 1)' \
    || fail "bad JSON verdict: $(cat v.json)"
