; Boot sector that paints an NT 4.0-style STOP screen into VGA text memory
; (blue background, white text) and halts, as a text-mode bluescreen does.
bits 16
org 0x7c00
    cli
    xor ax, ax
    mov ds, ax
    mov ax, 0xb800
    mov es, ax
    xor di, di
    mov cx, 80*25
    mov ax, 0x1f20                  ; blank, white on blue
    rep stosw
    mov si, line1
    xor di, di
    call put
    mov si, line2
    mov di, 160
    call put
.halt:
    hlt
    jmp .halt
put:
    lodsb
    test al, al
    jz .ret
    mov ah, 0x1f
    stosw
    jmp put
.ret:
    ret
line1: db "*** STOP: 0x0000007B (0xF741B84C,0xC0000034,0x00000000,0x00000000)", 0
line2: db "INACCESSIBLE_BOOT_DEVICE", 0
times 510-($-$$) db 0
dw 0xaa55
