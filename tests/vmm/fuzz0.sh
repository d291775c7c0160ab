# Robustness at CPL 0: 40 seeds of random ring-0 code (tests/vmm/guests/
# fuzz0.asm). Whatever the guest does (triple fault, halt, debug exit,
# endless loop cut by the instruction limit), vmm must end normally: never
# by a signal, never with a sanitizer report.
. "$SRC/tests/lib.sh"
need nasm perl
for seed in $(seq 1 40); do
    nasm -f bin -DSEED="$seed" -I"$SRC/tests/vmm/guests/" -o fuzz0.bin \
        "$SRC/tests/vmm/guests/fuzz0.asm"
    # perl tells a signal from an exit status (both can be above 128)
    sig=$(perl -e 'system @ARGV; print $? & 127' -- "$BIN/vmm" --bios fuzz0.bin \
          --max-instructions 300000 --timeout 20 --debugcon /dev/null 2>err.txt) || true
    if [ "$sig" != 0 ] || grep -q 'Sanitizer\|runtime error' err.txt; then
        cat err.txt >&2
        fail "seed $seed: vmm died (signal $sig)"
    fi
done
