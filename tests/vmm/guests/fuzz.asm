; Robustness: pseudo-random bytes executed as ring-3 code under paging,
; single-stepped (TF) so no loop can hang. Every exception lands in a
; ring-0 handler that counts it, now and then rewrites the code region
; (self-modifying code from the CPU's point of view) and restarts at a
; random place. The test passes when the emulator survives the given number
; of events; with the sanitizer build this checks that nothing a guest does
; can crash the emulator. Only ring 3 runs random code; the user pages are
; 0x100000-0x10FFFF (code) and 0x110000-0x110FFF (stack), everything else is
; supervisor-only.
%include "pmtest.inc"

%define PD 0x10000
%define PT0 0x11000
%define REGION 0x100000
%define REGION_SIZE 0x10000
%define USTACK 0x111000
%define EVENTS 20000
%define SEED VAR0 + 0x40
%define COUNT VAR0 + 0x44
%define STEPS VAR0 + 0x48
%define SEL_FLAT3 0x23              ; GDT slot 0x20 rewritten: flat ring-3 code

        bits 32
pm_main:
        PUTS32 `fuzz: start\n`
        ; flat ring-3 code at 0x20, no task gate, no call gate
        mov dword [GDT_BASE + 0x20], 0x0000FFFF
        mov dword [GDT_BASE + 0x24], 0x00CFFA00
        mov dword [GDT_BASE + 0x80], 0
        mov dword [GDT_BASE + 0x84], 0
        mov dword [GDT_BASE + 0x58], 0
        mov dword [GDT_BASE + 0x5C], 0
        ; no port is open to ring 3 (random OUT 0xF4 would end the test)
        mov edi, TSS0 + 0x68
        mov ecx, 0x2000 / 4
        mov eax, 0xFFFFFFFF
        rep stosd
        ; every vector 0-31 and 0x80 goes to the event handler
        xor ecx, ecx
.idt:   mov eax, event
        mov word [IDT_BASE + ecx*8], ax
        mov word [IDT_BASE + ecx*8 + 2], SEL_CODE32
        mov word [IDT_BASE + ecx*8 + 4], 0x8E00
        shr eax, 16
        mov word [IDT_BASE + ecx*8 + 6], ax
        inc ecx
        cmp ecx, 32
        jb .idt
        ; paging: identity map of the first 4 MiB, user only for the region
        mov edi, PT0
        mov eax, 0x003
        mov ecx, 1024
.pt:    stosd
        add eax, 0x1000
        loop .pt
        mov ecx, (REGION_SIZE >> 12) + 1
        mov edi, PT0 + (REGION >> 12) * 4
.upt:   or dword [edi], 4
        add edi, 4
        loop .upt
        mov dword [PD], PT0 | 0x007
        mov eax, PD
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80010000                  ; PG, WP
        mov cr0, eax
        mov dword [SEED], 0x12345678
        mov dword [COUNT], 0
        call refill
        ; enter ring 3 at the start of the region, TF set
        push dword SEL_DATA3
        push dword USTACK
        push dword 0x302
        push dword SEL_FLAT3
        push dword REGION
        iret

; xorshift32 in EAX
rand:   mov eax, [SEED]
        XORSHIFT32
        mov [SEED], eax
        ret

refill: mov edi, REGION
        mov ecx, REGION_SIZE / 4
.r:     call rand
        mov [edi], eax
        add edi, 4
        loop .r
        ret

; Any event from ring 3 (or from ring 0 if a handler itself faulted).
event:  mov ax, SEL_DATA
        mov ds, ax
        mov es, ax
        inc dword [COUNT]
        cmp dword [COUNT], EVENTS
        jae .done
        mov eax, [COUNT]
        test eax, 0x3FF
        jnz .same
        call refill                         ; new code under the old blocks
.same:  inc dword [STEPS]
        ; back to ring 3 at a random address after 64 steps or any fault
        mov eax, [esp]                      ; EIP, or the error code
        cmp dword [STEPS], 64
        jb .cont
.new:   mov dword [STEPS], 0
        mov esp, STACK_TOP
        call rand
        and eax, REGION_SIZE - 1
        add eax, REGION
        push dword SEL_DATA3
        push dword USTACK
        push dword 0x302
        push dword SEL_FLAT3
        push eax
        iret
.cont:  ; a single-step trap (no error code, CS is ours): continue there
        mov eax, [esp + 4]
        cmp eax, SEL_FLAT3
        jne .new
        test dword [esp + 8], 0x100
        jz .new
        iret
.done:  mov esp, STACK_TOP
        mov eax, cr0
        and eax, 0x7FFFFFFF
        mov cr0, eax
        PUTS32 `fuzz: survived\n`
        jmp pass32

%include "tail.inc"
