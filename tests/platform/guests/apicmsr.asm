; Boot sector: the CPU side of the local APIC, from flat 32-bit protected
; mode: CPUID.1 EDX bit 9, IA32_APIC_BASE (0x1B), the version register at
; the reset base, relocation through the MSR (the registers move, the old
; page reads open bus), global disable (CPUID bit 9 goes with it, and a
; P6 cannot enable it again before reset), and #GP for a reserved bit
; (for any write without an APIC). Prints on COM1, e.g.
;   apic=00000001 base=FEE00900 ver=00050014 new=00050014 old=FFFFFFFF
;   apic=00000000 off=FEF00100 gp=00000001
; and without an APIC "apic=00000000 base=FEE00900 gp=00000001"
; (tests/platform/apic.sh).
%include "bootsector.inc"
start:
    boot_start
    com1_init
    cli
    lgdt [gdt]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:pm

bits 32
pm:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7c00
    mov dword [0x1000 + 13 * 8], gp_handler + (0x08 << 16)     ; #GP: interrupt gate
    mov dword [0x1000 + 13 * 8 + 4], 0x8e00
    lidt [idtr]
    xor ebp, ebp                ; #GP count
    mov eax, 1
    cpuid
    shr edx, 9
    and edx, 1
    mov ebx, edx
    mov eax, edx
    mov esi, s_apic
    call field
    mov ecx, 0x1b
    rdmsr
    mov esi, s_base
    call field
    test ebx, ebx
    jz .reserved
    mov eax, [0xfee00030]
    mov esi, s_ver
    call field
    mov ecx, 0x1b
    mov eax, 0xfef00900         ; move the registers to 0xFEF00000
    xor edx, edx
    wrmsr
    mov eax, [0xfef00030]
    mov esi, s_moved
    call field
    mov eax, [0xfee00030]
    mov esi, s_old
    call field
    mov ecx, 0x1b
    rdmsr
    and eax, ~0x800             ; globally disable
    wrmsr
    mov eax, 1
    cpuid
    mov eax, edx
    shr eax, 9
    and eax, 1
    mov esi, s_apic
    call field
    mov ecx, 0x1b
    rdmsr
    or eax, 0x800               ; a P6 stays disabled until reset
    wrmsr
    rdmsr
    mov esi, s_off
    call field
.reserved:
    mov ecx, 0x1b
    mov eax, 0xfee00b00         ; bit 9 is reserved
    xor edx, edx
    wrmsr
    mov eax, ebp
    mov esi, s_gp
    call field
    mov esi, marker
    call puts
.spin:
    jmp .spin

gp_handler:                     ; count, and skip the 2-byte WRMSR
    inc ebp
    add dword [esp + 4], 2
    add esp, 4
    iret

; field: the string at ESI, EAX in hex, a space.
field:
    push eax
    call puts
    pop edx
    mov ecx, 8
.digit:
    rol edx, 4
    mov al, dl
    and al, 0x0f
    add al, '0'
    cmp al, '9'
    jbe .put
    add al, 'A' - '0' - 10
.put:
    push edx
    com1_putc
    pop edx
    loop .digit
    mov al, ' '
    com1_putc
    ret

puts:
    lodsb
    test al, al
    jz .ret
    com1_putc
    jmp puts
.ret:
    ret

gdt: dw gdt_end - gdt - 1      ; the null descriptor holds the GDTR
    dd gdt
    dw 0
    dq 0x00cf9a000000ffff       ; 0x08: flat code
    dq 0x00cf92000000ffff       ; 0x10: flat data
gdt_end:
idtr: dw 14 * 8 - 1
    dd 0x1000
s_apic: db "apic=", 0
s_base: db "base=", 0
s_ver: db "ver=", 0
s_moved: db "new=", 0
s_old: db "old=", 0
s_off: db "off=", 0
s_gp: db "gp=", 0
marker: db 13, 10, "VMM-TEST-MARKER: apic", 13, 10, 0
times 510-($-$$) db 0
dw 0xaa55
