; Protected mode, CPL 0: exception vectors with their error codes and
; fault/trap EIPs (hand-derived from the SDM), segment descriptor checks on
; loads and accesses, #DF through a task gate (as NT sets it up).
%include "pmtest.inc"

        bits 32
pm_main:
        PUTS32 `pmode: start\n`

        ; ---- faults without error code ----
        xor ecx, ecx
        EXPECT_FAULT 0, -1, {div ecx}                   ; #DE
        mov eax, 0x80000000
        mov ecx, -1
        cdq
        EXPECT_FAULT 0, -1, {idiv ecx}                  ; #DE: quotient overflow
        EXPECT_FAULT 6, -1, {ud2}                       ; #UD
        EXPECT_FAULT 6, -1, {db 0x0F, 0xFF}             ; undefined 0F FF
        EXPECT_FAULT 6, -1, {db 0xF0, 0x01, 0xD8}       ; LOCK ADD EAX, EBX
        EXPECT_FAULT 6, -1, {db 0x8D, 0xC3}             ; LEA with a register operand
        EXPECT_FAULT 6, -1, {db 0xFF, 0xFF}             ; FF /7
        EXPECT_FAULT 6, -1, {db 0x0F, 0xAA}             ; RSM outside SMM
        EXPECT_FAULT 6, -1, {db 0x8E, 0xC8}             ; MOV CS, AX
        EXPECT_FAULT 6, -1, {db 0x0F, 0x20, 0xE8}       ; MOV EAX, CR5
        mov eax, 10
        EXPECT_FAULT 5, -1, {bound eax, [bnds + 0xF0000]}   ; #BR
        mov eax, cr0
        or eax, 8                                       ; CR0.TS
        mov cr0, eax
        EXPECT_FAULT 7, -1, {fninit}                    ; #NM
        mov eax, cr0
        or eax, 2                                       ; CR0.MP: WAIT faults too
        mov cr0, eax
        EXPECT_FAULT 7, -1, {fwait}
        clts
        fwait

        ; ---- traps: EIP after the instruction ----
        EXPECT_TRAP 3, {int3}                           ; #BP
        mov al, 0x7F
        add al, 1                                       ; OF = 1
        EXPECT_TRAP 4, {into}                           ; #OF
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG raises #UD for ICEBP
        EXPECT_TRAP 1, {int1}                           ; ICEBP
%endif
        SET_GATE 0x41, int41, 0x8E
        mov dword [VAR0], 0
        int 0x41
        CHECK32 [VAR0], 0x41

        ; ---- #GP with error codes ----
        mov ax, 0x1000                                  ; beyond the GDT limit
        EXPECT_FAULT 13, 0x1000, {mov ds, ax}
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG does not check segment limits and rights on data accesses
        EXPECT_FAULT 13, 0, {mov [cs:0], eax}           ; write to code
%endif
        mov ax, SEL_TSS1
        EXPECT_FAULT 13, SEL_TSS1, {mov es, ax}         ; system descriptor
        mov ax, SEL_DATA3
        EXPECT_FAULT 13, SEL_DATA3 & 0xFFFC, {mov ss, ax}   ; RPL != CPL
        mov ax, SEL_RODATA
        EXPECT_FAULT 13, SEL_RODATA, {mov ss, ax}       ; read-only stack
        xor ax, ax
        EXPECT_FAULT 13, 0, {mov ss, ax}                ; null SS
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG does not check segment limits and rights on data accesses
        mov es, ax                                      ; null ES is fine...
        EXPECT_FAULT 13, 0, {mov eax, [es:0]}           ; ...until used
        mov ax, SEL_RODATA
        mov es, ax
        mov eax, [es:0x9000]                            ; readable
        EXPECT_FAULT 13, 0, {mov [es:0x9000], eax}      ; not writable
        mov ax, SEL_SMALL
        mov es, ax
        mov eax, [es:0xFFC]                             ; last dword: fine
        EXPECT_FAULT 13, 0, {mov eax, [es:0xFFE]}       ; crosses the limit
        mov ax, SEL_EXPDOWN
        mov es, ax
        mov eax, [es:0x1000]                            ; expand-down: above limit ok
        EXPECT_FAULT 13, 0, {mov eax, [es:0x800]}       ; at or below limit: #GP
%endif
        mov ax, SEL_DATA
        mov es, ax
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG accepts reserved CR4 bits
        mov ebx, 0x80000000
        EXPECT_FAULT 13, 0, {mov cr4, ebx}              ; reserved CR4 bits
%endif
        mov ecx, 0x12345678
        mov ebx, 0x80000000
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG ignores unknown MSRs
        EXPECT_FAULT 13, 0, {wrmsr}                     ; unknown MSR
        EXPECT_FAULT 13, 0, {rdmsr}
%endif
        EXPECT_FAULT 13, SEL_DATA, {jmp SEL_DATA:0}     ; far jump to data
        EXPECT_FAULT 13, 0x40*8 + 2, {int 0x40}         ; empty IDT entry
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG does not check PG without PE
        mov eax, cr0
        or eax, 0x80000000
        and eax, ~1
        EXPECT_FAULT 13, 0, {mov cr0, eax}              ; PG without PE
%endif

        ; ---- #NP, #SS, #TS ----
        mov ax, SEL_NOTPRESENT
        EXPECT_FAULT 11, SEL_NOTPRESENT, {mov ds, ax}
        EXPECT_FAULT 12, SEL_NOTPRESENT, {mov ss, ax}
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG does not check segment limits and rights on data accesses
        mov ax, SEL_SMALL                               ; stack segment limit 0xFFF
        mov ss, ax
        mov esp, 0xF00
        EXPECT_FAULT 12, 0, {mov eax, [ss:0x1000]}
        EXPECT_FAULT 12, 0, {mov eax, [esp+0x200]}
%endif
        mov ax, SEL_DATA
        mov ss, ax
        mov esp, STACK_TOP
        EXPECT_FAULT 10, SEL_TSSSMALL, {jmp SEL_TSSSMALL:0}
        EXPECT_FAULT 13, SEL_TSS0, {jmp SEL_TSS0:0}     ; busy TSS

        ; ---- descriptor queries ----
        mov ax, SEL_CODE32
        lar ebx, ax
        jnz fail32
        and ebx, 0x00F0FF00                             ; bits 19:16 undefined
%ifdef QEMU_DIFF    ; QEMU 7.2 TCG does not set the accessed bit on far jumps
        or ebx, 0x100
%endif
        CHECK32 ebx, 0x00C09B00                         ; accessed bit set by the load
        lsl ebx, ax
        CHECK32 ebx, 0xFFFFFFFF
        mov ax, SEL_SMALL
        lsl ebx, ax
        CHECK32 ebx, 0xFFF
        mov ax, 0x1000
        lar ebx, ax
        jz fail32                                       ; beyond the GDT: ZF=0
        mov ax, SEL_RODATA
        verr ax
        jnz fail32
        verw ax
        jz fail32
        mov ax, SEL_DATA3
        verw ax
        jnz fail32
        mov ax, SEL_DATA | 3
        mov bx, SEL_DATA
        arpl bx, ax
        jnz fail32
        CHECK32 ebx, SEL_DATA | 3
        sgdt [VAR0]
        CHECK32 [VAR0 + 2], GDT_BASE
        sidt [VAR0]
        CHECK32 [VAR0 + 2], IDT_BASE
        xor eax, eax
        str ax
        CHECK32 eax, SEL_TSS0
        smsw eax
        test eax, 1
        jz fail32

        ; ---- LDT ----
        mov dword [LDT_BASE + 8], 0x0000FFFF            ; LDT entry 1: data base 0x10000
        mov dword [LDT_BASE + 12], 0x00CF9201
        mov ax, SEL_LDT
        lldt ax
        mov ax, 0x0C                                    ; LDT selector 1, RPL 0
        mov es, ax
        mov dword [0x10010], 0x5AA55AA5
        CHECK32 [es:0x10], 0x5AA55AA5
        mov ax, 0x1C                                    ; beyond the LDT limit
        EXPECT_FAULT 13, 0x1C, {mov es, ax}
        mov ax, SEL_DATA
        mov es, ax

        ; ---- single step: #DB after each instruction while TF=1 ----
        SET_GATE 1, step_handler, 0x8E
        mov dword [VAR0 + 32], 0
        pushfd
        or dword [esp], 0x100
        popfd                           ; TF takes effect after the next instruction
        nop
        nop
        nop
        pushfd
        and dword [esp], ~0x100
        popfd
        CHECK32 [VAR0 + 32], 6          ; nop, nop, nop, pushfd, and, popfd
        SET_GATE 1, exc_stub_1, 0x8E

        ; ---- double fault through a task gate ----
        ; #GP whose gate is not present: #NP while delivering -> #DF
        mov dword [TSS_DFB + 32], df_task   ; EIP
        mov dword [TSS_DFB + 36], 0x2       ; EFLAGS
        mov dword [TSS_DFB + 56], STACK_T1_TOP
        mov dword [TSS_DFB + 72], SEL_DATA  ; ES
        mov dword [TSS_DFB + 76], SEL_CODE32
        mov dword [TSS_DFB + 80], SEL_DATA
        mov dword [TSS_DFB + 84], SEL_DATA
        mov dword [TSS_DFB + 88], SEL_DATA
        mov dword [TSS_DFB + 92], SEL_DATA
        mov word [IDT_BASE + 8*8 + 2], SEL_TSSDF
        mov word [IDT_BASE + 8*8 + 4], 0x8500
        and byte [IDT_BASE + 13*8 + 5], 0x7F    ; #GP gate not present
        PUTS32 `pmode: exceptions and descriptor checks passed\n`
        mov ax, 0x1000
df_insn:
        mov ds, ax                              ; #GP -> #NP -> #DF
        PUTS32 `no double fault\n`
        jmp fail32

df_task:
        ; In the #DF task: backlink = old TSS, NT set, error code 0 pushed,
        ; the old task's saved EIP is the faulting instruction.
        CHECK32 [TSS_DFB], SEL_TSS0
        pushfd
        pop eax
        test eax, 0x4000
        jz fail32
        pop eax
        CHECK32 eax, 0
        CHECK32 [TSS0 + 32], df_insn
        xor eax, eax
        str ax
        CHECK32 eax, SEL_TSSDF
        PUTS32 `pmode: double fault task ok\n`
        jmp pass32

int41:  mov dword [VAR0], 0x41
        iret

step_handler:
        inc dword [VAR0 + 32]
        iret

bnds:   dd 0, 5

%include "tail.inc"
