# Differential test: runs the same CPU test firmware under QEMU TCG
# (qemu-system-i386 -bios, never KVM) and under vmm; the debug-console
# transcripts and exit statuses must be identical.
. "$SRC/tests/lib.sh"
need nasm qemu-system-i386
name=${TESTNAME#vmm_qemu_}
case $name in
alu_*) [ -r "$BUILD/tests/vmm/$name.inc" ] || skip "no $name.inc: gen_alu must run an i386 program on the host CPU (needs gcc-multilib and a kernel with IA32 emulation)" ;;
esac
# QEMU_DIFF leaves out the checks where QEMU TCG is known to be wrong.
nasm -f bin -DQEMU_DIFF -I"$SRC/tests/vmm/guests/" -I"$BUILD/tests/vmm/" -o guest.bin \
    "$SRC/tests/vmm/guests/$name.asm"
qrc=0
timeout 120 qemu-system-i386 -accel tcg -bios guest.bin -nographic -display none \
    -monitor none -serial none -device isa-debug-exit,iobase=0xf4,iosize=4 \
    -debugcon file:qemu.txt || qrc=$?
vrc=0
"$BIN/vmm" --bios guest.bin --debugcon vmm.txt --timeout 60 2>err.txt || vrc=$?
if ! diff -u qemu.txt vmm.txt; then
    fail "$name: debug console differs between QEMU and vmm"
fi
[ "$qrc" -eq "$vrc" ] || fail "$name: QEMU exited $qrc, vmm exited $vrc"
