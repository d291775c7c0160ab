; Boot sector: VGA mode 12h (640x480, 16 colours, planar) drawn through
; the graphics controller, then a Windows-style STOP line printed by the
; VGA BIOS in white over it; COM1 gets the colour-compare result and the
; marker. What the screenshot must show (tests/platform/vga.sh):
;   everything blue (write mode 0, set/reset colour 1 into all planes)
;   row 100, x 0-3 white, x 4-7 blue  (write mode 2, bit mask F0)
;   row 200, x 80-83 blue, x 84-87 red (write mode 3, colour 4, byte 0Fh)
;   row 300, x 40-47 as row 100 x 0-7 (write mode 1, a latch copy)
;   row 400, x 0-7 magenta (map mask plane 2 only over blue)
; and COM1 "cmp=0F" (read mode 1 at row 200 byte 10, comparing with red).
%include "bootsector.inc"
start:
    boot_start
    com1_init

    mov ax, 0x0012              ; mode 12h
    int 0x10
    mov ax, 0xa000
    mov es, ax

    mov dx, 0x3ce               ; graphics controller: index in AL, value in AH
    mov ax, 0x0100              ; set/reset colour 1 (blue)
    out dx, ax
    mov ax, 0x0f01              ; ... enabled for all planes
    out dx, ax
    mov ax, 0x0003              ; no rotation, replace
    out dx, ax
    mov ax, 0x0005              ; write mode 0
    out dx, ax
    mov ax, 0xff08              ; bit mask: all
    out dx, ax
    mov dx, 0x3c4
    mov ax, 0x0f02              ; map mask: all planes
    out dx, ax
    xor di, di
    mov cx, 640 / 8 * 480
    rep stosb

    mov dx, 0x3ce
    mov ax, 0x0001              ; set/reset off
    out dx, ax
    mov ax, 0x0205              ; write mode 2: the byte is a colour
    out dx, ax
    mov ax, 0xf008              ; bit mask: the left four pixels
    out dx, ax
    mov di, 100 * 80
    mov al, [es:di]             ; load the latches
    mov al, 15
    mov [es:di], al

    mov ax, 0x0305              ; write mode 3: set/reset colour through the byte
    out dx, ax
    mov ax, 0xff08
    out dx, ax
    mov ax, 0x0400              ; colour 4 (red)
    out dx, ax
    mov di, 200 * 80 + 10
    mov al, [es:di]
    mov al, 0x0f
    mov [es:di], al

    mov ax, 0x0105              ; write mode 1: the latches as read
    out dx, ax
    mov al, [es:100 * 80]
    mov [es:300 * 80 + 5], al

    mov ax, 0x0805              ; read mode 1: colour compare
    out dx, ax
    mov ax, 0x0402              ; with red
    out dx, ax
    mov ax, 0x0f07              ; in all planes
    out dx, ax
    mov al, [es:200 * 80 + 10]
    mov [cmpval], al
    mov ax, 0x0005              ; read and write mode 0
    out dx, ax

    mov dx, 0x3c4
    mov ax, 0x0402              ; map mask: plane 2 only
    out dx, ax
    mov byte [es:400 * 80], 0xff
    mov ax, 0x0f02
    out dx, ax

    mov si, stop                ; the STOP line, white, through the VGA BIOS
.text:
    lodsb
    test al, al
    jz .serial
    mov ah, 0x0e
    mov bx, 0x000f
    int 0x10
    jmp .text
.serial:
    mov si, cmpmsg
    call print
    mov al, [cmpval]
    shr al, 4
    call hexdigit
    mov al, [cmpval]
    call hexdigit
    mov si, marker
    call print
.done:
    hlt
    jmp .done

hexdigit:
    and al, 0x0f
    add al, '0'
    cmp al, '9'
    jbe putc
    add al, 'A' - '0' - 10
putc:
    com1_putc
    ret

print:
    lodsb
    test al, al
    jz .ret
    call putc
    jmp print
.ret:
    ret

cmpval: db 0
stop: db "*** STOP: 0x0000007B (0xF741B84C,0xC0000034,0x00000000,0x00000000)", 13, 10
      db "INACCESSIBLE_BOOT_DEVICE", 0
cmpmsg: db "cmp=", 0
marker: db 13, 10, "VMM-TEST-MARKER: planar-ok", 13, 10, 0
times 510-($-$$) db 0
dw 0xaa55
