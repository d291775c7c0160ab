; The interrupt shadow of STI: an interrupt already pending when STI sets
; IF waits until the next instruction completes. Here that instruction is
; INT 0x21 through an interrupt gate (IF cleared), so the pending IRQ 0
; (the PIT's one-shot count, taken while IF was clear; vector 0x40 through
; the 8259) comes only at that handler's IRET. Order expected: INT 0x21's
; handler first, then the IRQ (SDM: STI).
%include "pmtest.inc"

%define SEQ (VAR0 + 0x40)
%define AT_INT21 (VAR0 + 0x44)
%define AT_IRQ (VAR0 + 0x48)

        bits 32
pm_main:
        PUTS32 `intshadow: start\n`
        SET_GATE 0x21, int21, 0x8E
        SET_GATE 0x40, irq0, 0x8E
        mov dword [SEQ], 1
        mov dword [AT_INT21], 0
        mov dword [AT_IRQ], 0
        cli
        ; A P6 with a local APIC (QEMU's PC) passes the 8259's output only
        ; through LINT0 programmed as ExtINT; vmm's bare machine has none.
        mov dword [0xFEE000F0], 0x1FF       ; APIC software enable
        mov dword [0xFEE00350], 0x700       ; LINT0: ExtINT, unmasked
        mov al, 0x11                        ; 8259: ICW1, edge, cascade, ICW4
        out 0x20, al
        mov al, 0x40                        ; ICW2: IRQ 0-7 -> vectors 0x40-0x47
        out 0x21, al
        mov al, 0x04                        ; ICW3: slave on IRQ 2
        out 0x21, al
        mov al, 0x01                        ; ICW4: 8086 mode
        out 0x21, al
        mov al, 0xFE                        ; only IRQ 0
        out 0x21, al
        mov al, 0x30                        ; PIT channel 0, lo/hi, mode 0: one shot
        out 0x43, al
        mov al, 20
        out 0x40, al
        xor al, al
        out 0x40, al
        mov al, 0x0A                        ; OCW3: read IRR
        out 0x20, al
.wait:  in al, 0x20                         ; until IRQ 0 is pending (IF clear)
        test al, 1
        jz .wait
        CHECK32 [AT_IRQ], 0
        sti
        int 0x21
        mov ecx, 1000                       ; time for a lazy interrupt check
.idle:  loop .idle
        cli
        CHECK32 [AT_INT21], 1
        CHECK32 [AT_IRQ], 2
        PUTS32 `intshadow: all checks passed\n`
        jmp pass32

int21:  push eax
        mov eax, [SEQ]
        mov [AT_INT21], eax
        inc dword [SEQ]
        pop eax
        iret

irq0:   push eax
        mov eax, [SEQ]
        mov [AT_IRQ], eax
        inc dword [SEQ]
        mov al, 0x20                        ; EOI
        out 0x20, al
        pop eax
        iret

%include "tail.inc"
