# --send-keys types into the guest through the i8042: a boot sector
# (guests/keyecho.asm) reads keys with int 16h and echoes them to COM1 (and
# the scan code of a key without a character as [XX]). A step waits for a text on COM1 or on the
# screen, so the keys never come before the guest reads them.
. "$SRC/tests/lib.sh"
need nasm
nasm -f bin -I"$SRC/tests/platform/guests/" -o echo.raw "$SRC/tests/platform/guests/keyecho.asm"
truncate -s 1M echo.raw

# Shifted characters, a named key, a modifier combination; then a step that
# waits for the screen.
cat >keys.txt <<'KEYS'
# comment lines and empty lines are skipped

/screen> /<f8>ok<lt>3<enter>
KEYS
rc=0
"$BIN/vmm" --check --timeout 60 --expect 'ok<3$' --serial serial.txt \
    --send-keys '/keys> /Hello, World! <ctrl-c>x<enter>' --send-keys @keys.txt \
    echo.raw >verdict.txt 2>err.txt || rc=$?
cat verdict.txt serial.txt
[ "$rc" -eq 0 ] || fail "vmm exited $rc: $(cat err.txt)"
grep -q "^keys> Hello, World! " serial.txt || fail "the shifted line was not typed"
grep -q '\[42\]ok<3' serial.txt || fail "F8 (scan code 42h) and the text after it were not typed"
# Ctrl-C types ETX (3), which int 16h returns as AL=3.
grep -q "World! $(printf '\003')x" serial.txt || fail "ctrl-c did not type 0x03"

# A delay counts from the previous step (here: once the guest reads keys).
rc=0
"$BIN/vmm" --check --timeout 60 --expect '^keys> ab$' --serial /dev/null \
    --send-keys '/keys> /a' --send-keys '0.3:b<enter>' echo.raw >verdict.txt 2>err.txt || rc=$?
[ "$rc" -eq 0 ] || fail "delay: vmm exited $rc: $(cat verdict.txt err.txt)"

# A text that never shows: the run times out saying which step waits.
rc=0
"$BIN/vmm" --timeout 3 --serial /dev/null --send-keys '/never/x' echo.raw 2>err.txt || rc=$?
[ "$rc" -eq 1 ] || fail "waiting forever: exit $rc"
grep -q "send-keys '/never/x' was still waiting" err.txt || fail "no report: $(cat err.txt)"

# The screen dump is there while the guest runs, not only at the end.
"$BIN/vmm" --timeout 60 --serial /dev/null --screen-dump live.txt echo.raw 2>/dev/null &
pid=$!
for _ in $(seq 500); do
    grep -q 'Booting from Hard Disk' live.txt 2>/dev/null && break
    sleep 0.1
done
kill -0 "$pid" 2>/dev/null || fail "vmm ended early"
kill "$pid"
wait "$pid" || true
grep -q 'Booting from Hard Disk' live.txt || fail "no live screen dump"

# Wrong specs: one line, exit 2.
expect_fail 2 "no key named <bogus>" "$BIN/vmm" --send-keys 'a<bogus>' echo.raw
expect_fail 2 "'<' without '>'" "$BIN/vmm" --send-keys 'a<enter' echo.raw
expect_fail 2 "no key types the byte 0xC3" "$BIN/vmm" --send-keys 'é' echo.raw
expect_fail 2 "wants a closing '/'" "$BIN/vmm" --send-keys '/abc' echo.raw
expect_fail 2 "cannot open nonexistent.txt" "$BIN/vmm" --send-keys @nonexistent.txt echo.raw
