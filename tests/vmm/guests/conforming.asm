; Conforming code segments (SDM vol. 3 5.8.1.2, JMP/CALL/RET/IRET/INT
; pseudo-code): a far JMP/CALL from CPL 3 into a conforming segment of
; DPL 0 keeps CPL 3 and sets CS.RPL to the CPL (the selector's RPL is
; ignored); a non-conforming target with DPL != CPL is #GP(selector); a
; conforming target with DPL > CPL is #GP(selector); RETF/IRET back; an
; interrupt gate to conforming code runs the handler at the caller's CPL
; on the caller's stack; a conforming readable code selector loads into a
; data segment register at any CPL (no privilege check), an execute-only
; one does not, nor does code into SS; a return to an outer level keeps a
; conforming code segment in DS and nulls a DPL 0 data segment.
; Expected values derived by hand from the SDM.
%include "pmtest.inc"

%define SEL_CONF0 0xA0      ; conforming, readable, DPL 0, 32-bit
%define SEL_CONF3 0xA8      ; conforming, readable, DPL 3, 32-bit
%define SEL_CONFX 0xB0      ; conforming, execute-only, DPL 0
%define SEL_CONFGATE 0xBB   ; 32-bit call gate, DPL 3 -> SEL_CONF0:conf_where
%define SEL_CODE3_RPL0 (SEL_CODE3 & 0xFFFC)

        bits 32
pm_main:
        PUTS32 `conforming: start\n`
        mov dword [GDT_BASE + SEL_CONF0], 0x0000FFFF
        mov dword [GDT_BASE + SEL_CONF0 + 4], 0x00CF9E0F
        mov dword [GDT_BASE + SEL_CONF3], 0x0000FFFF
        mov dword [GDT_BASE + SEL_CONF3 + 4], 0x00CFFE0F
        mov dword [GDT_BASE + SEL_CONFX], 0x0000FFFF
        mov dword [GDT_BASE + SEL_CONFX + 4], 0x00CF9C0F
        mov eax, conf_where
        mov word [GDT_BASE + SEL_CONFGATE - 3], ax
        mov word [GDT_BASE + SEL_CONFGATE - 3 + 2], SEL_CONF0
        mov word [GDT_BASE + SEL_CONFGATE - 3 + 4], 0xEC00
        shr eax, 16
        mov word [GDT_BASE + SEL_CONFGATE - 3 + 6], ax
        lgdt [cs:gdt_desc]

        ; ---- CPL 0 ----
        call SEL_CONF0:conf_where               ; DPL 0 = CPL: entered
        CHECK32 eax, SEL_CONF0
        call (SEL_CONF0 | 3):conf_where         ; RPL ignored, CS.RPL = CPL
        CHECK32 eax, SEL_CONF0
        EXPECT_FAULT 13, SEL_CONF3, {jmp SEL_CONF3:conf_where}      ; DPL 3 > CPL 0
        EXPECT_FAULT 13, SEL_CONF3, {call SEL_CONF3:conf_where}
        EXPECT_FAULT 13, SEL_CODE3_RPL0, {jmp SEL_CODE3_RPL0:conf_where}  ; non-conforming DPL 3
        EXPECT_FAULT 13, SEL_CODE3_RPL0, {call SEL_CODE3:conf_where}
        EXPECT_FAULT 13, SEL_CODE32_DPL1, {jmp SEL_CODE32_DPL1:conf_where}
        ; RETF / IRET at CPL 0 to a conforming DPL 3 segment with RPL 0:
        ; DPL > RPL is #GP(selector)
        push dword SEL_CONF3
        push dword conf_where
        EXPECT_FAULT 13, SEL_CONF3, {retf}
        add esp, 8
        pushfd
        push dword SEL_CONF3
        push dword conf_where
        EXPECT_FAULT 13, SEL_CONF3, {iretd}
        add esp, 12
        ; data segment registers
        mov ax, SEL_CONF3 | 3
        mov gs, ax                              ; readable conforming: fine
        mov ax, SEL_CONFX
        EXPECT_FAULT 13, SEL_CONFX, {mov gs, ax}    ; execute-only
        mov ax, SEL_CONF0
        EXPECT_FAULT 13, SEL_CONF0, {mov ss, ax}    ; code into SS
        xor eax, eax
        mov gs, ax

        ; ---- into ring 3 ----
        SET_GATE 0x80, int80, 0xEE              ; DPL 3, ring-0 handler
        SET_GATE 0x81, back_to_ring0, 0xEE
        mov eax, conf_int                       ; 0x83: DPL 3 gate to conforming code
        mov word [IDT_BASE + 0x83*8], ax
        mov word [IDT_BASE + 0x83*8 + 2], SEL_CONF0
        mov word [IDT_BASE + 0x83*8 + 4], 0xEE00
        shr eax, 16
        mov word [IDT_BASE + 0x83*8 + 6], ax
        IRET_TO SEL_CODE3, SEL_DATA3, STACK3_TOP, ring3

ring3:  mov ax, SEL_DATA3
        mov ds, ax
        mov es, ax
        ; JMP into conforming DPL 0 with RPL 0: CPL stays 3
        jmp SEL_CONF0:r3_conf
r3_conf:
        mov eax, cs
        CHECK32 eax, SEL_CONF0 | 3
        mov eax, ss
        CHECK32 eax, SEL_DATA3                  ; no stack switch
        EXPECT_FAULT 13, 0, {cli}               ; still CPL 3 (IOPL 0)
        EXPECT_FAULT 13, 0, {mov eax, cr0}
        mov ax, SEL_DATA                        ; DPL 0 data: refused at CPL 3
        EXPECT_FAULT 13, SEL_DATA, {mov fs, ax}
        jmp SEL_CODE3:r3_back                   ; back to non-conforming DPL 3
r3_back:
        mov eax, cs
        CHECK32 eax, SEL_CODE3

        ; far CALL into conforming DPL 0: same stack, CS:EIP pushed, RETF back
        mov ebx, esp
        call SEL_CONF0:conf_sub
r3_ret: CHECK32 [VAR0], SEL_CONF0 | 3
        lea edx, [ebx - 8]
        CHECK32 [VAR0 + 4], edx
        CHECK32 [VAR0 + 8], SEL_CODE3
        CHECK32 [VAR0 + 12], r3_ret
        mov eax, esp
        CHECK32 eax, ebx
        mov eax, cs
        CHECK32 eax, SEL_CODE3
        call SEL_CONF3:conf_where               ; conforming DPL 3, RPL 0
        CHECK32 eax, SEL_CONF3 | 3
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG sets CS.RPL to the target's DPL (0) here
        ; a DPL 3 call gate to conforming DPL 0 code: no stack switch,
        ; CS.RPL = CPL = 3 (SDM CALL, SAME-PRIVILEGE)
        mov ebx, esp
        call SEL_CONFGATE:0
        CHECK32 eax, SEL_CONF0 | 3
        mov eax, esp
        CHECK32 eax, ebx
%endif

        ; non-conforming code with DPL != CPL: #GP(selector)
        EXPECT_FAULT 13, SEL_CODE32, {jmp SEL_CODE32:conf_where}
        EXPECT_FAULT 13, SEL_CODE32, {call SEL_CODE32:conf_where}
        EXPECT_FAULT 13, SEL_CODE32_DPL1, {jmp (SEL_CODE32_DPL1 | 3):conf_where}
        EXPECT_FAULT 13, SEL_CODE32_DPL1, {call (SEL_CODE32_DPL1 | 3):conf_where}
        ; RETF to a return selector with RPL < CPL: #GP(selector)
        push dword SEL_CONF0
        push dword r3_back
        EXPECT_FAULT 13, SEL_CONF0, {retf}
        add esp, 8

        ; an interrupt gate to conforming code: handler at CPL 3, same stack
        mov ebx, esp
        int 0x83
        CHECK32 [VAR0 + 16], SEL_CONF0 | 3
        CHECK32 [VAR0 + 20], SEL_CODE3
        lea edx, [ebx - 12]
        CHECK32 [VAR0 + 24], edx
        mov eax, esp
        CHECK32 eax, ebx

        ; data segment loads at CPL 3
        mov ax, SEL_CONF0                       ; DPL 0 < CPL, RPL 0: conforming, allowed
        mov fs, ax
        CHECK32 [fs:conf_magic], 0xC0F0C0F0     ; reads the code bytes
        mov ax, SEL_CONF0 | 3
        mov gs, ax
        mov ax, SEL_CODE3                       ; non-conforming readable DPL 3
        mov gs, ax
        mov ax, SEL_CONFX
        EXPECT_FAULT 13, SEL_CONFX, {mov gs, ax}    ; execute-only
        mov ax, SEL_CODE32
        EXPECT_FAULT 13, SEL_CODE32, {mov gs, ax}   ; non-conforming, DPL 0 < CPL
        mov ax, SEL_CONF0 | 3
        EXPECT_FAULT 13, SEL_CONF0, {mov ss, ax}
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG does not check segment rights on data accesses
        EXPECT_FAULT 13, 0, {mov [fs:0x9000], eax}  ; code is never writable
%endif

        ; LAR/VERR see conforming code at any CPL, not DPL 0 non-conforming
        mov cx, SEL_CONF0
        lar ebx, cx
        CHECK_ZF 1
        and ebx, 0x00F0FE00                     ; (without the accessed bit)
        CHECK32 ebx, 0x00C09E00
        verr cx
        CHECK_ZF 1
        mov cx, SEL_CONFX
        verr cx                                 ; execute-only
        CHECK_ZF 0
        mov cx, SEL_CODE32
        lar ebx, cx
        CHECK_ZF 0

        ; conforming code at CPL 3 -> ring-0 handler -> IRET back outward:
        ; the handler left DS = conforming code (kept), ES = DPL 0 data (nulled)
        jmp SEL_CONF0:r3_conf2
r3_conf2:
        mov ebx, esp
        int 0x80
        mov eax, cs
        CHECK32 eax, SEL_CONF0 | 3
        mov eax, esp
        CHECK32 eax, ebx
        mov eax, ss
        CHECK32 eax, SEL_DATA3
        mov eax, ds
        CHECK32 eax, SEL_CONF0
        mov eax, es
        CHECK32 eax, 0
        mov ax, SEL_DATA3
        mov ds, ax
        mov es, ax
        CHECK32 [VAR0 + 28], SEL_CONF0 | 3      ; the CS the handler saw pushed
        int 0x81
        jmp fail32

; returns the CS it ran with in EAX
conf_where:
        mov eax, cs
        retf

conf_sub:
        mov eax, cs
        mov [VAR0], eax
        mov [VAR0 + 4], esp
        mov eax, [esp + 4]
        mov [VAR0 + 8], eax
        mov eax, [esp]
        mov [VAR0 + 12], eax
        retf

conf_int:
        push eax
        mov eax, cs
        mov [VAR0 + 16], eax
        mov eax, [esp + 8]
        mov [VAR0 + 20], eax
        lea eax, [esp + 4]
        mov [VAR0 + 24], eax
        pop eax
        iretd

int80:  mov ax, SEL_DATA
        mov ds, ax
        mov eax, [esp + 4]
        mov [VAR0 + 28], eax
        mov ax, SEL_CONF0
        mov ds, ax
        mov ax, SEL_DATA
        mov es, ax
        iretd

back_to_ring0:
        mov ax, SEL_DATA
        mov ds, ax
        mov es, ax
        mov esp, STACK_TOP
        PUTS32 `conforming: all checks passed\n`
        jmp pass32

        align 4
conf_magic:
        dd 0xC0F0C0F0
gdt_desc:
        dw SEL_CONFGATE - 3 + 7
        dd GDT_BASE

%include "tail.inc"
