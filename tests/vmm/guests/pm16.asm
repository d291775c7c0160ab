; 16-bit protected mode: code in a 16-bit code segment with a 16-bit stack
; segment (SP wraps at 64 KiB), 16-bit interrupt and trap gates (3-word
; frames), a 32-bit gate entered from 16-bit code, 16-bit call gates, far
; calls and returns with operand-size prefixes, and a task switch to a
; 16-bit TSS and back. Expected values derived by hand from the SDM.
%include "pmtest.inc"

%define TSS16 0x6400
%define SEL_TSS16 0xA0
%define SEL_GATE16 0xA8
%define SEL_STACK16 0xB0

        bits 32
pm_main:
        PUTS32 `pm16: start\n`
        ; extra descriptors: 16-bit TSS, 16-bit call gate, 16-bit stack at 0x20000
        mov dword [GDT_BASE + SEL_TSS16], (TSS16 << 16) | 0x2B
        mov dword [GDT_BASE + SEL_TSS16 + 4], 0x00008100 | (TSS16 >> 16)
        mov eax, gate16_target
        mov word [GDT_BASE + SEL_GATE16], ax
        mov word [GDT_BASE + SEL_GATE16 + 2], SEL_CODE16
        mov word [GDT_BASE + SEL_GATE16 + 4], 0x8400       ; 16-bit call gate, DPL 0
        mov word [GDT_BASE + SEL_GATE16 + 6], 0
        mov dword [GDT_BASE + SEL_STACK16], 0x0000FFFF
        mov dword [GDT_BASE + SEL_STACK16 + 4], 0x00009202 ; base 0x20000, B=0
        lgdt [cs:gdt16_desc]
        ; IDT 0x60: 16-bit interrupt gate, 0x61: 16-bit trap gate
        mov word [IDT_BASE + 0x60*8], int60
        mov word [IDT_BASE + 0x60*8 + 2], SEL_CODE16
        mov word [IDT_BASE + 0x60*8 + 4], 0x8600
        mov word [IDT_BASE + 0x60*8 + 6], 0
        mov word [IDT_BASE + 0x61*8], int61
        mov word [IDT_BASE + 0x61*8 + 2], SEL_CODE16
        mov word [IDT_BASE + 0x61*8 + 4], 0x8700
        mov word [IDT_BASE + 0x61*8 + 6], 0
        ; 16-bit TSS: IP, FLAGS, SP, CS, SS, DS, ES
        mov word [TSS16 + 14], task16
        mov word [TSS16 + 16], 0x0002
        mov word [TSS16 + 26], 0x8000
        mov word [TSS16 + 36], SEL_CODE16
        mov word [TSS16 + 38], SEL_STACK16
        mov word [TSS16 + 40], SEL_DATA16
        mov word [TSS16 + 34], SEL_DATA16
        jmp SEL_CODE16:code16

        bits 16
code16: mov ax, SEL_STACK16
        mov ss, ax
        mov sp, 0x1000
        mov ax, SEL_DATA16
        mov ds, ax
        mov es, ax
        ; 16-bit stack
        push word 0x1234
        cmp sp, 0x0FFE
        jne .bad
        cmp word [ss:0x0FFE], 0x1234
        jne .bad
        pop ax
        ; SP wraps at 0: a push at SP=0 writes at 0xFFFE
        mov sp, 0
        push word 0xBEEF
        cmp sp, 0xFFFE
        jne .bad
        cmp word [ss:0xFFFE], 0xBEEF
        jne .bad
        mov sp, 0x1000
        ; 32-bit push in 16-bit code (66 prefix)
        push dword 0x11223344
        cmp sp, 0x0FFC
        jne .bad
        pop eax
        cmp eax, 0x11223344
        jne .bad
        ; 16-bit interrupt gate: IRET frame of 3 words, IF cleared
        sti
        mov word [VAR0], 0
        int 0x60
.after60:
        cmp word [VAR0], 0x60
        jne .bad
        cmp word [VAR0 + 2], .after60
        jne .bad
        cmp word [VAR0 + 4], SEL_CODE16
        jne .bad
        cmp sp, 0x1000
        jne .bad
        ; 16-bit trap gate: IF stays set
        int 0x61
        test word [VAR0 + 6], 0x200
        jz .bad
        cli
        ; far call through a 16-bit call gate (same privilege), RETF
        call SEL_GATE16:0
        cmp word [VAR0 + 8], 0x4747
        jne .bad
        cmp sp, 0x1000
        jne .bad
        ; far call with a 32-bit operand size into 32-bit code
        o32 call dword SEL_CODE32:far32
        cmp word [VAR0 + 10], 0x3232
        jne .bad
        ; #GP from 16-bit code through the 32-bit gate: 32-bit frame
        mov dword [EXC_RESUME], .gp_back
        mov ax, 0x1000
.gp:    mov ds, ax
        jmp .bad
.gp_back:
        mov ax, SEL_DATA16
        mov ds, ax
        cmp dword [EXC_VEC], 13
        jne .bad
        cmp dword [EXC_ERR], 0x1000
        jne .bad
        cmp dword [EXC_EIP], .gp
        jne .bad
        cmp dword [EXC_CS], SEL_CODE16
        jne .bad
        mov dword [EXC_RESUME], 0
        ; task switch to a 16-bit TSS and back
        call SEL_TSS16:0
        cmp word [VAR0 + 12], 0x1616
        jne .bad
        jmp dword SEL_CODE32:pm16_done
.bad:   jmp dword SEL_CODE32:fail32

int60:  mov word [VAR0], 0x60
        push bp
        mov bp, sp
        mov ax, [bp + 2]                    ; IP
        mov [VAR0 + 2], ax
        mov ax, [bp + 4]                    ; CS
        mov [VAR0 + 4], ax
        pop bp
        iret

int61:  pushf
        pop ax
        mov [VAR0 + 6], ax
        iret

gate16_target:
        mov word [VAR0 + 8], 0x4747
        retf

task16: ; in the 16-bit task: NT set, back link = TSS0
        pushf
        pop ax
        test ax, 0x4000
        jz .bad16
        cmp word [TSS16], SEL_TSS0
        jne .bad16
        mov word [VAR0 + 12], 0x1616
        iret
.bad16: jmp dword SEL_CODE32:fail32

        bits 32
far32:  mov word [VAR0 + 10], 0x3232
        retf

pm16_done:
        mov ax, SEL_DATA
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, STACK_TOP
        PUTS32 `pm16: all checks passed\n`
        jmp pass32

gdt16_desc:
        dw 0xB7
        dd GDT_BASE

%include "tail.inc"
