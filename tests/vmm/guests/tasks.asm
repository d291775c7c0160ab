; Hardware task switching: CALL to a TSS and IRET back through the back
; link (NT), JMP through a task gate and back, INT through an IDT task
; gate; busy bits, NT, the back link, saved registers, LDTR from the TSS.
; Expected values are derived by hand from the SDM.
%include "pmtest.inc"

%define GDT_TYPE(sel) byte [GDT_BASE + (sel) + 5]

        bits 32
pm_main:
        PUTS32 `tasks: start\n`
        mov dword [TSS1 + 32], task1        ; EIP
        mov dword [TSS1 + 36], 0x2          ; EFLAGS
        mov dword [TSS1 + 56], STACK_T1_TOP ; ESP
        mov dword [TSS1 + 72], SEL_DATA     ; ES
        mov dword [TSS1 + 76], SEL_CODE32   ; CS
        mov dword [TSS1 + 80], SEL_DATA     ; SS
        mov dword [TSS1 + 84], SEL_DATA     ; DS
        mov dword [TSS1 + 88], SEL_DATA     ; FS
        mov dword [TSS1 + 92], SEL_DATA     ; GS
        mov dword [TSS1 + 96], SEL_LDT      ; LDT
        mov dword [TSS1 + 40], 0x11111111   ; EAX
        mov word [IDT_BASE + 0x50*8 + 2], SEL_TSS1      ; IDT task gate
        mov word [IDT_BASE + 0x50*8 + 4], 0x8500

        ; 1. CALL to the TSS: task 1 runs with NT and the back link set
        mov eax, 0xAAAA0000
        mov esi, 0x5151
        call SEL_TSS1:0
        ; back from task 1's IRET: our registers come from TSS0
        CHECK32 eax, 0xAAAA0000
        CHECK32 esi, 0x5151
        CHECK32 [VAR0], 1
        mov al, GDT_TYPE(SEL_TSS1)
        and eax, 0x0F
        CHECK32 eax, 0x9                    ; task 1 no longer busy
        CHECK32 [TSS1 + 40], 0x22222222     ; task 1's EAX was saved
        xor eax, eax
        str ax
        CHECK32 eax, SEL_TSS0

        ; 2. JMP through a task gate: no NT, no back link, old TSS not busy
        mov dword [VAR0], 0
        jmp SEL_TASKGATE:0
after_jmp:
        CHECK32 [VAR0], 2
        pushfd
        pop eax
        test eax, 0x4000
        jnz fail32

        ; 3. INT through an IDT task gate, IRET back
        int 0x50
        CHECK32 [VAR0], 3
        mov al, GDT_TYPE(SEL_TSS0)
        and eax, 0x0F
        CHECK32 eax, 0xB                    ; we are busy again
        xor eax, eax
        sldt ax
        CHECK32 eax, 0                      ; our LDTR (from TSS0: null)
        PUTS32 `tasks: all checks passed\n`
        jmp pass32

task1:  ; first entry: from CALL
        pushfd
        pop eax
        test eax, 0x4000                    ; NT
        jz fail32
        CHECK32 [TSS1], SEL_TSS0            ; back link
        mov al, GDT_TYPE(SEL_TSS0)
        and eax, 0x0F
        CHECK32 eax, 0xB                    ; caller stays busy
        mov al, GDT_TYPE(SEL_TSS1)
        and eax, 0x0F
        CHECK32 eax, 0xB
        xor eax, eax
        sldt ax
        CHECK32 eax, SEL_LDT
        CHECK32 [TSS0 + 64], 0x5151         ; caller's ESI saved in TSS0
        mov dword [VAR0], 1
        mov eax, 0x22222222
        iret
        ; second entry: from JMP through the task gate
        pushfd
        pop eax
        test eax, 0x4000
        jnz fail32
        mov al, GDT_TYPE(SEL_TSS0)
        and eax, 0x0F
        CHECK32 eax, 0x9                    ; JMP cleared the old task's busy bit
        mov dword [VAR0], 2
        mov dword [TSS0 + 32], after_jmp    ; (already there: saved EIP)
        jmp SEL_TSS0:0
        ; third entry: INT 0x50 through the task gate
        pushfd
        pop eax
        test eax, 0x4000
        jz fail32
        CHECK32 [TSS1], SEL_TSS0
        mov dword [VAR0], 3
        iret
        jmp fail32

%include "tail.inc"
