; i440FX PAM shadow-RAM write protection, programmed through PCI
; configuration mechanism #1 (0xCF8/0xCFC, host bridge 00:00.0): at power-on
; (PAM 0) the BIOS area drops writes; with write enable (PAM0 = 0x30 for
; 0xF0000-0xFFFFF, 0x33 for two 16 KiB segments of 0xE0000-) writes stick
; and the ROM is copied into the shadow RAM as SeaBIOS does; with read
; enable only (0x10/0x11) writes are dropped again, also the ones the CPU
; had already mapped for fast writes, also into code (self-modifying code
; works only while writable), also by string instructions, and a dword
; that straddles a read-only and a writable segment changes only the
; writable half (16 KiB granularity). Code runs from the ROM's alias below
; 4 GiB (selector 0x08, base 0xFFFF0000) while PAM changes, and from the
; shadow copy (0x18, base 0xF0000) for the self-modifying part.
; Expected values derived from the i440FX datasheet (PAM registers) and
; checked against QEMU's i440FX.
%include "boot.inc"

start:  jmp pam_setup
%include "pm.inc"
%include "check.inc"

%define SEL_HICODE 0x08
%define SEL_FLAT 0x10
%define SEL_SHADOW 0x18

; CFG_READ reg: EAX = dword reg (aligned) of 00:00.0
%macro CFG_READ 1
        mov eax, 0x80000000 | ((%1) & 0xFC)
        mov dx, 0xCF8
        out dx, eax
        mov dx, 0xCFC
        in eax, dx
%endmacro

; PAM_SET reg, value: one byte of 00:00.0's configuration space
%macro PAM_SET 2
        mov eax, 0x80000000 | ((%1) & 0xFC)
        mov dx, 0xCF8
        out dx, eax
        mov dx, 0xCFC + ((%1) & 3)
        mov al, %2
        out dx, al
%endmacro

        bits 16
pam_setup:
        cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, STACK_TOP
        o32 lgdt [cs:gdt_desc]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp dword SEL_HICODE:pm
        bits 32
pm:     mov ax, SEL_FLAT
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, STACK_TOP
        PUTS32 `pam: start\n`
        CFG_READ 0x00
        CHECK32 eax, 0x12378086                 ; i440FX
        CFG_READ 0x58
        and eax, 0xFFFFFF00
        CHECK32 eax, 0                          ; PAM0-2 after reset
        CFG_READ 0x5C
        CHECK32 eax, 0                          ; PAM3-6

        ; ---- power-on: the BIOS area takes no writes ----
        CHECK32 [0xF8000], 0xF4F4F4F4
        mov dword [0xF8000], 0x12345678
        mov dword [0xF8000], 0x12345678
        CHECK32 [0xF8000], 0xF4F4F4F4
        mov byte [0xFFFF0], 0x90
        movzx eax, byte [0xFFFF0]
        CHECK32 eax, 0xEA                       ; the reset vector's far JMP
%ifndef QEMU_DIFF   ; QEMU 7.2 with a 64 KiB -bios has writable memory at 0xE0000 with PAM 0
        mov dword [0xE0000], 0x12345678
        cmp dword [0xE0000], 0x12345678
        jne .e_ro
        PUTS32 `0xE0000 took a write with PAM 0\n`
        jmp fail32
.e_ro:
%endif

        ; ---- write enable: shadow RAM, filled from the ROM ----
        PAM_SET 0x59, 0x30                      ; 0xF0000-0xFFFFF: RE, WE
        PAM_SET 0x5E, 0x33                      ; 0xE0000-0xE7FFF: RE, WE
        CFG_READ 0x5C
        CHECK32 eax, 0x00330000
        mov esi, 0xFFFF0000
        mov edi, 0xF0000
        mov ecx, 0x10000 / 4
        rep movsd
        CHECK32 [0xF8000], 0xF4F4F4F4
        xor eax, eax
        mov edi, 0xE0000
        mov ecx, 0x8000 / 4
        rep stosd
        mov ecx, 4                              ; the later rounds write through
.wr:    mov [0xF8000], ecx                      ; the TLB's write entries
        mov [0xE0000], ecx
        mov [0xE4000], ecx
        mov [0xFFFF8], ecx
        loop .wr
        CHECK32 [0xF8000], 1
        CHECK32 [0xE0000], 1
        CHECK32 [0xE4000], 1
        CHECK32 [0xFFFF8], 1

        ; ---- code in the shadow copy: modifiable only while writable ----
        jmp SEL_SHADOW:shadow
shadow: call probe
        CHECK32 eax, 0x11111111
        mov dword [0xF0000 + probe + 1], 0x22222222
        call probe
        CHECK32 eax, 0x22222222
        PAM_SET 0x59, 0x10                      ; 0xF0000-0xFFFFF: RE only
        mov dword [0xF0000 + probe + 1], 0x33333333
        call probe
        CHECK32 eax, 0x22222222
        CHECK32 [0xF0000 + probe + 1], 0x22222222
        jmp SEL_HICODE:hi

        ; ---- read-only again: earlier fast write mappings are gone ----
hi:     mov ecx, 4
.ro:    mov dword [0xF8000], 0xAAAAAAAA
        mov dword [0xFFFF8], 0xAAAAAAAA
        loop .ro
        CHECK32 [0xF8000], 1                    ; the shadow keeps its bytes
        CHECK32 [0xFFFF8], 1
        mov edi, 0xF9000
        mov eax, 0x55555555
        mov ecx, 4
        rep stosd
        CHECK32 [0xF9000], 0xF4F4F4F4
        CHECK32 [0xF900C], 0xF4F4F4F4
        ; 16 KiB granularity: E0000-E3FFF read-only, E4000-E7FFF writable
        PAM_SET 0x5E, 0x31
        mov dword [0xE0000], 0xBBBBBBBB
        CHECK32 [0xE0000], 1
        mov dword [0xE4000], 0xBBBBBBBB
        CHECK32 [0xE4000], 0xBBBBBBBB
        mov dword [0xE3FFE], 0xDDCCBBAA         ; straddles the two
        CHECK32 [0xE3FFC], 0
        CHECK32 [0xE4000], 0xBBBBDDCC
        mov esi, 0xFFFF0000
        mov edi, 0xE3FF0
        mov ecx, 0x20
        rep movsb                               ; string copy across the two
        CHECK32 [0xE3FF0], 0
        CHECK32 [0xE3FFC], 0
        mov eax, [0xFFFF0010]
        CHECK32 [0xE4000], eax

        ; ---- writable again ----
        PAM_SET 0x59, 0x30
        PAM_SET 0x5E, 0x33
        mov dword [0xF8000], 7
        mov dword [0xE0000], 7
        CHECK32 [0xF8000], 7
        CHECK32 [0xE0000], 7
        PUTS32 `pam: all checks passed\n`
        jmp pass32

probe:  mov eax, 0x11111111
        ret

        align 8
gdt:    dq 0
        DESC 0xFFFF0000, 0xFFFF, 0x9A, 0x4      ; 0x08 code32 at the ROM's 4 GiB alias
        DESC 0, 0xFFFFF, 0x92, 0xC              ; 0x10 data, flat
        DESC 0xF0000, 0xFFFF, 0x9A, 0x4         ; 0x18 code32 in the shadow RAM
gdt_desc:
        dw 4 * 8 - 1
        dd gdt + 0xFFFF0000

%include "tail.inc"
