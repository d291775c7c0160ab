; Expand-down data and stack segments (SDM vol. 3 3.4.5.1 and 5.3): valid
; offsets run from limit+1 to 0xFFFF when B=0 and to 0xFFFFFFFF when B=1
; (G=1 scales the limit: limit*4096+0xFFF); an access at or below the
; limit, above the upper bound, or straddling either end is #GP(0) (#SS(0)
; through SS); a push that would move the stack below limit+1 is #SS(0)
; and leaves ESP as it was (restartable); a B=0 stack wraps at 64 KiB; a
; read-only expand-down segment cannot be written nor loaded into SS.
; Expected values derived by hand from the SDM. QEMU TCG does not check
; data segment limits, so this test has no differential twin.
%include "pmtest.inc"

%define SEL_ED16 0xA0           ; expand-down, B=0, limit 0xFFF, base 0x10000, DPL 0
%define SEL_ED32 0xA8           ; expand-down, B=1, limit 0xFFF, base 0x10000, DPL 0
%define SEL_ED32G 0xB0          ; expand-down, B=1, G=1, limit field 1 (0x1FFF)
%define SEL_EDRO 0xB8           ; expand-down, read-only, B=1, limit 0xFFF
%define SEL_ED16_3 0xC3         ; as SEL_ED16, DPL 3 (ring-3 stack)
%define SEL_ED32_3 0xCB         ; as SEL_ED32, DPL 3
%define EBASE 0x10000

; DESC32 sel, lo, hi: writes a descriptor into the GDT in RAM
%macro DESC32 3
        mov dword [GDT_BASE + ((%1) & 0xFFF8)], %2
        mov dword [GDT_BASE + ((%1) & 0xFFF8) + 4], %3
%endmacro

; The ring-3 part runs on the stacks under test, at their lowest valid
; offset: its checks must not push (CHKNS).

; EXPECT_SS {insn}: the instruction must raise #SS(0) with EIP at it
%macro EXPECT_SS 1
        mov dword [EXC_COUNT], 0
        mov dword [EXC_VEC], 0xFF
        mov dword [EXC_RESUME], %%resume
%%insn: %1
        CHKNS esp, -1                           ; no fault: always fails
%%resume:
        mov dword [EXC_RESUME], 0
        CHKNS dword [EXC_VEC], 12
        CHKNS dword [EXC_EIP], %%insn
        CHKNS dword [EXC_ERR], 0
        CHKNS dword [EXC_COUNT], 1
%endmacro

        bits 32
pm_main:
        PUTS32 `expdown: start\n`
        DESC32 SEL_ED16, 0x00000FFF, 0x00009601
        DESC32 SEL_ED32, 0x00000FFF, 0x00409601
        DESC32 SEL_ED32G, 0x00000001, 0x00C09601
        DESC32 SEL_EDRO, 0x00000FFF, 0x00409401
        DESC32 SEL_ED16_3, 0x00000FFF, 0x0000F601
        DESC32 SEL_ED32_3, 0x00000FFF, 0x0040F601
        lgdt [cs:gdt_desc]
        mov dword [EBASE + 0x1000], 0x11223344
        mov dword [EBASE + 0xFFFC], 0x55667788
        mov dword [EBASE + 0x2000], 0x99AABBCC
        mov dword [EBASE + 0x10000], 0xDDEEFF00
        mov dword [0xFFFC], 0x01020304          ; EBASE + 0xFFFFFFFC wraps here

        ; ---- B=0: offsets 0x1000..0xFFFF ----
        mov ax, SEL_ED16
        mov es, ax
        CHECK32 [es:0x1000], 0x11223344         ; lowest valid offset
        CHECK32 [es:0xFFFC], 0x55667788         ; highest dword
        mov ax, [es:0xFFFE]                     ; highest word
        mov al, [es:0xFFFF]                     ; highest byte
        mov dword [es:0x1000], 0x11223344       ; writable
        EXPECT_FAULT 13, 0, {mov al, [es:0xFFF]}        ; the limit itself
        EXPECT_FAULT 13, 0, {mov al, [es:0]}
        EXPECT_FAULT 13, 0, {mov eax, [es:0xFFE]}  ; straddles limit+1
        EXPECT_FAULT 13, 0, {mov [es:0xFFD], eax}
        EXPECT_FAULT 13, 0, {mov ax, [es:0xFFFF]}  ; straddles 0xFFFF
        EXPECT_FAULT 13, 0, {mov eax, [es:0xFFFD]}
        EXPECT_FAULT 13, 0, {mov al, [es:0x10000]}      ; above the B=0 bound
        EXPECT_FAULT 13, 0, {mov al, [es:0x12000]}

        ; ---- B=1: offsets 0x1000..0xFFFFFFFF ----
        mov ax, SEL_ED32
        mov es, ax
        CHECK32 [es:0x1000], 0x11223344
        CHECK32 [es:0xFFFC], 0x55667788
        CHECK32 [es:0x10000], 0xDDEEFF00        ; above 0xFFFF: valid with B=1
        CHECK32 [es:0xFFFFFFFC], 0x01020304     ; top dword (base + offset wraps)
        mov al, [es:0xFFFFFFFF]
        EXPECT_FAULT 13, 0, {mov al, [es:0xFFF]}
        EXPECT_FAULT 13, 0, {mov eax, [es:0xFFE]}  ; straddles limit+1
        EXPECT_FAULT 13, 0, {mov eax, [es:0xFFFFFFFE]}  ; straddles 0xFFFFFFFF
        EXPECT_FAULT 13, 0, {mov ax, [es:0xFFFFFFFF]}

        ; ---- B=1, G=1: the limit is 0x1FFF ----
        mov ax, SEL_ED32G
        mov es, ax
        CHECK32 [es:0x2000], 0x99AABBCC
        EXPECT_FAULT 13, 0, {mov al, [es:0x1FFF]}
        EXPECT_FAULT 13, 0, {mov eax, [es:0x1FFE]}

        ; ---- read-only expand-down ----
        mov ax, SEL_EDRO
        mov es, ax
        CHECK32 [es:0x1000], 0x11223344
        EXPECT_FAULT 13, 0, {mov [es:0x1000], eax}
        EXPECT_FAULT 13, SEL_EDRO, {mov ss, ax}
        EXPECT_FAULT 13, 0, {mov al, [es:0x800]}        ; below the limit
        xor eax, eax
        mov es, ax

        ; ---- stacks, at CPL 3 (the fault handler gets the ring-0 stack) ----
        SET_GATE 0x81, done, 0xEE
        SET_GATE CHK_FAIL_VEC, chk_failed, 0xEE
        IRET_TO SEL_CODE3, SEL_ED16_3, 0x1008, ring3

ring3:  mov ax, SEL_DATA3
        mov ds, ax
        mov es, ax
        ; B=0 expand-down stack, limit 0xFFF
        push dword 0xA1A1A1A1                   ; SP 0x1004
        push dword 0xB2B2B2B2                   ; SP 0x1000: lowest valid
        CHKNS esp, 0x1000
        CHKNS dword [EBASE + 0x1000], 0xB2B2B2B2
        EXPECT_SS {push dword 0xC3C3C3C3}  ; below limit+1: #SS(0)
        CHKNS esp, 0x1000  ; ESP unchanged
        CHKNS dword [EBASE + 0xFFC], 0
        mov esp, 0x1002
        EXPECT_SS {push dword 0xC3C3C3C3}  ; straddles limit+1
        CHKNS esp, 0x1002
        EXPECT_SS {mov eax, [ss:0xFFF]}
        EXPECT_SS {mov ax, [ss:0xFFFF]}  ; straddles 0xFFFF
        mov esp, 0                              ; SP wraps: push writes at 0xFFFE
        push word 0xBEEF
        CHKNS esp, 0xFFFE
        CHKNS word [EBASE + 0xFFFE], 0xBEEF
        pop ax
        CHKNS esp, 0  ; and back (SP only: ESP = 0)

        ; B=1 expand-down stack, limit 0xFFF
        mov ax, SEL_ED32_3
        mov ss, ax
        mov esp, 0x1008
        push dword 0xA1A1A1A1
        push dword 0xB2B2B2B2
        EXPECT_SS {push dword 0xC3C3C3C3}
        CHKNS esp, 0x1000
        mov esp, 0x20000
        push dword 0xD4D4D4D4                   ; far above 0xFFFF: fine
        CHKNS dword [EBASE + 0x1FFFC], 0xD4D4D4D4
        mov esp, 0                              ; ESP wraps to 0xFFFFFFFC
        push dword 0xE5E5E5E5
        CHKNS esp, 0xFFFFFFFC
        CHKNS dword [0xFFFC], 0xE5E5E5E5  ; linear EBASE + 0xFFFFFFFC
        mov esp, 0xFFFFFFFE
        EXPECT_SS {pop eax}  ; straddles 0xFFFFFFFF
        CHKNS esp, 0xFFFFFFFE
        int 0x81
        jmp fail32

done:   mov ax, SEL_DATA
        mov ds, ax
        mov es, ax
        mov esp, STACK_TOP
        PUTS32 `expdown: all checks passed\n`
        jmp pass32

gdt_desc:
        dw (SEL_ED32_3 & 0xFFF8) + 7
        dd GDT_BASE

%include "tail.inc"
