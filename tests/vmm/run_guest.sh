# Assembles one CPU test firmware (tests/vmm/guests/<name>.asm, the name
# taken from the ctest name vmm_guest_<name>) and runs it under vmm: the
# guest must report PASS on the debug console and exit through port 0xF4
# with the pass code (exit status 33).
. "$SRC/tests/lib.sh"
need nasm
name=${TESTNAME#vmm_guest_}
# vmm_guest_<name>_smallcache: the same payload with a tiny decoded-code
# cache, so that cache flushes happen all the time.
# vmm_guest_<name>_interp: the reference CPU (VMM_CPU=interp, no fused
# instruction pairs), which every payload must pass as well.
# vmm_guest_<name>_jit: the translator (VMM_CPU=jit), translating every
# block at its first entry.
case $name in
*_smallcache) name=${name%_smallcache}; export VMM_CACHE_BLOCKS=16 ;;
*_interp) name=${name%_interp}; export VMM_CPU=interp ;;
*_jit) name=${name%_jit}; export VMM_CPU=jit VMM_JIT_HOT=0 ;;
esac
case $name in
alu_*) [ -r "$BUILD/tests/vmm/$name.inc" ] || skip "no $name.inc: gen_alu must run an i386 program on the host CPU (needs gcc-multilib and a kernel with IA32 emulation)" ;;
esac
nasm -f bin -I"$SRC/tests/vmm/guests/" -I"$BUILD/tests/vmm/" -o guest.bin \
    "$SRC/tests/vmm/guests/$name.asm"
rc=0
"$BIN/vmm" --bios guest.bin --debugcon out.txt --timeout 60 2>err.txt || rc=$?
cat out.txt
if [ "$rc" -ne 33 ] || ! grep -q '^PASS$' out.txt; then
    cat err.txt >&2
    fail "$name: vmm exited $rc"
fi
