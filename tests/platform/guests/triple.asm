; Boot sector that triple-faults: an empty IDT makes int3 fault, the #GP
; cannot be delivered either (double fault), and neither can the #DF.
bits 16
org 0x7c00
    cli
    xor ax, ax
    mov ds, ax
    lidt [idt]
    int3
    jmp $
idt: dw 0
     dd 0
times 510-($-$$) db 0
dw 0xaa55
