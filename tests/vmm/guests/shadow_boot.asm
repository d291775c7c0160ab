; Boot sector run by SeaBIOS (tests/vmm/shadow.sh): after POST SeaBIOS
; write-protects its shadow RAM through the i440FX PAM registers, so writes
; to 0xF0000 and 0xFFFF0 (the reset vector), by MOV, by REP STOSB and by a
; disk read into the F segment (INT 13h), must leave the bytes unchanged.
; A control read of the same sector into low RAM must bring the 0x5A
; pattern the test put in LBA 1. Prints the result (int 10h) and leaves
; through the debug-exit port: 0x10 (exit status 33) when every byte kept
; its value, 0x11 (35) otherwise.
bits 16
org 0x7c00
%define SAVE 0x9000             ; copies of the bytes under test
start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    sti
    mov [drive], dl
    mov ax, 0xf000
    mov fs, ax
    ; save F000:0000-000F, F000:FFF0-FFFF, F000:8000-81FF
    push ds
    mov ds, ax
    mov si, 0
    mov di, SAVE
    mov cx, 16
    rep movsb
    mov si, 0xfff0
    mov cx, 16
    rep movsb
    mov si, 0x8000
    mov cx, 512
    rep movsb
    pop ds
    ; writes: MOV byte/word/dword, REP STOSB, a disk read by the BIOS
    not dword [fs:0]
    not byte [fs:4]
    mov word [fs:0xfff0], 0x9090
    mov byte [fs:0xfff2], 0xf4
    push es
    mov ax, 0xf000
    mov es, ax
    mov di, 0xfff4
    mov al, 0xcc
    mov cx, 12
    rep stosb
    mov ax, 0x0201              ; read LBA 1 to F000:8000
    mov cx, 0x0002
    mov dh, 0
    mov dl, [drive]
    mov bx, 0x8000
    int 0x13
    pop es
    jc .fail
    mov ax, 0x0201              ; the same sector to 0000:A000
    mov cx, 0x0002
    mov dh, 0
    mov dl, [drive]
    mov bx, 0xa000
    int 0x13
    jc .fail
    cmp dword [0xa000], 0x5a5a5a5a
    jne .fail
    cmp dword [0xa1fc], 0x5a5a5a5a
    jne .fail
    ; compare with the saved copies
    push ds
    mov ax, 0xf000
    mov ds, ax
    mov si, 0
    mov di, SAVE
    mov cx, 16
    repe cmpsb
    jne .changed
    mov si, 0xfff0
    mov cx, 16
    repe cmpsb
    jne .changed
    mov si, 0x8000
    mov cx, 512
    repe cmpsb
    jne .changed
    pop ds
    mov si, okmsg
    call print
    call flush
    mov al, 0x10
    out 0xf4, al
    jmp .done
.changed:
    pop ds
    mov si, changedmsg
    call print
    jmp .exitfail
.fail:
    mov si, failmsg
    call print
.exitfail:
    call flush
    mov al, 0x11
    out 0xf4, al
.done:
    hlt
    jmp .done

; print DS:SI through the BIOS (int 10h teletype: on COM1 under
; `vmm --vga none`, where SeaBIOS redirects it there)
print:
    lodsb
    test al, al
    jz .ret
    mov ah, 0x0e
    mov bx, 7
    int 0x10
    jmp print
.ret:
    ret

; SeaBIOS's serial console sends buffered text from its timer interrupt:
; wait three ticks (about 165 ms) before leaving
flush:
    sti
    mov cx, 3
.tick:
    hlt
    loop .tick
    ret

drive: db 0
failmsg: db "shadow: disk read failed", 13, 10, 0
changedmsg: db "shadow: the BIOS area changed", 13, 10, 0
okmsg: db "VMM-TEST-MARKER: shadow-ro-ok", 13, 10, 0
times 510-($-$$) db 0
dw 0xaa55
