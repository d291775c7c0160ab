# SeaBIOS write-protects its shadow RAM (i440FX PAM) after POST: a boot
# sector (guests/shadow_boot.asm) writes to 0xF0000 and 0xFFFF0 by MOV,
# REP STOSB and an INT 13h disk read, and reports through the debug-exit
# port whether the bytes stayed as they were. The same disk under QEMU TCG
# (its own SeaBIOS) must agree.
. "$SRC/tests/lib.sh"
need nasm
bios=/usr/share/seabios/bios.bin
[ -r "$bios" ] || skip "needs $bios (package seabios)"
nasm -f bin -o disk.raw "$SRC/tests/vmm/guests/shadow_boot.asm"
python3 -c 'import sys; sys.stdout.buffer.write(b"\x5a" * 512)' >>disk.raw
truncate -s 1M disk.raw
rc=0
"$BIN/vmm" --snapshot --vga none --serial serial.txt --timeout 60 disk.raw 2>err.txt || rc=$?
cat serial.txt
if [ "$rc" -ne 33 ] || ! grep 'VMM-TEST-MARKER: shadow-ro-ok' serial.txt >/dev/null; then
    cat err.txt >&2
    fail "vmm exited $rc"
fi
if command -v qemu-system-i386 >/dev/null; then
    qrc=0
    timeout 120 qemu-system-i386 -accel tcg -nographic -display none -monitor none \
        -drive file=disk.raw,format=raw,snapshot=on -serial file:qemu.txt \
        -device isa-debug-exit,iobase=0xf4,iosize=4 || qrc=$?
    cat qemu.txt
    [ "$qrc" -eq 33 ] || fail "QEMU exited $qrc (the boot sector's expectations are wrong?)"
fi
