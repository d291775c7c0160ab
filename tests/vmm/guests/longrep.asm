; A REP STOSD over 4 GiB of address space (writes above RAM are dropped):
; one instruction that would run for many seconds. tests/vmm/cli.sh checks
; that --timeout still ends the run on time.
%include "boot.inc"

        section .text
%include "pm.inc"
start:  ENTER_PM32 pm
        bits 32
pm:     cld
        mov edi, 0x10000000
        mov ecx, 0x3C000000
        xor eax, eax
        rep stosd
        jmp pass32
        bits 16
        PM_GDT
%include "tail.inc"
