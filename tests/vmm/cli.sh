# The vmm command line: --help, usage errors (one line, exit 2), a missing
# BIOS file, triple fault reporting, instruction limit and the debug ports.
. "$SRC/tests/lib.sh"
need nasm
"$BIN/vmm" --help | grep -- '--bios FILE' >/dev/null
expect_fail 2 'bios FILE is required' "$BIN/vmm"
expect_fail 2 "unknown option '--frobnicate'" "$BIN/vmm" --frobnicate
expect_fail 2 "--cpu wants 486, pentium or p6" "$BIN/vmm" --bios x --cpu 8086
expect_fail 2 "-m wants a RAM size" "$BIN/vmm" --bios x -m 0
expect_fail 2 "needs an argument" "$BIN/vmm" --bios
expect_fail 1 'cannot open BIOS image nonexistent.bin' "$BIN/vmm" --bios nonexistent.bin

# Triple fault: real mode, IDT limit 0, then INT 3 -> #GP -> #DF -> shutdown.
cat >tf.asm <<'ASM'
        bits 16
        org 0
start:  lidt [cs:idtr]
        mov al, 0x42
        out 0x80, al
        int3
idtr:   dw 0
        dd 0
        times 0xFFF0-($-$$) db 0
        jmp 0xF000:start
        times 0x10000-($-$$) db 0
ASM
nasm -f bin -o tf.bin tf.asm
expect_fail 1 '^vmm: triple fault \(shutdown\) at F000:0000000[0-9A-F]; last POST code 0x42$' \
    "$BIN/vmm" --bios tf.bin

# An endless loop stops at the instruction limit; debugcon/serial output.
cat >loop.asm <<'ASM'
        bits 16
        org 0
start:  mov al, 'D'
        out 0xE9, al
        mov dx, 0x402
        in al, dx
        out dx, al
        mov dx, 0x3FD
        in al, dx
        and al, 0x60
        mov dx, 0x3F8
        mov al, 'S'
        out dx, al
.l:     jmp .l
        times 0xFFF0-($-$$) db 0
        jmp 0xF000:start
        times 0x10000-($-$$) db 0
ASM
nasm -f bin -o loop.bin loop.asm
rc=0
"$BIN/vmm" --bios loop.bin --max-instructions 100000 --debugcon dc.txt --serial ser.txt \
    2>err.txt || rc=$?
[ "$rc" -eq 1 ] || fail "instruction limit: exit $rc"
grep -q 'instruction limit reached' err.txt || fail "no instruction-limit message"
[ "$(cat dc.txt)" = "D$(printf '\xe9')" ] || fail "debugcon output wrong: $(od -c dc.txt)"
[ "$(cat ser.txt)" = "S" ] || fail "serial output wrong"
rc=0
"$BIN/vmm" --bios loop.bin --timeout 0.3 --debugcon /dev/null 2>err.txt || rc=$?
[ "$rc" -eq 1 ] && grep -q timeout err.txt || fail "timeout: exit $rc"

# One REP instruction running for seconds does not hold off the timeout.
nasm -f bin -I"$SRC/tests/vmm/guests/" -o longrep.bin "$SRC/tests/vmm/guests/longrep.asm"
start=$(date +%s%N)
rc=0
"$BIN/vmm" --bios longrep.bin --timeout 0.5 --debugcon /dev/null 2>err.txt || rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$rc" -eq 1 ] && grep -q timeout err.txt || fail "long REP: exit $rc: $(cat err.txt)"
[ "$ms" -lt 10000 ] || fail "long REP: the 0.5 s timeout took $ms ms (the REP alone runs for minutes)"

# qemu's single-dash spellings, --version, and one clear error for the qemu
# options vmm does not have (they used to parse as -m with "onitor", or
# print the help).
"$BIN/vmm" --version | grep -Eq '^vmm \(p2vkit\) [0-9]' || fail "--version"
"$BIN/vmm" -version | grep -Eq '^vmm \(p2vkit\)' || fail "-version"
"$BIN/vmm" -h | grep -q -- '--bios FILE' || fail "-h"
expect_fail 2 'vmm has no monitor' "$BIN/vmm" -monitor stdio x.raw
expect_fail 2 '^vmm: -smp 2: vmm emulates one CPU only' "$BIN/vmm" -smp 2 x.raw
expect_fail 2 '^vmm: -enable-kvm: a qemu option vmm does not have' "$BIN/vmm" -enable-kvm x.raw
expect_fail 2 '^vmm: -drive file=x: a qemu option vmm does not have' "$BIN/vmm" -drive file=x
expect_fail 2 "-display wants none" "$BIN/vmm" -display gtk x.raw
expect_fail 2 "-hdc and --cdrom both" "$BIN/vmm" -hdc x.raw -cdrom y.iso
expect_fail 2 "option '-hda' needs an argument" "$BIN/vmm" -hda
expect_fail 2 "unknown option '-frobnicate'" "$BIN/vmm" -frobnicate
# A boot sector on -hdb (the primary slave) is not booted; on -hda it is.
# It prints on COM1 and leaves through isa-debug-exit (status (3<<1)|1).
cat >hd.asm <<'ASM'
        bits 16
        org 0x7c00
        mov dx, 0x3f8
        mov al, 'H'
        out dx, al
        mov al, 3
        out 0xf4, al
        hlt
        times 510-($-$$) db 0
        dw 0xaa55
ASM
nasm -f bin -o hd.raw hd.asm
truncate -s 1M hd.raw
rc=0
"$BIN/vmm" -hda hd.raw -m 16 -snapshot -boot c -smp 1 -display none -nographic \
    -serial file:hd.txt \
    -timeout 60 2>err.txt || rc=$?
[ "$rc" -eq 7 ] || fail "-hda: exit $rc: $(cat err.txt)"
[ "$(cat hd.txt)" = H ] || fail "-hda: COM1 has '$(cat hd.txt)'"
rc=0
"$BIN/vmm" -serial none -boot order=c -m 16 -snapshot hd.raw 2>err.txt || rc=$?
[ "$rc" -eq 7 ] || fail "-serial none -boot order=c: exit $rc: $(cat err.txt)"
