# Differential test of the translator (VMM_CPU=jit) against the reference
# CPU (VMM_CPU=interp):
# - random code of the translated instructions mixed with ones that read
#   the flags they leave (gen_jit, guests/jit_rand.asm), several seeds:
#   the dumps of registers, flags and memory must be identical on the
#   reference, the threaded CPU and the translator, the latter translating
#   every block at its first entry (VMM_JIT_HOT=0) and after 8 entries;
# - every guest payload: the transcripts and exit statuses of the threaded
#   CPU without translation (VMM_CPU=threaded) and of the translator
#   (VMM_JIT_HOT=0) must be those of the reference.
. "$SRC/tests/lib.sh"
need nasm
guests=$SRC/tests/vmm/guests
run() { # label payload env... -> out-LABEL.txt, rc-LABEL
    local label=$1 bin=$2
    shift 2
    local rc=0
    env "$@" "$BIN/vmm" --bios "$bin" --debugcon "out-$label.txt" --timeout 60 2>"err-$label.txt" || rc=$?
    echo "$rc" >"rc-$label"
}
same() { # name label-a label-b
    diff -u "out-$2.txt" "out-$3.txt" >/dev/null || { diff -u "out-$2.txt" "out-$3.txt" | head -20; fail "$1: the transcript differs between $2 and $3"; }
    cmp -s "rc-$2" "rc-$3" || fail "$1: $2 exited $(cat "rc-$2"), $3 exited $(cat "rc-$3")"
}
for seed in 1 2 3 4 5 6; do
    "$BUILD/tests/vmm/gen_jit" "$seed" >jit_rand.inc
    nasm -f bin -I"$guests/" -I. -o rand.bin "$guests/jit_rand.asm"
    run ref rand.bin VMM_CPU=interp
    [ "$(cat rc-ref)" = 33 ] || fail "seed $seed: the reference CPU exited $(cat rc-ref)"
    run threaded rand.bin VMM_CPU=threaded
    run jit0 rand.bin VMM_CPU=jit VMM_JIT_HOT=0
    run jit8 rand.bin VMM_CPU=jit VMM_JIT_HOT=8
    same "random code, seed $seed" ref threaded
    same "random code, seed $seed" ref jit0
    same "random code, seed $seed" ref jit8
done
echo "random code: 6 seeds identical"
for f in "$guests"/*.asm; do
    name=$(basename "$f" .asm)
    case $name in
    jit_rand|fuzz0|bootmsg|cpuid|longrep|shadow_boot) continue ;;  # not standalone payloads
    alu_*) [ -r "$BUILD/tests/vmm/$name.inc" ] || continue ;;
    esac
    nasm -f bin -I"$guests/" -I"$BUILD/tests/vmm/" -o g.bin "$f"
    run ref g.bin VMM_CPU=interp
    run threaded g.bin VMM_CPU=threaded
    run jit0 g.bin VMM_CPU=jit VMM_JIT_HOT=0
    same "$name" ref threaded
    same "$name" ref jit0
    echo "$name: identical"
done
