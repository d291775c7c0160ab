; Real mode: data movement, stack, near/far control transfer, string
; instructions, the IVT (software INT, #DE and #UD faults with the faulting
; IP pushed), segment arithmetic and 32-bit operands in 16-bit code.
%include "boot.inc"

%macro CHECK 2          ; CHECK reg/mem, expected: on mismatch report and fail
        cmp %1, %2
        je %%ok
        PUTS `check failed: `
        PUTS %str(%1)
        PUTS ` at line `
        mov ax, __LINE__
        call hex16
        PUTS `\n`
        jmp fail16
%%ok:
%endmacro

start:
        cli
        xor ax, ax
        mov ss, ax
        mov sp, STACK_TOP
        mov ds, ax
        mov es, ax
        PUTS `realmode: start\n`

        ; registers and 8/16/32-bit views
        mov eax, 0x12345678
        CHECK ax, 0x5678
        CHECK ah, 0x56
        CHECK al, 0x78
        mov bx, ax
        xchg bh, bl
        CHECK bx, 0x7856
        mov ecx, eax
        shr ecx, 16
        CHECK cx, 0x1234
        movzx edx, ah
        CHECK edx, 0x56
        movsx edx, byte [cs:negbyte]
        CHECK edx, 0xFFFFFF80
        lea si, [bx+di+0x10]
        bswap eax
        CHECK eax, 0x78563412

        ; memory through segments: DS base = 0x800 << 4 = 0x8000
        mov ax, SCRATCH >> 4
        mov ds, ax
        mov word [0], 0xBEEF
        xor ax, ax
        mov es, ax
        CHECK word [es:SCRATCH], 0xBEEF
        mov dword [4], 0xCAFEBABE
        CHECK word [es:SCRATCH+6], 0xCAFE
        xor ax, ax
        mov ds, ax

        ; stack, call/ret, pusha/popa, enter/leave
        mov ax, 0x1111
        push ax
        push word 0x2222
        pop bx
        pop cx
        CHECK bx, 0x2222
        CHECK cx, 0x1111
        call near_fn
        CHECK dx, 0x4242
        mov ax, 1
        mov bx, 2
        pusha
        mov ax, 0
        mov bx, 0
        popa
        CHECK ax, 1
        CHECK bx, 2
        mov bp, 0x1234
        enter 8, 0
        CHECK sp, STACK_TOP - 10
        leave
        CHECK bp, 0x1234
        CHECK sp, STACK_TOP

        ; far call / retf through a different CS value aliasing the ROM
        call 0xEF00:far_fn + 0x1000
        CHECK dx, 0x5151

        ; loops and conditional branches
        mov cx, 10
        xor ax, ax
.lp:    add ax, cx
        loop .lp
        CHECK ax, 55
        mov ecx, 100000
        xor eax, eax
.lp2:   inc eax
        dec ecx
        jnz .lp2
        CHECK eax, 100000

        ; string instructions
        mov ax, SCRATCH >> 4
        mov es, ax
        xor di, di
        mov ax, 0xA5A5
        mov cx, 16
        cld
        rep stosw
        CHECK di, 32
        mov ds, ax
        mov ax, SCRATCH >> 4
        mov ds, ax
        xor si, si
        mov di, 64
        mov cx, 8
        rep movsd
        CHECK dword [64+28], 0xA5A5A5A5
        xor si, si
        mov di, 64
        mov cx, 16
        repe cmpsw
        CHECK cx, 0
        mov byte [64+7], 0
        mov di, 64
        mov al, 0
        mov cx, 32
        repne scasb
        CHECK di, 64+8
        std
        mov si, 3
        lodsb
        CHECK si, 2
        cld
        xor ax, ax
        mov ds, ax
        mov es, ax

        ; software interrupt through the IVT
        mov word [0x80*4], int80
        mov word [0x80*4+2], cs
        mov ax, 1
        int 0x80
        CHECK ax, 2

        ; #DE: pushed IP is the faulting DIV
        mov word [0*4], de_handler
        mov word [0*4+2], cs
        xor bl, bl
        mov ax, 100
div_insn:
        div bl
        CHECK word [SCRATCH+0x100], div_insn

        ; #UD on an undefined opcode, IP of the opcode pushed
        mov word [6*4], ud_handler
        mov word [6*4+2], cs
ud_insn:
        ud2
        CHECK word [SCRATCH+0x102], ud_insn

        ; pushf/popf, sahf/lahf
        mov ah, 0xD5
        sahf
        lahf
        CHECK ah, 0xD7
        stc
        pushf
        pop ax
        test ax, 1
        jz fail16

        ; self-modifying code: patch an immediate, then execute it
        mov ax, SCRATCH >> 4
        mov es, ax
        mov si, smc_template
        xor di, di
        mov cx, smc_end - smc_template
.cp:    mov al, [cs:si]
        mov [es:di], al
        inc si
        inc di
        loop .cp
        call (SCRATCH >> 4):0
        CHECK ax, 0x1111
        mov word [es:1], 0x2222
        call (SCRATCH >> 4):0
        CHECK ax, 0x2222
        xor ax, ax
        mov es, ax

        ; an instruction that crosses a 4 KiB page boundary, then a store
        ; to its bytes on the second page
        mov byte [0x2FFE], 0xB8         ; mov ax, 0x3333
        mov word [0x2FFF], 0x3333
        mov byte [0x3001], 0xCB         ; retf
        call 0x0000:0x2FFE
        CHECK ax, 0x3333
        mov byte [0x3000], 0x44
        call 0x0000:0x2FFE
        CHECK ax, 0x4433

        PUTS `realmode: all checks passed\n`
        jmp pass16

near_fn:
        mov dx, 0x4242
        ret

far_fn: mov dx, 0x5151
        retf

int80:  inc ax
        iret

de_handler:
        push bp
        mov bp, sp
        mov ax, [bp+2]
        mov [SCRATCH+0x100], ax
        add word [bp+2], 2      ; skip the 2-byte DIV
        pop bp
        iret

ud_handler:
        push bp
        mov bp, sp
        mov ax, [bp+2]
        mov [SCRATCH+0x102], ax
        add word [bp+2], 2
        pop bp
        iret

smc_template:
        mov ax, 0x1111
        retf
smc_end:

negbyte: db 0x80

%include "tail.inc"
