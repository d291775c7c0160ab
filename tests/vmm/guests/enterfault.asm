; ENTER checks its last stack write before it writes anything: a #PF on
; that slot leaves memory, ESP and EBP as they were (SDM: ENTER is
; restartable). QEMU 7.2 TCG writes the upper slots first: no QEMU twin.
; Run at ring 3 so that the #PF frame goes to the ring-0 stack, away from
; the stack under test.
%include "pmtest.inc"

%define PD 0x10000
%define PT0 0x11000
%define PTE(addr) (PT0 + ((addr) >> 12) * 4)

        bits 32
pm_main:
        PUTS32 `enterfault: start\n`
        ; identity page table, user and writable; page 0x20000 not present
        mov edi, PT0
        mov eax, 0x007
        mov ecx, 1024
.fill:  stosd
        add eax, 0x1000
        loop .fill
        mov dword [PD], PT0 | 0x007
        mov dword [PTE(0x20000)], 0x20006
        mov eax, PD
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp .paged
.paged: mov dword [0x21000], 0x55555555     ; the slot ENTER level 31 writes last but one
        mov dword [0x21004], 0x66666666
        SET_GATE 0x81, back_to_ring0, 0xEE
        SET_GATE CHK_FAIL_VEC, chk_failed, 0xEE
        IRET_TO SEL_CODE3, SEL_DATA3, 0x2107C, ring3

ring3:  mov ax, SEL_DATA3
        mov ds, ax
        mov es, ax
        mov ebp, 0x21800
        mov dword [EXC_COUNT], 0
        mov dword [EXC_RESUME], .resume
.enter: enter 0, 31                         ; 32 slots: 0x21078 down to 0x20FFC
        mov edx, 0xEEEE
        int CHK_FAIL_VEC
.resume:
        mov ebx, esp                        ; before anything else touches the stack
        mov esi, ebp
        CHKNS ebx, 0x2107C
        CHKNS esi, 0x21800
        CHKNS dword [EXC_VEC], 14
        CHKNS dword [EXC_ERR], 6            ; user write to a page not present
        CHKNS dword [EXC_CR2], 0x20FFC
        CHKNS dword [EXC_EIP], .enter
        CHKNS dword [EXC_COUNT], 1
        CHKNS dword [0x21000], 0x55555555   ; nothing written before the fault
        CHKNS dword [0x21004], 0x66666666
        int 0x81

back_to_ring0:
        mov ax, SEL_DATA
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, STACK_TOP
        mov dword [EXC_RESUME], 0
        PUTS32 `enterfault: all checks passed\n`
        jmp pass32

%include "tail.inc"
