; ModRM/SIB decoding: every 16-bit addressing form (8 r/m x 3 mods) and
; every 32-bit base/index/scale combination with no, 8-bit and 32-bit
; displacements, checked with LEA against sums nasm computes from the known
; register values; 16-bit offset wrap-around; the default segment (SS for
; BP/EBP/ESP bases, DS otherwise) and segment overrides.
%include "boot.inc"

; register values during the checks: reg k = 0x00100 * (k + 1) + k
%define V_EAX 0x0100
%define V_ECX 0x0201
%define V_EDX 0x0302
%define V_EBX 0x0403
%define V_EBP 0x0605
%define V_ESI 0x0706
%define V_EDI 0x0807

%macro SETREGS 0
        mov eax, V_EAX
        mov ecx, V_ECX
        mov edx, V_EDX
        mov ebx, V_EBX
        mov ebp, V_EBP
        mov esi, V_ESI
        mov edi, V_EDI
%endmacro

; L16/L32 form, expected: LEA into AX/EAX, compare, restore EAX.
%macro L16 2
        lea ax, [%1]
        cmp ax, (%2) & 0xFFFF
        je %%ok
        PUTS `lea16 failed: `
        PUTS %str(%1)
        PUTS `\n`
        jmp fail16
%%ok:   mov eax, V_EAX
%endmacro

%macro L32 2
        a32 lea eax, [%1]
        cmp eax, (%2) & 0xFFFFFFFF
        je %%ok
        PUTS `lea32 failed: `
        PUTS %str(%1)
        PUTS `\n`
        jmp fail16
%%ok:   mov eax, V_EAX
%endmacro

start:  cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, STACK_TOP
        SETREGS

        ; ---- 16-bit forms: mod 0, 1 (disp8), 2 (disp16) ----
%assign d 0
%rep 3
%if d == 0
%define DSP 0
%elif d == 1
%define DSP -0x12
%else
%define DSP 0x3456
%endif
        L16 bx + si + DSP, V_EBX + V_ESI + DSP
        L16 bx + di + DSP, V_EBX + V_EDI + DSP
        L16 bp + si + DSP, V_EBP + V_ESI + DSP
        L16 bp + di + DSP, V_EBP + V_EDI + DSP
        L16 si + DSP, V_ESI + DSP
        L16 di + DSP, V_EDI + DSP
        L16 bx + DSP, V_EBX + DSP
%if d != 0
        L16 bp + DSP, V_EBP + DSP
%endif
%assign d d+1
%endrep
        L16 0x7777, 0x7777                  ; mod 0, r/m 6: disp16
        L16 bx + di + 0xF800, V_EBX + V_EDI + 0xF800  ; wraps at 64 KiB

        ; ---- 32-bit forms ----
%macro BASES 2          ; index register, its value
        L32 eax + %1 * 1, V_EAX + %2
        L32 ecx + %1 * 2 + 0x11, V_ECX + %2 * 2 + 0x11
        L32 edx + %1 * 4 - 0x22, V_EDX + %2 * 4 - 0x22
        L32 ebx + %1 * 8 + 0x12345678, V_EBX + %2 * 8 + 0x12345678
        L32 esp + %1 * 1, STACK_TOP + %2
        L32 ebp + %1 * 2 + 0x7F, V_EBP + %2 * 2 + 0x7F
        L32 esi + %1 * 4 - 0x80, V_ESI + %2 * 4 - 0x80
        L32 edi + %1 * 8, V_EDI + %2 * 8
        L32 %1 * 4 + 0x1000, %2 * 4 + 0x1000           ; SIB without base: disp32
%endmacro
        BASES eax, V_EAX
        BASES ecx, V_ECX
        BASES edx, V_EDX
        BASES ebx, V_EBX
        BASES ebp, V_EBP
        BASES esi, V_ESI
        BASES edi, V_EDI
        L32 eax, V_EAX
        L32 ecx + 5, V_ECX + 5
        L32 ebp, V_EBP                      ; mod 1 with disp8 0 (no mod-0 EBP form)
        L32 esp, STACK_TOP                  ; SIB with no index
        L32 esp + 0x100, STACK_TOP + 0x100
        L32 0x12345678, 0x12345678          ; mod 0, r/m 5: disp32
        L32 eax * 2, V_EAX * 2              ; nasm: [eax+eax*1]
        a32 lea eax, [dword ebx]            ; disp32 of 0 (mod 2)
        cmp eax, V_EBX
        jne fail16
        mov eax, V_EAX

        ; ---- default segments and overrides ----
        ; DS=0x1000 holds 0x11 at offset 0x10, SS=0x2000 holds 0x22 there
        mov ax, 0x1000
        mov ds, ax
        mov byte [0x10], 0x11
        mov ax, 0x2000
        mov es, ax
        mov byte [es:0x10], 0x22
        mov ax, 0x3000
        mov es, ax
        mov byte [es:0x10], 0x33
        mov ax, 0x2000
        mov ss, ax
        mov bp, 0x10
        mov bx, 0x10
        xor si, si
        mov al, [bp + si]                   ; SS
        cmp al, 0x22
        jne .segfail
        mov al, [bx + si]                   ; DS
        cmp al, 0x11
        jne .segfail
        mov al, [ds:bp + si]                ; override
        cmp al, 0x11
        jne .segfail
        mov al, [es:bx]
        cmp al, 0x33
        jne .segfail
        mov ebp, 0x10
        mov al, [ebp]                       ; 32-bit EBP base: SS
        cmp al, 0x22
        jne .segfail
        mov esp, 0x10
        mov al, [esp]                       ; ESP base: SS
        mov sp, 0x7000
        cmp al, 0x22
        jne .segfail
        mov ecx, 0x10
        mov al, [ecx + ebp * 2 - 0x20]      ; base ECX, index EBP: DS
        cmp al, 0x11
        jne .segfail
        mov al, [ebp + ecx * 2 - 0x20]      ; base EBP: SS
        cmp al, 0x22
        jne .segfail
        mov al, [cs:.cs_byte]
        cmp al, 0xC5
        jne .segfail
        xor ax, ax
        mov ss, ax
        mov ds, ax
        mov sp, STACK_TOP
        PUTS `addressing: all checks passed\n`
        jmp pass16
.segfail:
        xor ax, ax
        mov ss, ax
        mov ds, ax
        mov sp, STACK_TOP
        PUTS `default segment check failed\n`
        jmp fail16
.cs_byte: db 0xC5

%include "tail.inc"
