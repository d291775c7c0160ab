; Faults during a task switch's segment loads (SDM vol. 3 7.3, table 7-1):
; a JMP to a TSS whose LDT, CS, SS or data selectors are invalid raises
; #TS(selector) (#SS / #NP for a stack / data segment that is not present)
; after the old state was saved and the new one loaded, so the exception
; belongs to the NEW task: TR is the new TSS (busy), the old TSS is free
; again (JMP), and the handler, reached through a task gate as the SDM
; advises, finds the new task as its back link with the new task's EIP and
; registers saved in its TSS. Then a JMP/CALL to the still-busy TSS, also
; through a task gate, is #GP(TSS selector) in the old task, and a valid
; switch to it works once its busy bit is cleared; an IRET with NT set to
; a back link that is not busy is #TS(back link) in the old task.
; Expected values derived by hand from the SDM.
%include "pmtest.inc"

%define SEL_TSS_H10 0xA0        ; handler tasks for #TS, #NP, #SS
%define SEL_TSS_H11 0xA8
%define SEL_TSS_H12 0xB0
%define TSS_H10 0x6400
%define TSS_H11 0x6480
%define TSS_H12 0x6500
%define H_VEC VAR0
%define H_ERR VAR0 + 4
%define H_LINK VAR0 + 8
%define H_EIP VAR0 + 12
%define H_EAX VAR0 + 16
%define H_TYPE VAR0 + 20
%define H_T0TYPE VAR0 + 24
%define H_COUNT VAR0 + 28
%define H_FLAGS VAR0 + 32
%define T1_RAN VAR0 + 36
%define T1_EAX 0x7A5C0DE

; BAD_TASK offset, selector, vector, error: a JMP to TSS1 whose selector
; field at offset is replaced must end in the handler for vector.
%macro BAD_TASK 4
        call reset_task1
        mov word [TSS1 + (%1)], %2
        mov dword [H_COUNT], 0
        jmp SEL_TSS1:0
        ; resumed here by the handler's JMP back to TSS0
        CHECK32 [H_COUNT], 1
        CHECK32 [H_VEC], %3
        CHECK32 [H_ERR], %4
        CHECK32 [H_LINK], SEL_TSS1      ; faulted inside the new task
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG saves the old task's EIP (of the JMP) as the new task's
        CHECK32 [H_EIP], task1          ; which had not run an instruction
%endif
        CHECK32 [H_EAX], T1_EAX         ; its registers were loaded
        CHECK32 [H_TYPE], 0x8B          ; TSS1 busy
        CHECK32 [H_T0TYPE], 0x89        ; TSS0 released by the JMP
        mov eax, [H_FLAGS]
        and eax, 0x4000
        CHECK32 eax, 0x4000             ; the handler task is nested (NT)
        CHECK32 [T1_RAN], 0
        xor eax, eax
        str ax
        CHECK32 eax, SEL_TSS0
%endmacro

        bits 32
pm_main:
        PUTS32 `taskfaults: start\n`
        mov dword [GDT_BASE + SEL_TSS_H10], (TSS_H10 << 16) | 0x67
        mov dword [GDT_BASE + SEL_TSS_H10 + 4], 0x00008900
        mov dword [GDT_BASE + SEL_TSS_H11], (TSS_H11 << 16) | 0x67
        mov dword [GDT_BASE + SEL_TSS_H11 + 4], 0x00008900
        mov dword [GDT_BASE + SEL_TSS_H12], (TSS_H12 << 16) | 0x67
        mov dword [GDT_BASE + SEL_TSS_H12 + 4], 0x00008900
        lgdt [cs:gdt_desc]

        ; faults found before the switch belong to the old task
        EXPECT_FAULT 10, SEL_TSSSMALL, {jmp SEL_TSSSMALL:0}     ; limit < 0x67
        EXPECT_FAULT 13, SEL_TSS1 | 4, {jmp far [cs:farptr_ldt]} ; TSS in the LDT

        ; handler tasks, entered through IDT task gates
        mov edi, TSS_H10
        mov eax, h10
        mov ebx, 0x7D00
        call init_tss
        mov edi, TSS_H11
        mov eax, h11
        mov ebx, 0x7E00
        call init_tss
        mov edi, TSS_H12
        mov eax, h12
        mov ebx, 0x7F00
        call init_tss
        mov dword [IDT_BASE + 10*8], SEL_TSS_H10 << 16
        mov dword [IDT_BASE + 10*8 + 4], 0x8500
        mov dword [IDT_BASE + 11*8], SEL_TSS_H11 << 16
        mov dword [IDT_BASE + 11*8 + 4], 0x8500
        mov dword [IDT_BASE + 12*8], SEL_TSS_H12 << 16
        mov dword [IDT_BASE + 12*8 + 4], 0x8500

        BAD_TASK 96, SEL_DATA, 10, SEL_DATA             ; LDT: not an LDT descriptor
        BAD_TASK 96, SEL_LDT | 4, 10, SEL_LDT | 4       ; LDT: selector in the LDT
        BAD_TASK 96, 0x1000, 10, 0x1000                 ; LDT: beyond the GDT limit
        BAD_TASK 76, SEL_DATA, 10, SEL_DATA             ; CS: not code
        BAD_TASK 76, SEL_CODE3 & 0xFFFC, 10, SEL_CODE3 & 0xFFFC ; CS: DPL 3 != RPL 0
        BAD_TASK 76, SEL_TSS0, 10, SEL_TSS0             ; CS: system descriptor
        BAD_TASK 80, SEL_DATA3 & 0xFFFC, 10, SEL_DATA3 & 0xFFFC ; SS: DPL 3 != CPL 0
        BAD_TASK 80, SEL_RODATA, 10, SEL_RODATA         ; SS: not writable
        BAD_TASK 80, SEL_DATA | 3, 10, SEL_DATA         ; SS: RPL 3 != CPL 0
        BAD_TASK 80, SEL_CODE32, 10, SEL_CODE32         ; SS: code
        BAD_TASK 80, 0, 10, 0                           ; SS: null
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG raises #NP for it (table 7-1: #SS)
        BAD_TASK 80, SEL_NOTPRESENT, 12, SEL_NOTPRESENT ; SS: not present -> #SS
%endif
        BAD_TASK 84, SEL_NOTPRESENT, 11, SEL_NOTPRESENT ; DS: not present -> #NP
        BAD_TASK 84, SEL_TSS0, 10, SEL_TSS0             ; DS: system descriptor
        BAD_TASK 72, 0x1000, 10, 0x1000                 ; ES: beyond the GDT limit

        ; TSS1 is left busy by the last fault: switching to it is #GP(TSS1)
        EXPECT_FAULT 13, SEL_TSS1, {jmp SEL_TSS1:0}
        EXPECT_FAULT 13, SEL_TSS1, {call SEL_TSS1:0}
        EXPECT_FAULT 13, SEL_TSS1, {jmp SEL_TASKGATE:0}
        xor eax, eax
        str ax
        CHECK32 eax, SEL_TSS0
        mov al, [GDT_BASE + SEL_TSS1 + 5]
        CHECK32 eax, 0x8B
        ; IRET with NT set to a back link that is not busy: #TS(back link),
        ; in the old task (recorded by the ordinary #TS gate again)
        SET_GATE 10, exc_stub_10, 0x8E
        call reset_task1
        mov word [TSS0], SEL_TSS1
        pushfd
        or dword [esp], 0x4000
        popfd
        EXPECT_FAULT 10, SEL_TSS1, {iretd}
        pushfd
        and dword [esp], ~0x4000
        popfd
        xor eax, eax
        str ax
        CHECK32 eax, SEL_TSS0

        ; free again: a valid switch runs the task
        call reset_task1
        mov dword [H_COUNT], 0
        jmp SEL_TSS1:0
        CHECK32 [T1_RAN], 1
        CHECK32 [H_COUNT], 0
        PUTS32 `taskfaults: all checks passed\n`
        jmp pass32

; TSS1: a valid ring-0 task starting at task1, not busy
reset_task1:
        mov edi, TSS1
        mov eax, task1
        mov ebx, STACK_T1_TOP
        call init_tss
        mov dword [TSS1 + 40], T1_EAX
        mov byte [GDT_BASE + SEL_TSS1 + 5], 0x89
        mov dword [T1_RAN], 0
        ret

task1:  mov dword [T1_RAN], 1
        jmp SEL_TSS0:0
        jmp fail32

; init_tss: a ring-0 32-bit TSS at EDI, flat segments, EIP = EAX, ESP = EBX
init_tss:
        push eax
        push edi
        xor eax, eax
        mov ecx, 0x68 / 4
        rep stosd
        pop edi
        pop eax
        mov [edi + 32], eax
        mov dword [edi + 36], 0x2
        mov [edi + 56], ebx
        mov dword [edi + 72], SEL_DATA
        mov dword [edi + 76], SEL_CODE32
        mov dword [edi + 80], SEL_DATA
        mov dword [edi + 84], SEL_DATA
        mov dword [edi + 88], SEL_DATA
        mov dword [edi + 92], SEL_DATA
        ret

; Handler tasks: record, drop the error code, go back to the main task
; (TSS0, free since its JMP), and start over on the next entry.
%macro HANDLER 2
h%1:    mov ebx, %1
        mov esi, %2
        call h_record
        add esp, 4
        jmp SEL_TSS0:0
        jmp h%1
%endmacro
        HANDLER 10, TSS_H10
        HANDLER 11, TSS_H11
        HANDLER 12, TSS_H12

h_record:
        mov [H_VEC], ebx
        mov eax, [esp + 4]
        mov [H_ERR], eax
        movzx eax, word [esi]
        mov [H_LINK], eax
        mov eax, [TSS1 + 32]
        mov [H_EIP], eax
        mov eax, [TSS1 + 40]
        mov [H_EAX], eax
        movzx eax, byte [GDT_BASE + SEL_TSS1 + 5]
        mov [H_TYPE], eax
        movzx eax, byte [GDT_BASE + SEL_TSS0 + 5]
        mov [H_T0TYPE], eax
        pushfd
        pop eax
        mov [H_FLAGS], eax
        inc dword [H_COUNT]
        ret

farptr_ldt:
        dd 0
        dw SEL_TSS1 | 4
gdt_desc:
        dw SEL_TSS_H12 + 7
        dd GDT_BASE

%include "tail.inc"
