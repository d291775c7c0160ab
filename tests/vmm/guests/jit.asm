; Boundaries inside blocks that vmm translates to host code (VMM_CPU=jit;
; the blocks below get hot, or are translated at once with VMM_JIT_HOT=0):
; - self-modifying code: a store in a hot translated loop rewrites an
;   instruction later in the same block, and one in the block it jumps to;
;   the same by a byte store (no template: a call to its handler);
; - a REP STOSD long enough to leave its block between chunks, called from
;   translated code (with a small code cache, flushes happen there);
; - page faults on a load and on a store in the middle of a hot
;   translated block, and in an instruction without a template that the
;   translated code calls the handler of: EIP and CR2 of the faulting instruction, everything
;   before it done, nothing after it, and resumable (the handler maps the
;   page and returns to the faulting instruction);
; - an interrupt arriving while a hot translated loop runs: taken at an
;   instruction boundary with the state of that boundary;
; - flags left by translated ALU instructions read by ones that are not
;   translated (PUSHFD, ADC, SETcc) and by INC/DEC, which keep CF.
%include "pmtest.inc"
%include "pollirq.inc"

%define IRQ_EIP (VAR0 + 0x44)
%define IRQ_BAD (VAR0 + 0x48)
%define IRQ_SEEN (VAR0 + 0x4C)
%define CNT (VAR0 + 0x50)
%define PF_N (VAR0 + 0x54)
%define PF_EDX0 (VAR0 + 0x58)
%define PF_FL0 (VAR0 + 0x5C)
%define PF_REC (VAR0 + 0x100)       ; per fault: EIP, CR2, error code, ECX
%define PF_EIP(n) (PF_REC + (n) * 16)
%define PF_CR2(n) (PF_REC + (n) * 16 + 4)
%define PF_ERR(n) (PF_REC + (n) * 16 + 8)
%define PF_ECX(n) (PF_REC + (n) * 16 + 12)
%define RAMCODE 0x26000             ; template copies run here (identity mapped)
%define RAMOFF(x) (RAMCODE - 0xF0000 + ((x) - tmpl))  ; as a CS offset
%define RAMLIN(x) (RAMCODE + ((x) - tmpl))            ; as a flat address

%define PD 0x10000
%define PT0 0x11000
%define PTE(addr) (PT0 + ((addr) >> 12) * 4)

        bits 32
pm_main:
        PUTS32 `jit: start\n`

        ; ---- flags of translated ALU instructions, read by others ----
        mov dword [CNT], 20
.fl:    mov eax, 0x7FFFFFFF
        mov ebx, 1
        add eax, ebx                        ; OF SF AF PF
        pushfd
        pop ecx
        and ecx, 0x8D5
        CHECK32 ecx, 0x894
        mov eax, 0xFFFFFFFF
        add eax, 1                          ; CF ZF AF PF
        mov edx, 5
        adc edx, 0
        CHECK32 edx, 6
        mov eax, 1
        sub eax, 2                          ; CF
        mov ecx, 1
        dec ecx                             ; ZF, CF kept
        setc bl
        setz bh
        CHECK32 ebx, 0x0101
        mov eax, 0x0F
        xor eax, 0x0E                       ; CF = 0, OF = 0
        inc eax                             ; 2: AF = 0, PF = 0, CF kept (0)
        pushfd
        pop ecx
        and ecx, 0x8D5
        CHECK32 ecx, 0
        mov eax, 0x80000000
        sub eax, 1                          ; OF, AF, not CF
        lea edx, [eax + eax*2 + 7]          ; LEA keeps the flags
        seto cl
        setc ch
        movzx ecx, cx
        CHECK32 ecx, 0x0001
        CHECK32 edx, 0x80000004
        cmp eax, 0x7FFFFFFF                 ; equal
        setbe al
        movzx eax, al
        CHECK32 eax, 1
        dec dword [CNT]
        jnz .fl

        ; ---- self-modifying code in hot translated blocks ----
        mov esi, tmpl
        mov edi, RAMCODE
        mov ecx, tmpl_end - tmpl
.cp:    mov al, [cs:esi]
        mov [edi], al
        inc esi
        inc edi
        loop .cp
        mov ecx, 40
        call RAMOFF(smc_same)
        CHECK32 esi, 40 * 41 / 2            ; every round saw its own value
        mov ecx, 40
        call RAMOFF(smc_next)
        CHECK32 esi, 40 * 41 / 2
        mov ecx, 40
        call RAMOFF(smc_byte)
        CHECK32 esi, 40 * 41 / 2

        ; ---- a long REP in a hot translated block ----
        ; REP STOSD runs in chunks of 64K elements and leaves the block
        ; between them, from a handler called by translated code: with a
        ; small code cache that is where the cache gets flushed.
        mov dword [CNT], 3
.rep:   mov edi, 0x100000
        mov ecx, 0x11000
        mov eax, [CNT]
        add eax, 0x01010100
        rep stosd
        add ebx, 1
        mov edx, [0x100000 + 0x10FFC]
        dec dword [CNT]
        jnz .rep
        CHECK32 edx, 0x01010101
        CHECK32 ecx, 0

        ; ---- an IRQ while a hot translated loop runs ----
        POLL_IRQ_SETUP
        mov edi, 8                          ; rounds, with different counts
.round: mov dword [IRQ_SEEN], 0
        mov al, 0x30                        ; PIT 0: one shot
        out 0x43, al
        mov eax, edi
        shl eax, 4
        out 0x40, al
        xor al, al
        out 0x40, al
        xor ebx, ebx
        xor edx, edx
        sti
.p0:    inc ebx
.p1:    mov edx, ebx
.p2:    mov eax, [IRQ_SEEN]
.p3:    test eax, eax
.p4:    jz .p0
.p5:    cli
        dec edi
        jnz .round
        CHECK32 [IRQ_BAD], 0

        ; ---- page faults in the middle of hot translated blocks ----
        mov edi, PT0
        mov eax, 0x007
        mov ecx, 1024
.fill:  stosd
        add eax, 0x1000
        loop .fill
        mov dword [PD], PT0 | 0x007
        mov eax, PD
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp .on
.on:    SET_GATE 14, pf_fix, 0x8E
        mov dword [PF_N], 0
        mov dword [0x21010], 0x1234
        mov dword [0x22010], 0
        mov esi, 0x23010                    ; stores: always mapped
        mov edi, 0x21010                    ; loads: gone on round 12
        mov ebp, 0x22010                    ; stores: gone on round 15
        xor ecx, ecx
.l1:    inc ecx
        cmp ecx, 12
        jne .l1_a
        mov dword [PTE(0x21000)], 0x21006
        invlpg [0x21000]
.l1_a:  cmp ecx, 15
        jne .l1_c
        mov dword [PTE(0x22000)], 0x22006   ; not present
        invlpg [0x22000]
.l1_c:  cmp ecx, 17
        jne .l1_b
        mov dword [PTE(0x24000)], 0x24006
        invlpg [0x24000]
.l1_b:  mov edx, ecx
        add edx, edx                        ; flags of 2 * ecx
        mov [esi], edx
.l1_ld: mov eax, [edi]                      ; #PF on round 12
        add eax, ecx
.l1_st: mov [ebp], eax                      ; #PF on round 15
.l1_b8: mov [0x24010], cl                   ; no template (a call from
        mov ebx, eax                        ; translated code): #PF on round 17
        cmp ecx, 20
        jb .l1
        CHECK32 [PF_N], 3
        CHECK32 [PF_EIP(0)], .l1_ld
        CHECK32 [PF_CR2(0)], 0x21010
        CHECK32 [PF_ERR(0)], 0
        CHECK32 [PF_ECX(0)], 12
        CHECK32 [PF_EDX0], 24
        mov eax, [PF_FL0]
        and eax, 0x8D5
        CHECK32 eax, 0x14                   ; 12 + 12: AF, PF
        CHECK32 [PF_EIP(1)], .l1_st
        CHECK32 [PF_CR2(1)], 0x22010
        CHECK32 [PF_ERR(1)], 2              ; write, not present
        CHECK32 [PF_ECX(1)], 15
        CHECK32 [PF_EIP(2)], .l1_b8
        CHECK32 [PF_CR2(2)], 0x24010
        CHECK32 [PF_ERR(2)], 2
        CHECK32 [PF_ECX(2)], 17
        CHECK32 [0x24010], 20               ; the byte store, retried, in every round
        CHECK32 [0x23010], 40
        CHECK32 [0x22010], 0x1234 + 20
        CHECK32 ebx, 0x1234 + 20

        PUTS32 `jit: all checks passed\n`
        jmp pass32

; #PF: records each fault (EIP, CR2, error code, ECX; EDX and the flags
; of the first), maps the page again and retries the instruction.
pf_fix: push eax
        push ebx
        mov ebx, [PF_N]
        shl ebx, 4
        mov eax, [esp + 12]
        mov [PF_EIP(0) + ebx], eax
        mov eax, cr2
        mov [PF_CR2(0) + ebx], eax
        mov eax, [esp + 8]
        mov [PF_ERR(0) + ebx], eax
        mov [PF_ECX(0) + ebx], ecx
        test ebx, ebx
        jnz .fix
        mov [PF_EDX0], edx
        mov eax, [esp + 20]
        mov [PF_FL0], eax
.fix:   inc dword [PF_N]
        mov eax, cr2
        shr eax, 12
        mov ebx, eax
        shl eax, 12
        or eax, 7
        mov [PT0 + ebx*4], eax
        invlpg [0x21000]
        invlpg [0x22000]
        invlpg [0x24000]
        pop ebx
        pop eax
        add esp, 4
        iret

; IRQ 0 in the polling loop (pollirq.inc).
        POLL_IRQ_HANDLER

; Copied to RAMCODE. ECX = rounds; ESI = the sum of what the patched
; instruction loaded (each round patches in its own ECX).
tmpl:
smc_same:                                   ; the patched MOV in the same block
        xor esi, esi
        mov edi, RAMLIN(.imm) + 1           ; (a ModRM store: translated)
.l:     mov eax, ecx
        mov [edi], eax
        add edx, 1
.imm:   mov ebx, 0
        add esi, ebx
        dec ecx
        jnz .l
        ret
smc_next:                                   ; the patched MOV in the next block
        xor esi, esi
        mov edi, RAMLIN(.imm) + 1
.l:     mov eax, ecx
        mov [edi], eax
        add edx, 1
        jmp .imm
.imm:   mov ebx, 0
        add esi, ebx
        dec ecx
        jnz .l
        ret
smc_byte:                                   ; the same by a byte store, which
        xor esi, esi                        ; has no template (a call)
        mov edi, RAMLIN(.imm) + 1
.l:     mov eax, ecx
        mov [edi], cl
        add edx, 1
.imm:   mov ebx, 0
        add esi, ebx
        dec ecx
        jnz .l
        ret
tmpl_end:

%include "tail.inc"
