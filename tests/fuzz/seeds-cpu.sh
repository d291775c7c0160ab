#!/usr/bin/env bash
# Seed corpus for fuzz_cpu: register values, then 32-bit ring-3 code in the
# harness's encoding (tests/fuzz/fuzz_cpu.c): loops the translator takes
# (ALU and Jcc, loads and stores, PUSH/POP, CALL/RET), flags read by
# instructions it has no template for, a store into its own code, and a
# page-crossing load. Each ends in INT3 (a fault: the run's end).
# Usage: seeds-cpu.sh VDISK OUTDIR (VDISK unused).
set -eu
out=$2
mkdir -p "$out"
python3 - "$out" <<'PY'
import struct, sys
out = sys.argv[1]
regs = struct.pack("<7I", 1, 0x7FFFFFFF, 0x80000000, 0x20000, 5, 0x30000, 0x30100)
seeds = {
    # mov ecx,40; L: add eax,ecx; xor edx,eax; cmp eax,ebx; dec ecx; jnz L; int3
    "alu": "b928000000 01c8 31c2 39d8 49 75f7 cc",
    # mov ecx,20; L: mov eax,[ebx+ecx*4]; add [esi],eax; movzx edx,byte[esi+1]; dec ecx; jnz L
    "mem": "b914000000 8b048b 0106 0fb65601 49 75f4 cc",
    # mov ecx,10; L: push eax; push ecx; call f; pop ecx; pop eax; loop L; int3; f: inc eax; ret
    "stack": "b90a000000 50 51 e805000000 59 58 e2f5 cc 40 c3",
    # mov ecx,9; L: add eax,ebx; adc edx,ecx; setc bl; pushfd; pop esi; dec ecx; jnz L
    "flags": "b909000000 01d8 11ca 0f92c3 9c 5e 49 75f4 cc",
    # mov ecx,6; L: inc byte [0x10010] (a NOP after the loop); dec ecx; jnz L; nop x3; int3
    "smc": "b906000000 fe0510000100 49 75f7 90 90 90 cc",
    # mov eax,[0x1fffe] (across a page); ud2
    "cross": "a1feff0100 0f0b",
}
for name, code in seeds.items():
    with open(f"{out}/{name}", "wb") as f:
        f.write(regs + bytes.fromhex(code.replace(" ", "")))
PY
