; Boot sector for platform_vnc: a Bochs VBE mode (320x200, 32 bpp) set
; through ports 0x1CE/0x1CF and drawn through the 64 KiB bank window at
; 0xA0000 (four banks: red is the bank, green the row within it, blue
; constant), then "vbe-ready" on COM1 and a wait with interrupts enabled.
%include "bootsector.inc"
    boot_start
    com1_init
%macro vbe_set 2
    mov dx, 0x1ce
    mov ax, %1
    out dx, ax
    mov dx, 0x1cf
    mov ax, %2
    out dx, ax
%endmacro
    vbe_set 4, 0                    ; disable
    vbe_set 1, 320
    vbe_set 2, 200
    vbe_set 3, 32
    vbe_set 4, 1                    ; enable, banked
    mov ax, 0xa000
    mov es, ax
    xor bx, bx                      ; bank
.bank:
    vbe_set 5, bx
    xor di, di
.px:
    mov ax, di
    shr ax, 8
    mov ah, bl
    shl ah, 6                       ; red: the bank
    xchg al, ah                     ; AL red, AH green
    mov [es:di+2], al
    mov [es:di+1], ah
    mov byte [es:di], 0x80
    mov byte [es:di+3], 0
    add di, 4
    jnz .px
    inc bx
    cmp bx, 4
    jb .bank
    mov si, ready
.p: lodsb
    test al, al
    jz .wait
    com1_putc
    jmp .p
.wait:
    hlt
    jmp .wait
ready: db "vbe-ready", 13, 10, 0
times 510-($-$$) db 0
dw 0xaa55
