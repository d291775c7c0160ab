; Boot sector: VGA mode 13h (320x200, 256 colours, chain-4): the screen
; filled with colour 1 (blue), pixel (10,100) colour 4 (red), pixel
; (319,199) colour 15 (white); then the marker on COM1
; (tests/platform/vga.sh checks the screenshot).
%include "bootsector.inc"
start:
    boot_start
    com1_init
    mov ax, 0x0013
    int 0x10
    mov ax, 0xa000
    mov es, ax
    xor di, di
    mov cx, 320 * 200
    mov al, 1
    rep stosb
    mov byte [es:100 * 320 + 10], 4
    mov byte [es:199 * 320 + 319], 15
    mov si, marker
.print:
    lodsb
    test al, al
    jz .done
    com1_putc
    jmp .print
.done:
    hlt
    jmp .done

marker: db "VMM-TEST-MARKER: mode13-ok", 13, 10, 0
times 510-($-$$) db 0
dw 0xaa55
