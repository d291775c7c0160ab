; CPUID profile report (real mode): prints the maximum leaf, the leaf-1
; signature and feature bits, and which model-specific instructions raise
; #UD (CMOV, RDTSC, CMPXCHG8B, SYSENTER, FCOMI, MMX). tests/vmm/cpuid.sh runs it
; with each --cpu model and compares with the expected profile. (SYSENTER
; exists on P6 but raises #GP in real mode.)
%include "boot.inc"

%macro TRY 2            ; name, instruction: prints "name=ok" or "name=UD"
        mov byte [ud_hit], 0
        mov word [resume], %%after
        %2
%%after:
        PUTS %1
        cmp byte [ud_hit], 1
        je %%ud
        ja %%gp
        PUTS `=ok `
        jmp %%done
%%ud:   PUTS `=UD `
        jmp %%done
%%gp:   PUTS `=GP `
%%done:
%endmacro

%define ud_hit 0x8000
%define resume 0x8002

start:  cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, STACK_TOP
        mov word [6*4], ud_handler
        mov word [6*4+2], cs
        mov word [13*4], gp_handler
        mov word [13*4+2], cs
        xor eax, eax
        cpuid
        PUTS `max=`
        call hex32_16
        mov eax, 1
        cpuid
        push edx
        PUTS ` sig=`
        call hex32_16
        PUTS ` edx=`
        pop eax
        call hex32_16
        PUTS `\n`
        TRY `cmov`, {cmove eax, ebx}
        TRY `rdtsc`, {rdtsc}
        TRY `cmpxchg8b`, {cmpxchg8b [0x9000]}
        TRY `sysenter`, {db 0x0F, 0x34}
        mov eax, cr0
        and al, ~0x0C
        mov cr0, eax
        fninit
        fldz
        fldz
        TRY `fcomi`, {fcomi st0, st1}
        TRY `mmx`, {paddb mm0, mm1}
        PUTS `\n`
        mov al, PASS_CODE
        out EXIT_PORT, al
        cli
        hlt

gp_handler:
        mov byte [ud_hit], 2
        jmp handler_tail
ud_handler:
        mov byte [ud_hit], 1
handler_tail:
        push bp
        mov bp, sp
        mov ax, [resume]
        mov [bp + 2], ax
        pop bp
        iret

hex32_16:
        ror eax, 16
        call hex16
        ror eax, 16
        call hex16
        ret

%include "tail.inc"
