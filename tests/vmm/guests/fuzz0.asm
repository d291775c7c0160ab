; Robustness at CPL 0: pseudo-random bytes (seed SEED, nasm -DSEED=n) run
; as ring-0 protected-mode code with paging off, so they may reload GDTR,
; IDTR, CR0/CR3/CR4, switch tasks, fault, double fault or shut down.
; Any guest outcome is fine; tests/vmm/fuzz0.sh only checks that the
; emulator itself never crashes.
%include "pmtest.inc"

%ifndef SEED
%define SEED 1
%endif
%define REGION 0x100000
%define REGION_SIZE 0x4000

        bits 32
pm_main:
        mov eax, (SEED * 0x9E3779B9 + 1) & 0xFFFFFFFF
        mov edi, REGION
        mov ecx, REGION_SIZE / 4
.fill:  XORSHIFT32
        mov [edi], eax
        add edi, 4
        loop .fill
        ; every exception restarts somewhere else in the region
        xor ecx, ecx
.idt:   mov eax, restart
        mov word [IDT_BASE + ecx*8], ax
        shr eax, 16
        mov word [IDT_BASE + ecx*8 + 6], ax
        inc ecx
        cmp ecx, 32
        jb .idt
        mov esi, SEED
        jmp restart

restart:
        mov ax, SEL_DATA
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, STACK_TOP
        imul esi, esi, 1103515245
        add esi, 12345
        mov eax, esi
        shr eax, 8
        and eax, REGION_SIZE - 1
        add eax, REGION - 0xF0000           ; CS base is 0xF0000
        xor ebx, ebx
        xor ecx, ecx
        xor edx, edx
        xor edi, edi
        xor ebp, ebp
        jmp eax

%include "tail.inc"
