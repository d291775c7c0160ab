; Instruction boundaries inside decoded blocks, where vmm fuses a
; flag-setting instruction with the Jcc after it (VMM_CPU=interp does not):
; - self-modifying code that rewrites the next instruction of the running
;   block (the compare of a fused pair, and the Jcc of one);
; - single-step traps after every instruction of blocks holding fused pairs;
; - a hardware interrupt taken inside a polling loop of fused pairs: the
;   state it sees is that of an instruction boundary;
; - page faults inside a block (a fused memory compare whose page goes away
;   while its block is cached, and a fused DEC/JNZ whose target page is not
;   present): EIP, CR2, registers and flags are those of the faulting
;   instruction, everything before it done, nothing after it; and a
;   #GP for the CS limit at the Jcc of a fused pair;
; - a branch into another page reaches new code after that page was
;   remapped (links across pages are checked against the TLB).
%include "pmtest.inc"
%include "pollirq.inc"

%define NSTEP (VAR0 + 0x40)
%define STEPS (VAR0 + 0x80)         ; up to 16 recorded EIPs
%define IRQ_EIP (VAR0 + 0x44)
%define IRQ_BAD (VAR0 + 0x48)
%define IRQ_SEEN (VAR0 + 0x4C)
%define RAMCODE 0x26000             ; template copies run here (identity mapped)
%define RAMOFF(x) (RAMCODE - 0xF0000 + ((x) - tmpl))  ; as a CS offset
%define RAMLIN(x) (RAMCODE + ((x) - tmpl))            ; as a flat address

%define PD 0x10000
%define PT0 0x11000
%define PTE(addr) (PT0 + ((addr) >> 12) * 4)

        bits 32
pm_main:
        PUTS32 `blocks: start\n`

        ; ---- self-modifying code in the running block ----
        mov esi, tmpl
        mov edi, RAMCODE
        mov ecx, tmpl_end - tmpl
.cp:    mov al, [cs:esi]
        mov [edi], al
        inc esi
        inc edi
        loop .cp
        mov edx, 0                          ; round: patch values differ
.smc:   mov bl, 5                           ; cmp al, 5: equal
        mov eax, RAMOFF(smc_imm)
        push eax
        mov al, 5
        call [esp]
        CHECK32 eax, 2
        mov al, 5
        mov bl, 7                           ; cmp al, 7: not equal
        call [esp]
        CHECK32 eax, 1
        mov bl, 0x74                        ; je: taken when equal
        mov eax, RAMOFF(smc_jcc)
        mov [esp], eax
        mov al, 5
        call [esp]
        CHECK32 eax, 2
        mov al, 5
        mov bl, 0x75                        ; jne: not taken when equal
        call [esp]
        CHECK32 eax, 1
        add esp, 4
        inc edx
        cmp edx, 3                          ; again, with the blocks cached
        jb .smc

        ; ---- single step through fused pairs ----
        SET_GATE 1, db_rec, 0x8E
        mov dword [NSTEP], 0
        mov ecx, 2
        pushfd
        or dword [esp], 0x100
        popfd                               ; TF: traps from after the next one
.s0:    dec ecx
.s1:    jnz .s0
.s2:    cmp ecx, 0
.s3:    je .s5
        hlt
.s5:    test ecx, ecx
.s6:    jnz .s5
.s7:    nop                                 ; db_rec clears TF here
        CHECK32 [NSTEP], 8
        CHECK32 [STEPS + 0], .s1
        CHECK32 [STEPS + 4], .s0
        CHECK32 [STEPS + 8], .s1
        CHECK32 [STEPS + 12], .s2
        CHECK32 [STEPS + 16], .s3
        CHECK32 [STEPS + 20], .s5
        CHECK32 [STEPS + 24], .s6
        CHECK32 [STEPS + 28], .s7

        ; ---- an IRQ inside a polling loop of fused pairs ----
        POLL_IRQ_SETUP
        mov edi, 8                          ; rounds, with different counts
.round: mov dword [IRQ_SEEN], 0
        mov al, 0x30                        ; PIT 0: one shot
        out 0x43, al
        mov eax, edi
        shl eax, 3
        out 0x40, al
        xor al, al
        out 0x40, al
        xor ebx, ebx
        xor edx, edx
        sti
.p0:    inc ebx
.p1:    mov edx, ebx
.p2:    cmp dword [IRQ_SEEN], 0
.p3:    je .p0
.p4:    cli
        dec edi
        jnz .round
        CHECK32 [IRQ_BAD], 0

        ; ---- page faults inside blocks ----
        mov edi, PT0
        mov eax, 0x007
        mov ecx, 1024
.fill:  stosd
        add eax, 0x1000
        loop .fill
        mov dword [PD], PT0 | 0x007
        mov dword [PTE(0x20000)], 0x20006   ; not present
        mov eax, PD
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp .on
.on:    mov dword [0x21010], 0x1234
        mov dword [EXC_COUNT], 0
        mov dword [EXC_RESUME], .pf1_back
        xor ecx, ecx
        mov eax, 0x1234
        mov esi, 0x21010
.l1:    inc ecx
        cmp ecx, 5
        jne .l1_skip
        mov dword [PTE(0x21000)], 0x21006   ; gone on the 5th round
        invlpg [0x21000]
.l1_skip:
        mov edx, ecx
        add edx, edx                        ; flags: of 2 * ecx
.l1_f:  cmp eax, [esi]                      ; fused with the JE
        je .l1
        PUTS32 `no fault in the loop\n`
        jmp fail32
.pf1_back:
        mov dword [EXC_RESUME], 0
        CHECK32 [EXC_COUNT], 1
        CHECK32 [EXC_VEC], 14
        CHECK32 [EXC_ERR], 0
        CHECK32 [EXC_EIP], .l1_f
        CHECK32 [EXC_CR2], 0x21010
        CHECK32 ecx, 5
        CHECK32 edx, 10
        mov eax, [EXC_FLAGS]
        and eax, 0x8D5                      ; add 5+5: PF (10 = 1010b), no others
        CHECK32 eax, 0x04

        mov dword [EXC_COUNT], 0
        mov dword [EXC_RESUME], .pf2_back
        mov ecx, 3
        mov ebx, 0
.l2:    inc ebx
        dec ecx                             ; fused with the JNZ
        jnz near 0x20040 - 0xF0000          ; target in the missing page
        PUTS32 `no fault at the target\n`
        jmp fail32
.pf2_back:
        mov dword [EXC_RESUME], 0
        CHECK32 [EXC_COUNT], 1
        CHECK32 [EXC_VEC], 14
        CHECK32 [EXC_ERR], 0
        CHECK32 [EXC_EIP], 0x20040 - 0xF0000
        CHECK32 [EXC_CR2], 0x20040
        CHECK32 ecx, 2
        CHECK32 ebx, 1

        ; ---- a branch into another page whose mapping changes ----
        ; The call's block remembers the block it reached in the other page
        ; (a link across pages): after the page is remapped to other code
        ; (INVLPG) it must reach the new code.
        mov dword [0x27000], 0x000001B8     ; mov eax, 1
        mov word [0x27004], 0xC300          ; ret
        mov dword [0x28000], 0x000002B8     ; mov eax, 2
        mov word [0x28004], 0xC300
        mov dword [PTE(0x29000)], 0x27007
        invlpg [0x29000]
        xor ebx, ebx
        mov ecx, 4
.fl:    cmp ecx, 2
        jne .fl_call
        mov dword [PTE(0x29000)], 0x28007   ; remapped for the last 2 rounds
        invlpg [0x29000]
        mov edx, [0x29000]                  ; the TLB maps the new page again
.fl_call:
        call near 0x29000 - 0xF0000
        shl ebx, 4
        or ebx, eax
        dec ecx
        jnz .fl
        CHECK32 ebx, 0x1122

%ifndef QEMU_DIFF
        ; ---- a fused DEC/JNZ whose target is past the CS limit ----
        ; GDT slot 0x98 becomes ring-0 code, base 0xF0000, ending after
        ; the JNZ: #GP(0) at the JNZ, with the DEC done. (QEMU 7.2 TCG
        ; does not check the limit on a near branch: no twin.)
        mov dword [GDT_BASE + 0x98], small_end - 1
        mov dword [GDT_BASE + 0x9C], 0x00409A0F
        mov dword [EXC_COUNT], 0
        mov dword [EXC_RESUME], small_back
        mov ecx, 3
        jmp dword 0x98:small_go
.gp_back:
        mov dword [EXC_RESUME], 0
        CHECK32 [EXC_COUNT], 1
        CHECK32 [EXC_VEC], 13
        CHECK32 [EXC_ERR], 0
        CHECK32 [EXC_EIP], small_jcc
        CHECK32 [EXC_CS], 0x98
        CHECK32 ecx, 2
%endif

        PUTS32 `blocks: all checks passed\n`
        jmp pass32

%ifndef QEMU_DIFF
; Runs through selector 0x98, whose limit ends at small_end.
small_back:
        jmp dword SEL_CODE32:pm_main.gp_back
small_go:
        dec ecx
small_jcc:
        jnz near small_past                 ; fused with the DEC
small_end:
        nop
small_past:                                 ; reached only without the check
        jmp dword SEL_CODE32:no_gp

no_gp:  PUTS32 `no #GP at the CS limit\n`
        jmp fail32
%endif

; #DB: records the EIP after each step; clears TF at .s7.
db_rec: push eax
        push ebx
        mov eax, [esp + 8]
        mov ebx, [NSTEP]
        cmp ebx, 16
        jae .full
        mov [STEPS + ebx*4], eax
        inc dword [NSTEP]
.full:  cmp eax, pm_main.s7
        jne .ret
        and dword [esp + 16], ~0x100
.ret:   pop ebx
        pop eax
        iret

; IRQ 0 in the polling loop (pollirq.inc).
        POLL_IRQ_HANDLER

; Copied to RAMCODE and called there with AL = 5, BL = the patch byte.
; Each entry patches the next instruction(s) of its own block.
tmpl:
smc_imm:
        mov [RAMLIN(smc_imm_p) + 1], bl     ; the immediate of the CMP
smc_imm_p:
        cmp al, 0
        je .eq
        mov eax, 1
        ret
.eq:    mov eax, 2
        ret
smc_jcc:
        mov [RAMLIN(smc_jcc_p)], bl         ; the Jcc opcode after the CMP
        cmp al, 5
smc_jcc_p:
        je .eq
        mov eax, 1
        ret
.eq:    mov eax, 2
        ret
tmpl_end:

%include "tail.inc"
