; Boot sector (or El Torito no-emulation image): prints a marker through the
; BIOS (int 10h, so it lands on the VGA text screen) and on COM1, then
; halts with interrupts enabled. With -DWRITE_TEST it first writes LBA 1
; through int 13h and reads it back, printing readback-ok when it matches,
; and at the end leaves through the debug-exit port (vmm exits with 33).
%include "bootsector.inc"
start:
    boot_start
    mov [drive], dl
    com1_init
%ifdef WRITE_TEST
    mov di, 0x8000              ; sector image: 512 x 0xA5
    mov cx, 512
    mov al, 0xa5
    rep stosb
    mov ax, 0x0301              ; write 1 sector
    mov cx, 0x0002              ; cylinder 0, sector 2 (LBA 1)
    mov dh, 0
    mov dl, [drive]
    mov bx, 0x8000
    int 0x13
    jc .fail
    mov di, 0x9000
    mov cx, 512
    xor al, al
    rep stosb
    mov ax, 0x0201              ; read it back
    mov cx, 0x0002
    mov dh, 0
    mov dl, [drive]
    mov bx, 0x9000
    int 0x13
    jc .fail
    mov si, 0x9000
    mov cx, 512
.cmp:
    lodsb
    cmp al, 0xa5
    jne .fail
    loop .cmp
    mov si, rbok
    call print
%endif
    mov si, msg
    call print
%ifdef WRITE_TEST
    mov al, 0x10
    out 0xf4, al
%endif
.done:
    hlt
    jmp .done
.fail:
    mov si, failmsg
    call print
    jmp .done

print:
    lodsb
    test al, al
    jz .ret
    mov ah, 0x0e
    mov bx, 7
    push ax
    int 0x10
    pop ax
    com1_putc
    jmp print
.ret:
    ret

drive: db 0
%ifdef WRITE_TEST
rbok: db "readback-ok ", 0
%endif
failmsg: db "GUEST-FAILED", 13, 10, 0
msg: db "VMM-TEST-MARKER: bootsector-ok", 13, 10, 0
times 510-($-$$) db 0
dw 0xaa55
