; Stack instructions at their edges: PUSHA/PUSHAD store the stack pointer
; from before the first push (32- and 16-bit stacks, both operand sizes);
; a 32-bit POP SS from a 16-bit stack moves SP by the old stack's size and
; keeps the upper half of ESP.
; Expected values derived by hand from the SDM (PUSHA: "Temp <- (ESP)").
%include "pmtest.inc"

        bits 32
pm_main:
        PUTS32 `stackops: start\n`
        mov ebp, esp

        ; ---- PUSHAD / PUSHA on a 32-bit stack ----
        mov esp, 0x9000
        pushad
        mov ebx, esp
        mov esp, ebp
        CHECK32 ebx, 0x9000 - 32
        CHECK32 [0x9000 - 20], 0x9000       ; the ESP slot
        mov esp, 0x9000
        pushaw
        mov ebx, esp
        mov esp, ebp
        CHECK32 ebx, 0x9000 - 16
        movzx eax, word [0x9000 - 10]       ; the SP slot
        CHECK32 eax, 0x9000

        ; ---- PUSHAD / PUSHA on a 16-bit stack: SP wraps, ESP's upper half stays ----
        mov ax, SEL_DATA16
        mov ss, ax
        mov esp, 0xABCD1000
        pushad
        mov ebx, esp
        pushaw
        mov ecx, esp
        mov ax, SEL_DATA
        mov ss, ax
        mov esp, ebp
        CHECK32 ebx, 0xABCD0FE0
        CHECK32 [0x1000 - 20], 0xABCD1000   ; the whole ESP, as it was
        CHECK32 ecx, 0xABCD0FD0
        movzx eax, word [0x0FE0 - 10]
        CHECK32 eax, 0x0FE0

        ; ---- o32 POP SS from a 16-bit stack to a 32-bit SS ----
        mov ax, SEL_DATA16
        mov ss, ax
        mov esp, 0xABCD1000
        push dword SEL_DATA                 ; 16-bit stack: SP 0x0FFC
        pop ss                              ; new SS is 32-bit; SP += 4 as a 16-bit stack
        mov ebx, esp
        mov esp, ebp
        CHECK32 ebx, 0xABCD1000

        PUTS32 `stackops: all checks passed\n`
        jmp pass32

%include "tail.inc"
