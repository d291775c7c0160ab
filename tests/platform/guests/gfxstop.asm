; Boot sector: a Windows 2000/XP-style graphical STOP screen as bootvid
; draws it. VGA mode 12h through INT 10h; bootvid's 16-colour palette
; (attribute registers 0-15 identity, DAC entries in Windows order, so
; colour 4 is blue (0,0,80h), where the VGA BIOS's default has red); the
; whole screen in colour 4; five bands of white "text" (stripes, not
; glyphs: the verdict does not read the font); then STI and HLT forever,
; as a machine sitting on its STOP screen. KeBugCheckEx's format string
; is in RAM as ntoskrnl holds it, and the formatted STOP line too, ANSI
; or UTF-16LE. Variants (nasm -D):
;   NO_STOP   no formatted STOP line in RAM (the format string only)
;   UTF16     the formatted line in UTF-16LE
;   GREY      the screen in colour 7 (grey, a desktop), not 4
;   VGA_PAL   the VGA BIOS's palette kept: colour 4 is red
;   NO_TEXT   no white bands: a blue screen without text
;   SPIN      a busy loop with interrupts disabled instead of STI/HLT
%include "bootsector.inc"
start:
    boot_start
    mov ax, 0x0012              ; mode 12h
    int 0x10
%ifndef VGA_PAL
    mov ax, 0x1002              ; attribute registers 0-15 and overscan
    mov dx, attrs
    int 0x10
    mov ax, 0x1012              ; DAC entries 0-15
    xor bx, bx
    mov cx, 16
    mov dx, dac
    int 0x10
%endif
    mov ax, 0xa000
    mov es, ax
    mov dx, 0x3ce               ; graphics controller: index AL, value AH
%ifdef GREY
    mov ax, 0x0700              ; set/reset colour 7
%else
    mov ax, 0x0400              ; set/reset colour 4
%endif
    out dx, ax
    mov ax, 0x0f01              ; for all planes
    out dx, ax
    xor di, di
    mov cx, 640 / 8 * 480
    rep stosb                   ; write mode 0, bit mask FFh: the fill
%ifndef NO_TEXT
    mov ax, 0x0f00              ; colour 15, white
    out dx, ax
    mov ax, 0x6608              ; bit mask: two pixels of each four
    out dx, ax
    mov bx, 5                   ; five bands of 12 lines, the full width
    mov di, 16 * 80
.band:
    mov cx, 12 * 80
.pixel:
    mov al, [es:di]             ; the latches keep the pixels outside the mask
    mov [es:di], al
    inc di
    loop .pixel
    add di, 8 * 80
    dec bx
    jnz .band
%endif
%ifdef SPIN
    cli
.idle:
    jmp .idle
%else
.idle:
    sti
    hlt
    jmp .idle
%endif

attrs: db 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0
dac:   db 0, 0, 0,  0x20, 0, 0,  0, 0x20, 0,  0x20, 0x20, 0,  0, 0, 0x20
       db 0x20, 0, 0x20,  0, 0x20, 0x20,  0x20, 0x20, 0x20,  0x30, 0x30, 0x30
       db 0x3f, 0, 0,  0, 0x3f, 0,  0x3f, 0x3f, 0,  0, 0, 0x3f,  0x3f, 0, 0x3f
       db 0, 0x3f, 0x3f,  0x3f, 0x3f, 0x3f
format: db "*** STOP: 0x%08lX (0x%08lX,0x%08lX,0x%08lX,0x%08lX)", 13, 10, 0
%ifndef NO_STOP
%define STOP_LINE "*** STOP: 0x0000007B (0xF78D2524,0xC0000034,0x00000000,0x00000000)"
%ifdef UTF16
line: dw __utf16__(STOP_LINE), 13, 10, 0
%else
line: db STOP_LINE, 13, 10, 0
%endif
%endif
times 510-($-$$) db 0
dw 0xaa55
