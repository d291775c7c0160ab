; Boot sector that prints a banner line and then a login prompt (no
; newline) on COM1, and waits for input with interrupts enabled.
bits 16
org 0x7c00
    xor ax, ax
    mov ds, ax
    sti
    mov si, msg
.next:
    lodsb
    test al, al
    jz .wait
    mov ah, al
    mov dx, 0x3fd
.busy:
    in al, dx
    test al, 0x20
    jz .busy
    mov al, ah
    mov dx, 0x3f8
    out dx, al
    jmp .next
.wait:
    hlt
    jmp .wait
msg: db "Debian GNU/Linux 12 testbox ttyS0", 13, 10, 13, 10, "testbox login: ", 0
times 510-($-$$) db 0
dw 0xaa55
