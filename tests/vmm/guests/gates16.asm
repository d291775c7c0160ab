; 16-bit (286) gates across privilege levels, from 16-bit ring-3 code on a
; 16-bit stack: a 286 call gate with a parameter count of 2 copies two
; words to the ring-0 stack and pushes the 16-bit frame SS, SP, params, CS,
; IP; RETF 4 returns to ring 3 and releases the parameters on both stacks;
; INT through a 16-bit interrupt gate pushes SS, SP, FLAGS, CS, IP (words)
; and clears IF, IRET restores them; an exception with an error code
; through a 16-bit gate pushes the error code as a word. The ring-0 stack
; comes from the 32-bit TSS (SS0:ESP0). Expected frames derived by hand
; from the SDM (CALL/INT/RET/IRET pseudo-code, 16-bit gate formats).
%include "pmtest.inc"

%define SEL_CODE16_3 0xA0       ; 16-bit code, DPL 3, base F0000
%define SEL_STACK16_3 0xA8      ; 16-bit data (B=0), DPL 3, base 0
%define SEL_GATE16 0xB0         ; 286 call gate, DPL 3, 2 params -> SEL_CODE16
%define R3_SP 0x7800
%define R0_SP STACK_TOP
%define DONE_VEC 0x81


        bits 32
pm_main:
        PUTS32 `gates16: start\n`
        mov dword [GDT_BASE + SEL_CODE16_3], 0x0000FFFF
        mov dword [GDT_BASE + SEL_CODE16_3 + 4], 0x0000FA0F
        mov dword [GDT_BASE + SEL_STACK16_3], 0x0000FFFF
        mov dword [GDT_BASE + SEL_STACK16_3 + 4], 0x0000F200
        mov eax, gate16_target
        mov word [GDT_BASE + SEL_GATE16], ax
        mov word [GDT_BASE + SEL_GATE16 + 2], SEL_CODE16
        mov word [GDT_BASE + SEL_GATE16 + 4], 0xE402    ; P, DPL 3, type 4, 2 words
        mov word [GDT_BASE + SEL_GATE16 + 6], 0
        lgdt [cs:gdt_desc]
        SET_GATE DONE_VEC, done, 0xEE
        SET_GATE CHK_FAIL_VEC, chk_failed, 0xEE
        ; 0x90: 16-bit interrupt gate, DPL 3 -> SEL_CODE16:int90
        mov word [IDT_BASE + 0x90*8], int90
        mov word [IDT_BASE + 0x90*8 + 2], SEL_CODE16
        mov word [IDT_BASE + 0x90*8 + 4], 0xE600
        mov word [IDT_BASE + 0x90*8 + 6], 0
        ; #GP: 16-bit interrupt gate (DPL 0) -> SEL_CODE16:gp16
        mov word [IDT_BASE + 13*8], gp16
        mov word [IDT_BASE + 13*8 + 2], SEL_CODE16
        mov word [IDT_BASE + 13*8 + 4], 0x8600
        mov word [IDT_BASE + 13*8 + 6], 0
        mov dword [TSS0 + 4], R0_SP
        mov dword [TSS0 + 8], SEL_DATA
        IRET_TO SEL_CODE16_3 | 3, SEL_STACK16_3 | 3, R3_SP, ring3

        bits 16
ring3:  mov ax, SEL_DATA3
        mov ds, ax
        mov es, ax
        mov ax, cs
        CHKNS ax, SEL_CODE16_3 | 3
        CHKNS sp, R3_SP

        ; 286 call gate with two parameters
        push word 0x1111                        ; first parameter (higher address)
        push word 0x2222
        call SEL_GATE16:0
r3_after_call:
        CHKNS sp, R3_SP                         ; RETF 4 released the parameters
        mov ax, ss
        CHKNS ax, SEL_STACK16_3 | 3
        mov ax, cs
        CHKNS ax, SEL_CODE16_3 | 3
        ; the frame the ring-0 procedure found (words, from its SP upward)
        CHKNS word [VAR0], R0_SP - 12           ; SP inside: 6 words pushed
        CHKNS word [VAR0 + 2], r3_after_call    ; IP
        CHKNS word [VAR0 + 4], SEL_CODE16_3 | 3 ; CS
        CHKNS word [VAR0 + 6], 0x2222           ; parameters, same order
        CHKNS word [VAR0 + 8], 0x1111
        CHKNS word [VAR0 + 10], R3_SP - 4       ; caller's SP (after its pushes)
        CHKNS word [VAR0 + 12], SEL_STACK16_3 | 3
        CHKNS word [VAR0 + 14], SEL_CODE16      ; CS inside: CPL 0
        CHKNS word [VAR0 + 16], SEL_DATA        ; SS inside: from TSS0.SS0

        ; INT through a 16-bit interrupt gate from CPL 3
        int 0x90
r3_after_int:
        CHKNS sp, R3_SP
        mov ax, ss
        CHKNS ax, SEL_STACK16_3 | 3
        CHKNS word [VAR0 + 20], R0_SP - 10      ; SP inside: 5 words
        CHKNS word [VAR0 + 22], r3_after_int
        CHKNS word [VAR0 + 24], SEL_CODE16_3 | 3
        mov ax, [VAR0 + 26]                     ; FLAGS: IF was set
        and ax, 0x0200
        CHKNS ax, 0x0200
        CHKNS word [VAR0 + 28], R3_SP
        CHKNS word [VAR0 + 30], SEL_STACK16_3 | 3
        mov ax, [VAR0 + 32]                     ; FLAGS inside: IF cleared
        and ax, 0x0200
        CHKNS ax, 0
        pushf                                   ; IRET restored IF
        pop ax
        and ax, 0x0200
        CHKNS ax, 0x0200

        ; #GP(0) from CPL 3 through a 16-bit gate: error code word
        mov word [VAR0 + 34], 0
        mov bx, sp
r3_gp:  cli
        CHKNS word [VAR0 + 34], 1
        CHKNS sp, bx
        CHKNS word [VAR0 + 36], R0_SP - 12      ; 6 words
        CHKNS word [VAR0 + 38], 0               ; error code
        CHKNS word [VAR0 + 40], r3_gp           ; IP of the faulting CLI
        CHKNS word [VAR0 + 42], SEL_CODE16_3 | 3
        CHKNS word [VAR0 + 46], R3_SP
        CHKNS word [VAR0 + 48], SEL_STACK16_3 | 3
        int DONE_VEC
        jmp r3_gp

; The ring-0 side: 16-bit code (SEL_CODE16), stack SEL_DATA from the TSS.
; FRAME16 dest, words: stores the SP the handler was entered with at dest
; and the frame's words above it at dest + 2...; keeps DS, AX, BP on the
; stack (FRAME16_END restores them).
%macro FRAME16 2
        push ds
        push ax
        push bp
        mov ax, SEL_DATA
        mov ds, ax
        mov bp, sp
        lea ax, [bp + 6]
        mov [%1], ax
%assign k 0
%rep %2
        mov ax, [bp + 6 + k]
        mov [%1 + 2 + k], ax
%assign k k + 2
%endrep
%endmacro
%macro FRAME16_END 0
        pop bp
        pop ax
        pop ds
%endmacro

gate16_target:                                  ; IP, CS, 2 params, SP, SS
        FRAME16 VAR0, 6
        mov [VAR0 + 14], cs
        mov [VAR0 + 16], ss
        FRAME16_END
        retf 4

int90:  FRAME16 VAR0 + 20, 5                    ; IP, CS, FLAGS, SP, SS
        pushf
        pop ax
        mov [VAR0 + 32], ax
        FRAME16_END
        iret

gp16:   FRAME16 VAR0 + 36, 6                    ; error, IP, CS, FLAGS, SP, SS
        inc word [VAR0 + 34]
        inc word [bp + 8]                       ; skip the 1-byte CLI
        FRAME16_END
        add sp, 2                               ; the error code
        iret

        bits 32
done:   mov ax, SEL_DATA
        mov ds, ax
        mov es, ax
        mov esp, STACK_TOP
        PUTS32 `gates16: all checks passed\n`
        jmp pass32

gdt_desc:
        dw SEL_GATE16 + 7
        dd GDT_BASE

%include "tail.inc"
