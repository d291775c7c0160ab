; Benchmark payload run as the BIOS (64 KiB ROM, real mode, 32-bit
; registers). nasm -DLOOP=A|B -DITER=n. Loop A: dec ecx / jnz (2
; instructions per iteration). Loop B: 8 instructions per iteration with
; one load and one store. Ends with isa-debug-exit (port 0xF4, value 0 ->
; exit status 1) after printing DONE on the debug console.
        cpu 686
        bits 16
        org 0
start:  cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7000
        mov esi, 0x8000
        mov edi, 0x9000
        xor ebx, ebx
        mov ecx, ITER
        test ecx, ecx
        jz done
%ifidn LOOP, A
        align 16
.a:     dec ecx
        jnz .a
%else
        align 16
.b:     mov eax, [esi]
        add eax, ebx
        mov [edi], eax
        inc ebx
        xor edx, eax
        or edx, ebx
        dec ecx
        jnz .b
%endif
done:   mov dx, 0xE9
        mov al, 'D'
        out dx, al
        mov al, 10
        out dx, al
        mov al, 0
        out 0xF4, al
        mov dx, 0x8900
        mov si, shutdown
.s:     cs lodsb
        test al, al
        jz .h
        out dx, al
        jmp .s
.h:     cli
        hlt
        jmp .h
shutdown: db "Shutdown", 0
        times 0xFFF0-($-$$) db 0
        jmp 0xF000:start
        times 0x10000-($-$$) db 0
