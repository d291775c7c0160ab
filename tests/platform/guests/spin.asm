; Boot sector that prints a line on COM1 and then spins with interrupts
; disabled: nothing can ever make progress again.
bits 16
org 0x7c00
    cli
    xor ax, ax
    mov ds, ax
    mov si, msg
.next:
    lodsb
    test al, al
    jz .spin
    mov dx, 0x3f8
    out dx, al
    jmp .next
.spin:
    inc ax
    jmp .spin
msg: db "about to spin", 13, 10, 0
times 510-($-$$) db 0
dw 0xaa55
