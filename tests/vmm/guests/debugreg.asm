; Debug registers: an instruction breakpoint is a fault before the
; instruction (DR6.B0), RF set in the frame lets it run once; data
; breakpoints are traps after the access (write-only and read/write kinds,
; lengths), single-step and breakpoints report through DR6. Hand-derived.
%include "pmtest.inc"

%define M 0x9000

        bits 32
pm_main:
        PUTS32 `debugreg: start\n`
        ; ---- instruction breakpoint: fault, EIP at the instruction ----
        mov dword [EXC_COUNT], 0
        mov dword [EXC_RESUME], .r1
        mov eax, .bp1 + 0xF0000             ; linear address (CS base F0000)
        mov dr0, eax
        mov eax, 0x00000001                 ; L0, execute, length 1
        mov dr7, eax
        nop
.bp1:   nop
        jmp fail32
.r1:    mov dword [EXC_RESUME], 0
        CHECK32 [EXC_VEC], 1
        CHECK32 [EXC_EIP], .bp1
        mov eax, dr6
        and eax, 0x400F
        CHECK32 eax, 0x0001

        ; ---- RF: the handler sets RF, the instruction then runs once ----
        SET_GATE 1, rf_handler, 0x8E
        mov dword [VAR0], 0
        mov eax, .bp2 + 0xF0000
        mov dr0, eax
        xor ebx, ebx
        mov ecx, 2
.loop:
.bp2:   inc ebx
        loop .loop
        CHECK32 ebx, 2
        CHECK32 [VAR0], 2                   ; one #DB per pass
        xor eax, eax
        mov dr7, eax
        SET_GATE 1, exc_stub_1, 0x8E

        ; ---- data breakpoint on writes (R/W=01, 4 bytes at M) ----
        mov eax, M
        mov dr1, eax
        mov eax, 0x00D00004                 ; L1, write, length 4
        mov dr7, eax
        mov eax, [M]                        ; a read: no trap
        mov dword [EXC_COUNT], 0
        mov dword [EXC_RESUME], 0
        mov byte [M + 2], 1                 ; a write inside the range: trap after it
.after_w:
        CHECK32 [EXC_COUNT], 1
        CHECK32 [EXC_VEC], 1
        CHECK32 [EXC_EIP], .after_w
        mov eax, dr6
        and eax, 0xF
        CHECK32 eax, 0x2
        mov dword [EXC_COUNT], 0
        mov byte [M + 4], 1                 ; outside: no trap
        CHECK32 [EXC_COUNT], 0

        ; ---- data breakpoint on reads and writes (R/W=11, 2 bytes) ----
        mov eax, M + 0x10
        mov dr2, eax
        mov eax, 0x07000010                 ; L2, read/write, length 2
        mov dr7, eax
        mov dword [EXC_COUNT], 0
        mov eax, [M + 0x0E]                 ; dword overlapping M+0x10
.after_r:
        CHECK32 [EXC_COUNT], 1
        CHECK32 [EXC_EIP], .after_r
        mov eax, dr6
        and eax, 0xF
        CHECK32 eax, 0x4
        xor eax, eax
        mov dr7, eax
        mov dword [EXC_COUNT], 0
        mov eax, [M + 0x10]                 ; disabled: no trap
        CHECK32 [EXC_COUNT], 0
        PUTS32 `debugreg: all checks passed\n`
        jmp pass32

rf_handler:
        inc dword [VAR0]
        or dword [esp + 8], 0x10000         ; RF in the pushed EFLAGS
        iret

%include "tail.inc"
