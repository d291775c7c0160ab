; Random code for the translator's differential test (tests/vmm/jit_diff.sh):
; jit_rand.inc is written by gen_jit at test time. Each sequence ends in a
; dump of the registers, the arithmetic flags and the data buffer; the
; transcript must be the same on every CPU path (VMM_CPU=interp is the
; reference).
%include "pmtest.inc"

%define LOOPCNT (VAR0 + 0x40)
%define BUF 0x30000

        bits 32
pm_main:
        PUTS32 `jit_rand: start\n`
        mov edi, BUF
        mov ecx, 16
        mov eax, 0x9E3779B9
.fill:  mov [edi], eax
        rol eax, 7
        add edi, 4
        loop .fill
        mov ebp, BUF
%include "jit_rand.inc"
        PUTS32 `jit_rand: done\n`
        jmp pass32

; Prints EAX..EDI, the arithmetic flags, ESP and the buffer; keeps EBP.
dump:   pushfd
        push edi
        push esi
        push edx
        push ecx
        push ebx
        push eax
        mov ecx, 6
.regs:  pop eax
        call hex32
        mov al, ' '
        out DEBUG_PORT, al
        loop .regs
        pop eax
        and eax, 0x8D5
        call hex32
        mov al, ' '
        out DEBUG_PORT, al
        lea eax, [esp + 4]                  ; ESP of the sequence
        call hex32
        mov al, ' '
        out DEBUG_PORT, al
        xor esi, esi
.buf:   mov eax, [BUF + esi*4]
        call hex32
        inc esi
        cmp esi, 16
        jb .buf
        mov al, 10
        out DEBUG_PORT, al
        ret

%include "tail.inc"
