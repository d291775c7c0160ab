; Paging: 4 KiB and 4 MiB pages, #PF with CR2 and the error code (P, W/R,
; U/S) for reads, writes, fetches and user accesses, CR0.WP, accessed and
; dirty bits, INVLPG and CR3 reloads, page-crossing accesses, and stores
; into code through an alias mapping (self-modifying code is tracked by
; physical address). Expected values are derived by hand from the SDM.
%include "pmtest.inc"

%define PD 0x10000
%define PT0 0x11000
%define PTE(addr) (PT0 + ((addr) >> 12) * 4)

        bits 32
pm_main:
        PUTS32 `paging: start\n`
        ; page table 0: identity, present, writable, user
        mov edi, PT0
        mov eax, 0x007
        mov ecx, 1024
.fill:  stosd
        add eax, 0x1000
        loop .fill
        mov dword [PD], PT0 | 0x007
        mov dword [PD + 4], 0x00000087      ; 4 MiB page at 4 MiB -> physical 0 (PS)
        mov dword [PTE(0x20000)], 0x20006   ; not present
        mov dword [PTE(0x21000)], 0x21001   ; supervisor, read-only
        mov dword [PTE(0x22000)], 0x22005   ; user, read-only
        mov dword [PTE(0x23000)], 0x30007   ; alias of 0x30000
        mov dword [PTE(0x24000)], 0x24007   ; fresh: A and D clear
        mov dword [PTE(0x25000)], 0x25003   ; supervisor, writable
        mov dword [0x30000], 0x30303030
        mov dword [0x31000], 0x31313131
        mov eax, cr4
        or eax, 0x10                        ; PSE
        mov cr4, eax
        mov eax, PD
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp .on
.on:    PUTS32 `paging: enabled\n`

        ; ---- supervisor faults ----
        EXPECT_FAULT 14, 0, {mov eax, [0x20123]}
        CHECK32 [EXC_CR2], 0x20123
        EXPECT_FAULT 14, 2, {mov dword [0x20ffc], 1}
        CHECK32 [EXC_CR2], 0x20ffc
        EXPECT_FAULT 14, 0, {mov eax, [0x1fffe]}    ; crosses into the missing page
        CHECK32 [EXC_CR2], 0x20000
        mov dword [0x21000], 0x11111111             ; WP=0: supervisor may write
        CHECK32 [0x21000], 0x11111111
        mov eax, cr0
        or eax, 0x10000                             ; CR0.WP
        mov cr0, eax
        EXPECT_FAULT 14, 3, {mov dword [0x21000], 2}
        CHECK32 [EXC_CR2], 0x21000
        CHECK32 [0x21000], 0x11111111
        EXPECT_FAULT 14, 3, {add [0x22010], eax}    ; read-modify-write: write fault
        mov dword [EXC_COUNT], 0                    ; fetch from a missing page:
        mov dword [EXC_RESUME], .fetch_back         ; the fault EIP is the target
        mov eax, 0x20040 - 0xF0000
        jmp eax
.fetch_back:
        mov dword [EXC_RESUME], 0
        CHECK32 [EXC_VEC], 14
        CHECK32 [EXC_ERR], 0
        CHECK32 [EXC_EIP], 0x20040 - 0xF0000
        CHECK32 [EXC_CR2], 0x20040

        ; ---- 4 MiB page ----
        mov dword [0x8100], 0xABCD1234
        CHECK32 [0x400000 + 0x8100], 0xABCD1234
        mov dword [0x400000 + 0x8104], 0x55667788
        CHECK32 [0x8104], 0x55667788
        mov eax, [PD + 4]
        and eax, 0x60
        CHECK32 eax, 0x60                           ; PDE accessed and dirty
        EXPECT_FAULT 14, 0, {mov eax, [0x800000]}   ; PDE 2 not present
        CHECK32 [EXC_CR2], 0x800000

        ; ---- accessed and dirty bits ----
        mov eax, [0x24000]
        mov eax, [PTE(0x24000)]
        and eax, 0x60
        CHECK32 eax, 0x20
        mov dword [0x24000], 7
        mov eax, [PTE(0x24000)]
        and eax, 0x60
        CHECK32 eax, 0x60
        mov eax, [PD]
        and eax, 0x20
        CHECK32 eax, 0x20

        ; ---- INVLPG and CR3 reload ----
        CHECK32 [0x23000], 0x30303030
        mov dword [PTE(0x23000)], 0x31007
        invlpg [0x23000]
        CHECK32 [0x23000], 0x31313131
        mov dword [PTE(0x23000)], 0x30007
        mov eax, cr3
        mov cr3, eax
        CHECK32 [0x23000], 0x30303030
        mov dword [PTE(0x23000)], 0x23006           ; not present now
        invlpg [0x23000]
        EXPECT_FAULT 14, 0, {mov eax, [0x23000]}

        ; ---- code modified through an alias mapping ----
        mov esi, smc_code
        mov edi, 0x26000
        mov ecx, smc_end - smc_code
.cp:    mov al, [cs:esi]
        mov [edi], al
        inc esi
        inc edi
        loop .cp
        mov ebx, 0x26000 - 0xF0000
        call ebx
        CHECK32 eax, 0x1111
        mov dword [0x400000 + 0x26001], 0x2222      ; same frame, other page
        call ebx
        CHECK32 eax, 0x2222

        ; ---- user-mode accesses (CPL 3) ----
        SET_GATE 0x80, back_to_ring0, 0xEE          ; DPL 3 interrupt gate
        push dword SEL_DATA3                        ; SS
        push dword STACK3_TOP                       ; ESP
        push dword 0x202                            ; EFLAGS
        push dword SEL_CODE3
        push dword ring3
        iret

        bits 32
ring3:  mov ax, SEL_DATA3
        mov ds, ax
        mov es, ax
        mov eax, [0x22000]                          ; user read-only: read fine
        EXPECT_FAULT 14, 7, {mov dword [0x22000], 1}
        EXPECT_FAULT 14, 5, {mov eax, [0x21000]}    ; supervisor page
        EXPECT_FAULT 14, 5, {mov eax, [0x25000]}
        EXPECT_FAULT 14, 4, {mov eax, [0x20000]}    ; not present
        EXPECT_FAULT 14, 6, {mov dword [0x20000], 1}
        CHECK32 [EXC_CS], SEL_CODE3
        CHECK32 [EXC_SS], SEL_DATA3
        CHECK32 [EXC_ESP], STACK3_TOP
        int 0x80
        jmp fail32

back_to_ring0:
        mov ax, SEL_DATA
        mov ds, ax
        mov es, ax
        mov esp, STACK_TOP
        PUTS32 `paging: all checks passed\n`
        jmp pass32

smc_code:
        mov eax, 0x1111
        ret
smc_end:

%include "tail.inc"
