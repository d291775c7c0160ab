#!/usr/bin/env bash
# CPU speed of vmm against QEMU TCG and Bochs on two loops run as -bios
# payloads (bench/cpu/loops.asm): A = dec ecx / jnz, B = 8 instructions
# with one load and one store. Each engine runs each loop with N iterations
# and with 0; MIPS = (instructions in the loop) / (time(N) - time(0)), so
# start-up and firmware time cancel out. Time is the process's CPU time
# (user + system): Debian's Bochs (debugger build, term display) sleeps
# between its display polls, which would count against it in wall time.
#
# Usage: bench/cpu/run.sh [-n ITER_A] [-m ITER_B] [-e "vmm qemu bochs"]
# Needs nasm, qemu-system-i386 and bochs (Debian packages nasm,
# qemu-system-x86, bochs, bochsbios, bochs-term); a missing engine is skipped.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
vmm=${VMM:-$top/build/bin/vmm}
iter_a=300000000
iter_b=100000000
engines="vmm qemu bochs"
while getopts "n:m:e:" o; do
    case $o in
    n) iter_a=$OPTARG ;;
    m) iter_b=$OPTARG ;;
    e) engines=$OPTARG ;;
    *) echo "usage: $0 [-n ITER_A] [-m ITER_B] [-e ENGINES]" >&2; exit 2 ;;
    esac
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

build() { # loop iter -> file
    nasm -f bin -DLOOP="$1" -DITER="$2" -o "$work/$1-$2.bin" "$here/loops.asm"
    echo "$work/$1-$2.bin"
}

run_vmm() { "$vmm" --bios "$1" --debugcon /dev/null >/dev/null 2>&1 || true; }
run_qemu() {
    qemu-system-i386 -accel tcg -bios "$1" -nographic -display none -monitor none \
        -serial none -device isa-debug-exit,iobase=0xf4,iosize=4 >/dev/null 2>&1 || true
}
# Debian's Bochs has its debugger built in ("c" starts the simulation) and
# only the term/rfb displays; it wants a VGA ROM, which the payload never
# calls (an empty file will do).
run_bochs() {
    head -c 32768 /dev/zero >"$work/novga.bin"
    cat >"$work/bochsrc" <<RC
romimage: file=$1, address=0xffff0000
vgaromimage: file=$work/novga.bin
megs: 32
display_library: term
port_e9_hack: enabled=1
log: /dev/null
info: action=ignore
debug: action=ignore
panic: action=fatal
RC
    printf 'c\nquit\n' | TERM=xterm timeout 600 bochs -q -f "$work/bochsrc" >/dev/null 2>&1 || true
}

timed() { # engine file -> CPU seconds of the engine
    local TIMEFORMAT='%U + %S' t
    t=$( { time "run_$1" "$2" >/dev/null 2>&1; } 2>&1 )
    echo "$t" | bc -l
}

printf '%-6s %12s %12s\n' engine "loop A MIPS" "loop B MIPS"
for e in $engines; do
    case $e in
    vmm) [ -x "$vmm" ] || { echo "vmm: not built ($vmm)"; continue; } ;;
    qemu) command -v qemu-system-i386 >/dev/null || { echo "qemu: not installed"; continue; } ;;
    bochs) command -v bochs >/dev/null || { echo "bochs: not installed"; continue; } ;;
    esac
    res=""
    for l in A B; do
        n=$([ $l = A ] && echo "$iter_a" || echo "$iter_b")
        per=$([ $l = A ] && echo 2 || echo 8)
        full=$(build $l "$n")
        empty=$(build $l 0)
        t_full=$(timed "$e" "$full")
        t_empty=$(timed "$e" "$empty")
        mips=$(echo "$n * $per / ($t_full - $t_empty) / 1000000" | bc -l)
        res="$res $(printf '%12.0f' "$mips")"
    done
    printf '%-6s%s\n' "$e" "$res"
done
