; A boot sector that gives up with MSG, as the boot code of NT-era disks
; does: printed through the BIOS (int 10h teletype, so it lands on the
; text screen, and on COM1 when vmm runs headless), then, like
; Microsoft's MBR, a loop with interrupts enabled (no hang for the CPU
; rule to see), or with -DWAIT_KEY, like the NT boot sectors' "Press any
; key to restart", a wait for a key in the BIOS. nasm -DMSG='"..."'.
bits 16
org 0x7c00
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    sti
    mov si, msg
.next:
    lodsb
    test al, al
    jz .done
    mov ah, 0x0e
    mov bx, 7
    int 0x10
    jmp .next
.done:
%ifdef WAIT_KEY
    xor ax, ax
    int 0x16
    int 0x19
%endif
    jmp .done
msg: db 13, 10, MSG, 13, 10, 0
times 446-($-$$) db 0
times 64 db 0                   ; no partitions
dw 0xaa55
