; Privilege levels: IRET to ring 3, privileged instructions and I/O from
; ring 3 (#GP, the TSS I/O permission bitmap, IOPL), INT through DPL 3
; and DPL 0 gates (stack switch from the TSS), a call gate with a
; parameter and RETF back outward, SYSENTER/SYSEXIT. Hand-derived.
%include "pmtest.inc"

        bits 32
pm_main:
        PUTS32 `rings: start\n`
        SET_GATE 0x80, int80, 0xEE          ; DPL 3
        SET_GATE 0x81, back_to_ring0, 0xEE
        SET_GATE 0x82, int80, 0x8E          ; DPL 0
        mov eax, cr0
        or eax, 0x40000                     ; CR0.AM
        mov cr0, eax
        mov ecx, 0x174                      ; SYSENTER_CS/ESP/EIP
        xor edx, edx
        mov eax, SEL_CODE32
        wrmsr
        inc ecx
        mov eax, STACK_TOP - 0x200
        wrmsr
        inc ecx
        mov eax, sysenter_entry + 0xF0000   ; flat CS: linear address
        wrmsr
        push dword SEL_DATA3
        push dword STACK3_TOP
        push dword 0x0202                   ; IF, IOPL 0
        push dword SEL_CODE3
        push dword ring3
        iret

ring3:  mov ax, SEL_DATA3
        mov ds, ax
        mov es, ax
        mov eax, cs
        CHECK32 eax, SEL_CODE3
        EXPECT_FAULT 13, 0, {cli}
        EXPECT_FAULT 13, 0, {hlt}
        EXPECT_FAULT 13, 0, {mov eax, cr0}
        EXPECT_FAULT 13, 0, {lgdt [0x9000]}
        EXPECT_FAULT 13, 0, {in al, 0x60}   ; denied by the I/O bitmap
        EXPECT_FAULT 13, 0, {in ax, 0xE8}   ; 0xE9 allowed, 0xE8 not
        mov dx, 0x80
        out dx, al                          ; allowed by the bitmap
        mov ax, SEL_DATA
        EXPECT_FAULT 13, SEL_DATA, {mov fs, ax}     ; DPL 0 data from CPL 3
        EXPECT_FAULT 13, 0x82*8 + 2, {int 0x82}     ; DPL 0 gate
        EXPECT_FAULT 13, SEL_CODE32, {call SEL_CODE32:0}    ; more privileged code

        ; INT through a DPL 3 gate: ring 0 handler on the TSS stack
        mov dword [VAR0], 0
        mov ebx, esp
        int 0x80
        CHECK32 [VAR0], 1
        CHECK32 [VAR0 + 4], SEL_CODE3
        CHECK32 [VAR0 + 8], SEL_DATA3
        CHECK32 [VAR0 + 12], ebx
        mov ebp, esp
        CHECK32 ebp, ebx

        ; call gate with one parameter, RETF 4 back to ring 3
        push dword 0xC0FFEE
        call SEL_CALLGATE:0
        mov ebp, esp
        CHECK32 ebp, ebx
        CHECK32 [VAR0 + 16], 0xC0FFEE
        CHECK32 [VAR0 + 20], SEL_CODE3
        CHECK32 [VAR0 + 24], STACK_TOP - 8 - 20    ; inner ESP: ds, eax, then 5 dwords

%ifndef QEMU_DIFF   ; QEMU 7.2 TCG does not implement alignment checking
        ; alignment check: CR0.AM (set by ring 0) and EFLAGS.AC at CPL 3
        pushfd
        or dword [esp], 0x40000
        popfd
        EXPECT_FAULT 17, 0, {mov eax, [0x9001]}
        EXPECT_FAULT 17, 0, {mov word [0x9003], ax}
        mov eax, [0x9004]                   ; aligned: fine
        mov al, [0x9003]                    ; bytes are always aligned
        pushfd
        and dword [esp], ~0x40000
        popfd
        mov eax, [0x9001]                   ; AC clear: no check
%endif

        ; SYSENTER / SYSEXIT
        mov dword [VAR0 + 28], 0
        mov ecx, esp
        mov edx, after_sysexit + 0xF0000
        sysenter
after_sysexit:                              ; flat CS (base 0) from here
        mov eax, cs
        CHECK32 eax, SEL_CODE32 + 16 + 3
        CHECK32 [VAR0 + 28], 0x5E5E
        mov ebp, esp
        CHECK32 ebp, ebx
        jmp SEL_CODE3:iopl3

iopl3:  ; ring 3 with IOPL 3: CLI/STI and any port are allowed
        int 0x81
        jmp fail32

sysenter_entry:                             ; CPL 0, flat CS, no prints here
        mov eax, cs
        cmp eax, SEL_CODE32
        jne fail32
        mov dword [ss:VAR0 + 28], 0x5E5E
        sysexit

int80:  push ds
        push eax
        mov ax, SEL_DATA
        mov ds, ax
        inc dword [VAR0]
        mov eax, [esp + 12]
        mov [VAR0 + 4], eax                 ; CS
        mov eax, [esp + 24]
        mov [VAR0 + 8], eax                 ; SS
        mov eax, [esp + 20]
        mov [VAR0 + 12], eax                ; ESP
        pop eax
        pop ds
        iret

back_to_ring0:
        mov ax, SEL_DATA
        mov ds, ax
        mov es, ax
        cmp dword [VAR0 + 32], 0
        jne .second
        ; again into ring 3, now with IOPL 3
        mov dword [VAR0 + 32], 1
        push dword SEL_DATA3
        push dword STACK3_TOP
        push dword 0x3202
        push dword SEL_CODE3
        push dword ring3_iopl
        iret
.second:
        mov esp, STACK_TOP
        PUTS32 `rings: all checks passed\n`
        jmp pass32

ring3_iopl:
        mov ax, SEL_DATA3
        mov ds, ax
        cli
        sti
        in al, 0x60
        pushfd
        pop eax
        and eax, 0x3000
        CHECK32 eax, 0x3000
        int 0x81
        jmp fail32

%include "tail.inc"
