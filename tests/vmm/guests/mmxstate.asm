; MMX and the x87 state it shares (SDM vol. 1, 9.5-9.6): CPUID.1 EDX bit 23;
; an MMX instruction leaves TOP 0 and every tag valid, and writes the
; register's exponent as all ones (seen through FNSTENV and FNSAVE); EMMS
; empties every tag; CR0.EM raises #UD and CR0.TS #NM; a pending unmasked
; x87 exception raises #MF at an MMX instruction (CR0.NE); the MOVQ store
; is checked whole before it writes; IA32_MISC_ENABLE reads. Hand-derived.
%include "pmtest.inc"

%define ENV (VAR0 + 0x20)
%define SAVE 0x9000

        bits 32
pm_main:
        PUTS32 `mmxstate: start\n`
        mov eax, cr0
        and eax, ~0x0C                      ; EM, TS off
        or eax, 0x20                        ; NE: #MF, not FERR#
        mov cr0, eax
        fninit
        mov eax, 1
        cpuid
        shr edx, 23
        and edx, 1
        CHECK32 edx, 1
        mov ecx, 0x1A0                      ; IA32_MISC_ENABLE
        rdmsr
%ifndef QEMU_DIFF   ; QEMU reports more bits of its own
        CHECK32 eax, 1                      ; fast strings
%endif

        ; ---- the shared state ----
        fld1                                ; TOP 7, one tag valid
        mov dword [VAR0], 0x11223344
        mov dword [VAR0 + 4], 0x55667788
        movq mm2, [VAR0]
        fnstenv [ENV]
        movzx eax, word [ENV + 4]
        shr eax, 11
        and eax, 7
        CHECK32 eax, 0                      ; TOP
        movzx eax, word [ENV + 8]           ; no tag empty (11): FNSTENV may
        mov edx, eax                        ; show a register's class (zero,
        shr edx, 1                          ; special) instead of valid
        and eax, edx
        and eax, 0x5555
        CHECK32 eax, 0
        fnsave [SAVE]                       ; st(i) = R(i) with TOP 0
        CHECK32 [SAVE + 28 + 2 * 10], 0x11223344
        CHECK32 [SAVE + 28 + 2 * 10 + 4], 0x55667788
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG leaves the exponent as it was
        movzx eax, word [SAVE + 28 + 2 * 10 + 8]
        CHECK32 eax, 0xFFFF                 ; sign and exponent all ones
%endif
        movq mm0, [VAR0]
        emms
        fnstenv [ENV]
        movzx eax, word [ENV + 8]
        CHECK32 eax, 0xFFFF                 ; every tag empty

        ; ---- faults ----
        mov eax, cr0
        or eax, 0x04                        ; EM
        mov cr0, eax
        EXPECT_FAULT 6, -1, {paddb mm0, mm1}
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG runs EMMS with CR0.EM set (SDM: #UD)
        EXPECT_FAULT 6, -1, {emms}
%endif
        and eax, ~0x04
        or eax, 0x08                        ; TS
        mov cr0, eax
        EXPECT_FAULT 7, -1, {movq mm0, mm1}
        clts
        fninit
        mov word [VAR0], 0x037B             ; zero divide unmasked
        fldcw [VAR0]
        fldz
        fld1
        fdiv st0, st1                       ; pending #Z
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG does not check for it (SDM: #MF)
        EXPECT_FAULT 16, -1, {paddb mm0, mm1}
%endif
        fnclex
        fninit
%ifndef QEMU_DIFF   ; QEMU TCG does not check data segment limits
        ; MOVQ to memory whose second half is beyond the segment limit:
        ; #GP and the first half unchanged
        mov dword [0x0FF8], 0xAAAAAAAA
        mov ax, SEL_SMALL                   ; limit 0xFFF
        mov es, ax
        EXPECT_FAULT 13, 0, {movq [es:0x0FFC], mm2}
        mov ax, SEL_DATA
        mov es, ax
        CHECK32 [0x0FFC], 0
%endif
        emms
        PUTS32 `mmxstate: all checks passed\n`
        jmp pass32

%include "tail.inc"
