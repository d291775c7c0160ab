; Virtual-8086 mode (VME off): entry by IRET with VM set, real-mode
; addressing, INT n with IOPL 3 through a DPL 3 gate to a ring-0 handler
; (ES/DS/FS/GS pushed and nulled), and with IOPL < 3 the IOPL-sensitive
; instructions (CLI, STI, PUSHF, POPF, INT n, IRET) and privileged ones
; raising #GP(0) to the monitor with EIP at the instruction; port access
; through the TSS I/O bitmap. Hand-derived from the SDM.
%include "pmtest.inc"

%define V86_DS 0x0800               ; DS in v86 mode: offsets from 0x8000
%define V(addr) ((addr) - 0x8000)
%define NFAULTS 10

        bits 32
pm_main:
        PUTS32 `v86: start\n`
        mov edi, VAR0
        mov ecx, 0x40
        xor eax, eax
        rep stosd
        SET_GATE 0x21, h21, 0xEE
        SET_GATE 0x22, h22, 0xEE
        SET_GATE 6, v86_done, 0x8E
        push dword 0x3456                   ; GS
        push dword 0x2345                   ; FS
        push dword V86_DS                   ; DS
        push dword 0x1234                   ; ES
        push dword 0x0900                   ; SS
        push dword 0x0F00                   ; ESP
        push dword 0x23202                  ; EFLAGS: VM, IOPL 3, IF
        push dword 0xF000                   ; CS
        push dword v86code
        iret

h21:    ; entered from v86: EIP CS EFLAGS ESP SS ES DS FS GS on the stack
        mov eax, [esp + 20]
        mov [ss:VAR0 + 0x10], eax
        mov eax, [esp + 28]
        mov [ss:VAR0 + 0x14], eax
        mov eax, [esp + 32]
        mov [ss:VAR0 + 0x18], eax
        mov eax, [esp + 8]
        mov [ss:VAR0 + 0x1C], eax
        mov eax, [esp + 4]
        mov [ss:VAR0 + 0x20], eax
        mov eax, ds
        mov [ss:VAR0 + 0x24], eax
        mov eax, cs
        mov [ss:VAR0 + 0x28], eax
        mov eax, 0x2121
        iret

h22:    and dword [esp + 8], ~0x3000        ; IOPL 0 from now on
        mov dword [esp], phase_b
        iret

v86_done:
        mov ax, SEL_DATA
        mov ds, ax
        mov es, ax
        mov eax, [esp + 8]                  ; EFLAGS of the v86 code
        and eax, 0x23000
        CHECK32 eax, 0x20000
        CHECK32 [VAR0], 0x0001
        CHECK32 [VAR0 + 4], 0x2121          ; EAX set by the INT 0x21 handler
        CHECK32 [VAR0 + 0x10], 0x1234       ; ES pushed
        CHECK32 [VAR0 + 0x14], 0x2345
        CHECK32 [VAR0 + 0x18], 0x3456
        mov eax, [VAR0 + 0x1C]
        and eax, 0x23000
        CHECK32 eax, 0x23000                ; VM and IOPL 3 in the pushed EFLAGS
        CHECK32 [VAR0 + 0x20], 0xF000
        CHECK32 [VAR0 + 0x24], 0            ; DS nulled in the handler
        CHECK32 [VAR0 + 0x28], SEL_CODE32
        movzx eax, word [VAR0 + 8]
        and eax, 0x3000
        CHECK32 eax, 0x3000                 ; PUSHF with IOPL 3
        CHECK32 [VAR0 + 0x2C], 0xBEEF       ; ES:[0x50] = linear 0x12390
        CHECK32 [0x12390], 0xBEEF
        ; each IOPL-sensitive instruction: #GP(0) at its own IP
        xor ecx, ecx
.chk:   movzx eax, byte [VAR0 + 0x80 + ecx*8]
        CHECK32 eax, 13
        movzx eax, word [VAR0 + 0x80 + ecx*8 + 2]
        movzx ebx, word [VAR0 + 0x80 + ecx*8 + 4]
        CHECK32 eax, ebx
        movzx eax, word [VAR0 + 0x80 + ecx*8 + 6]
        CHECK32 eax, 0
        inc ecx
        cmp ecx, NFAULTS
        jb .chk
        PUTS32 `v86: all checks passed\n`
        jmp pass32

        bits 16
; V86_FAULT n, insn: the instruction must raise #GP(0); records vector,
; the expected and actual IP and the error code in slot n.
%macro V86_FAULT 2
        mov dword [V(EXC_RESUME)], %%r
        mov byte [V(VAR0) + 0x80 + %1*8], 0xEE
%%i:    %2
        jmp %%end
%%r:    mov al, [V(EXC_VEC)]
        mov [V(VAR0) + 0x80 + %1*8], al
        mov word [V(VAR0) + 0x80 + %1*8 + 2], %%i
        mov ax, [V(EXC_EIP)]
        mov [V(VAR0) + 0x80 + %1*8 + 4], ax
        mov ax, [V(EXC_ERR)]
        mov [V(VAR0) + 0x80 + %1*8 + 6], ax
%%end:
%endmacro

v86code:
        mov word [V(VAR0)], 1
        int 0x21
        mov [V(VAR0) + 4], ax
        cli
        sti
        pushf
        pop ax
        mov [V(VAR0) + 8], ax
        mov al, 'v'
        out DEBUG_PORT, al                  ; allowed by the bitmap
        mov al, 10
        out DEBUG_PORT, al
        mov ax, 0x1234
        mov es, ax
        mov word [es:0x50], 0xBEEF          ; 0x12340 + 0x50
        mov ax, [es:0x50]
        mov [V(VAR0) + 0x2C], ax
        int 0x22                            ; -> IOPL 0, continue at phase_b
        ud2

phase_b:
        V86_FAULT 0, cli
        V86_FAULT 1, sti
        V86_FAULT 2, pushf
        V86_FAULT 3, popf
        V86_FAULT 4, {int 0x21}
        V86_FAULT 5, iret
        V86_FAULT 6, {in al, 0x60}
        V86_FAULT 7, hlt
        V86_FAULT 8, {mov eax, cr0}
        V86_FAULT 9, {lgdt [0x100]}
        ud2                                 ; #UD -> v86_done

%include "tail.inc"
