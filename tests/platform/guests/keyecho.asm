; Boot sector for the keyboard tests (--send-keys, VNC): prints "keys> " on
; COM1, then echoes every key int 16h returns to COM1 (a key without a
; character as [XX], its scan code). Enter first writes "screen> " on the
; screen (only there), then CR LF on COM1; Esc leaves through isa-debug-exit
; (exit status 7).
%include "bootsector.inc"
    boot_start
    com1_init
    mov si, prompt
    call puts
.key:
    xor ah, ah
    int 0x16
    test al, al
    jz .scan
    cmp al, 0xE0
    je .scan
    cmp al, 0x1B
    je .exit
    cmp al, 13
    je .enter
    com1_putc
    jmp .key
.enter:
    mov si, screen
    mov ah, 0x0E
.s: lodsb
    test al, al
    jz .crlf
    int 0x10
    jmp .s
.crlf:
    mov al, 13
    com1_putc
    mov al, 10
    com1_putc
    jmp .key
.exit:
    mov al, 3
    out 0xf4, al
    jmp .exit
.scan:                              ; [XX]: the scan code in AH
    mov bl, ah
    mov al, '['
    com1_putc
    mov al, bl
    shr al, 4
    call hex
    mov al, bl
    and al, 15
    call hex
    mov al, ']'
    com1_putc
    jmp .key
hex:
    add al, '0'
    cmp al, '9'
    jbe .d
    add al, 7
.d: com1_putc
    ret
puts:
    lodsb
    test al, al
    jz .e
    com1_putc
    jmp puts
.e: ret
prompt: db "keys> ", 0
screen: db "screen> ", 0
times 510-($-$$) db 0
dw 0xaa55
