; Opcode coverage in 32-bit protected mode: the forms the other tests do
; not reach (memory operands, immediates, moffs, segment pushes and far
; pointers, every Jcc against SETcc, LOOPcc, XLAT, SALC, string I/O, bit
; tests with large offsets, CMPXCHG8B, BSWAP, CPUID, RDTSC, MSRs, debug
; registers, hint NOPs) and #UD for every opcode P6 leaves undefined or
; this CPU model does not advertise (SSE, FXSR, SYSCALL...).
%include "pmtest.inc"

%define M 0x9000

        bits 32
pm_main:
        PUTS32 `opcodes: start\n`

        ; ---- ALU immediate and memory forms ----
        mov dword [M], 100
        add dword [M], 5                    ; 83 /0 ib
        CHECK32 [M], 105
        sub dword [M], -3                   ; 83 /5 with a negative imm8
        CHECK32 [M], 108
        add dword [M], 0x10000              ; 81 /0 id
        CHECK32 [M], 0x1006C
        mov byte [M], 0xF0
        or byte [M], 0x0F                   ; 80 /1 ib
        CHECK32 [M], 0x100FF
        db 0x82, 0x35                       ; 82 /6 (alias of 80): xor byte [M], 0xFF
        dd M
        db 0xFF
        CHECK32 [M], 0x10000
        mov eax, 7
        add eax, [M]                        ; 03 with memory
        CHECK32 eax, 0x10007
        sub [M], eax                        ; 29 with memory destination
        CHECK32 [M], -7
        mov word [M], 0x1234
        stc
        adc word [M], 1                     ; 66 83 /2
        CHECK32 [M], 0xFFFF1236
        and al, 0x0F                        ; 24
        CHECK32 eax, 0x10007
        cmp eax, 0x10007                    ; 3D
        jne fail32
        test byte [M], 0x02                 ; F6 /0 on memory
        jz fail32
        not dword [M]
        CHECK32 [M], 0x0000EDC9
        neg dword [M]
        CHECK32 [M], 0xFFFF1237
        inc byte [M]                        ; FE /0
        dec word [M]                        ; FF /1 (66)
        CHECK32 [M], 0xFFFF1237
        mov ecx, 0x11111111
        xchg [M], ecx                       ; 87 memory
        CHECK32 ecx, 0xFFFF1237
        CHECK32 [M], 0x11111111
        mov dword [M + 4], 0x22222222
        push dword [M + 4]                  ; FF /6
        pop dword [M + 8]                   ; 8F /0
        CHECK32 [M + 8], 0x22222222
        mov dword [M], 3
        imul eax, [M], 5                    ; 6B with memory
        CHECK32 eax, 15
        mov eax, 100
        mul dword [M]                       ; F7 /4 memory
        CHECK32 eax, 300
        div dword [M]                       ; F7 /6 memory
        CHECK32 eax, 100

        ; ---- moffs, XLAT, SALC, LEA forms ----
        mov eax, 0xCAFEF00D
        mov [M + 0x10], eax                 ; A3
        xor eax, eax
        mov eax, [M + 0x10]                 ; A1
        CHECK32 eax, 0xCAFEF00D
        mov al, [M + 0x11]                  ; A0
        CHECK32 eax, 0xCAFEF0F0
        mov [M + 0x12], al                  ; A2
        CHECK32 [M + 0x10], 0xCAF0F00D
        mov ebx, M + 0x10
        mov al, 2
        xlatb                               ; AL = [EBX + AL]
        CHECK32 eax, 0xCAFEF0F0
        stc
        salc                                ; D6
        CHECK32 eax, 0xCAFEF0FF
        clc
        salc
        CHECK32 eax, 0xCAFEF000
        mov ebx, 0x1000
        mov ecx, 0x20
        lea eax, [ebx + ecx*4 + 0x10]
        CHECK32 eax, 0x1090
        lea eax, [ecx*8]
        CHECK32 eax, 0x100
        lea ax, [bx + si]                   ; 67 16-bit addressing in 32-bit code
        lea eax, [esp + 4]
        mov ebp, esp
        add ebp, 4
        CHECK32 eax, ebp

        ; ---- segment registers on the stack, far pointers ----
        push es                             ; 06
        push ds                             ; 1E
        push fs                             ; 0F A0
        push gs                             ; 0F A8
        push ss                             ; 16
        push cs                             ; 0E (upper half of the slot: undefined)
        pop eax
        and eax, 0xFFFF
        CHECK32 eax, SEL_CODE32
        pop ss                              ; 17
        pop gs                              ; 0F A9
        pop fs                              ; 0F A1
        pop ds                              ; 1F
        pop es                              ; 07
        mov dword [M], 0x12345678
        mov word [M + 4], SEL_DATA
        les ebx, [M]                        ; C4
        CHECK32 ebx, 0x12345678
        lds ecx, [M]                        ; C5
        lfs edx, [M]                        ; 0F B4
        lgs esi, [M]                        ; 0F B5
        mov ebp, esp
        mov [M], esp
        lss esp, [M]                        ; 0F B2
        mov eax, esp
        CHECK32 eax, ebp
        call SEL_CODE32:far_target          ; 9A
        CHECK32 eax, 0x9A9A
        mov dword [M], far_target
        mov word [M + 4], SEL_CODE32
        call far [M]                        ; FF /3
        CHECK32 eax, 0x9A9A
        mov dword [M], .jf
        jmp far [M]                         ; FF /5
        jmp fail32
.jf:    mov eax, .near
        call eax                            ; FF /2 register
        mov dword [M], .near2
        call [M]                            ; FF /2 memory
        mov dword [M], .jn
        jmp [M]                             ; FF /4 memory
        jmp fail32
.jn:    call ret_imm
        CHECK32 ecx, 0x3C3C
        jmp .after_near
.near:  ret
.near2: ret
.after_near:

        ; ---- every Jcc (short and near) agrees with SETcc ----
        xor edi, edi                        ; flags pattern
.jcc_flags:
        mov eax, edi
        and eax, 0x8D5
        push eax
        popfd
%assign cc 0
%rep 16
        pushfd                              ; the flags under test
        db 0x0F, 0x90 + cc, 0xC1            ; setcc cl
        db 0x70 + cc, 4                     ; jcc short +4
        mov dl, 0
        jmp short $ + 4
        mov dl, 1
        cmp cl, dl
        jne fail32
        popfd
        pushfd
        db 0x0F, 0x80 + cc                  ; jcc near +7
        dd 7
        mov dl, 0
        jmp near $ + 7
        mov dl, 1
        cmp cl, dl
        jne fail32
        popfd
%assign cc cc+1
%endrep
        add edi, 0x41                       ; walks CF/PF/AF/ZF/SF/OF patterns
        cmp edi, 0x41 * 48
        jb .jcc_flags

        ; ---- LOOPcc, JECXZ, JCXZ ----
        mov ecx, 5
        xor eax, eax
.l1:    inc eax
        cmp eax, 3
        loopne .l1                          ; stops when eax == 3 (ZF)
        CHECK32 eax, 3
        CHECK32 ecx, 2
        mov ecx, 5
.l2:    cmp eax, eax
        loope .l2                           ; ZF stays set: runs until ECX = 0
        CHECK32 ecx, 0
        jecxz .z1
        jmp fail32
.z1:    mov ecx, 0x10000
        jcxz .z2                            ; 67 E3: CX = 0
        jmp fail32
.z2:    a16 loop .z3                        ; 67 E2: CX wraps to FFFF, taken
        jmp fail32
.z3:    CHECK32 ecx, 0x1FFFF

        ; ---- bit tests on memory with large offsets ----
        mov dword [M], 0
        mov dword [M + 4], 0
        mov dword [M - 4], 0
        mov eax, 35
        bts [M], eax                        ; bit 3 of the next dword
        CHECK32 [M + 4], 8
        mov eax, -1
        bts [M], eax                        ; bit 31 of the previous dword
        CHECK32 [M - 4], 0x80000000
        mov eax, 35
        bt [M], eax
        jnc fail32
        btr [M], eax
        CHECK32 [M + 4], 0
        btc dword [M], 36                   ; immediate: offset modulo 32
        CHECK32 [M], 0x10

        ; ---- CMPXCHG8B, BSWAP, XADD and CMPXCHG on memory ----
        mov dword [M], 1
        mov dword [M + 4], 2
        mov eax, 1
        mov edx, 2
        mov ebx, 0x33
        mov ecx, 0x44
        cmpxchg8b [M]
        jnz fail32
        CHECK32 [M], 0x33
        CHECK32 [M + 4], 0x44
        cmpxchg8b [M]                       ; now different: loads EDX:EAX
        jz fail32
        CHECK32 eax, 0x33
        CHECK32 edx, 0x44
        mov eax, 0x11223344
        mov ebx, eax
        mov ecx, eax
        mov edx, eax
        mov esi, eax
        mov edi, eax
        mov ebp, eax
        bswap ebx
        bswap ecx
        bswap edx
        bswap esi
        bswap edi
        bswap ebp
        CHECK32 ebx, 0x44332211
        CHECK32 ecx, 0x44332211
        CHECK32 edx, 0x44332211
        CHECK32 esi, 0x44332211
        CHECK32 edi, 0x44332211
        CHECK32 ebp, 0x44332211
        mov dword [M], 10
        mov eax, 5
        xadd [M], eax
        CHECK32 eax, 10
        CHECK32 [M], 15
        mov eax, 15
        mov ecx, 99
        lock cmpxchg [M], ecx
        CHECK32 [M], 99

        ; ---- string I/O, ENTER with nesting ----
        mov dx, DEBUG_PORT
        mov esi, outs_msg + 0xF0000         ; DS is flat: linear address
        mov ecx, outs_end - outs_msg
        rep outsb
        mov dx, DEBUG_PORT
        mov edi, M
        mov ecx, 3
        rep insb                            ; the debug console reads 0xE9
        CHECK32 [M], 0x00E9E9E9
        mov ebp, 0x6F00
        mov esp, 0x6F00
        enter 16, 3
        CHECK32 ebp, 0x6F00 - 4
        lea eax, [esp + 16 + 12]
        CHECK32 eax, ebp
        leave
        mov esp, STACK_TOP

        ; ---- CPUID, RDTSC, MSRs, debug registers, hint NOPs ----
%ifndef QEMU_DIFF   ; QEMU's CPUID is its own model's
        xor eax, eax
        cpuid
        CHECK32 eax, 2
        CHECK32 ebx, 0x756E6547
        mov eax, 1
        cpuid
        CHECK32 eax, 0x633
        test edx, 1 << 23                   ; MMX, as a Pentium II has it
        jz fail32
        mov eax, 0x80000000                 ; beyond the maximum: leaf 2 data
        cpuid
        CHECK32 eax, 0x03020101
%endif
        rdtsc
        mov ebx, eax
        mov esi, edx
        rdtsc
        sub eax, ebx
        sbb edx, esi
        CHECK32 edx, 0                      ; moves forward, not by 2^32
        mov ecx, 0x174
        mov eax, 0x1234
        xor edx, edx
        wrmsr
        xor eax, eax
        rdmsr
        CHECK32 eax, 0x1234
        mov ecx, 0x10                       ; TSC is writable
        xor eax, eax
        xor edx, edx
        wrmsr
        rdtsc
        CHECK32 edx, 0
        mov eax, 0x12345678
        mov dr0, eax
        mov ebx, dr0
        CHECK32 ebx, 0x12345678
        mov ebx, dr6
        and ebx, 0xFFFF0FF0
        CHECK32 ebx, 0xFFFF0FF0
        db 0x0F, 0x1F, 0x00                 ; NOP dword [eax]
        db 0x0F, 0x18, 0x00                 ; hint NOP (PREFETCHNTA on later CPUs)
        wbinvd
        invd
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG has no RDPMC
        xor ecx, ecx
        db 0x0F, 0x33                       ; RDPMC counter 0 at CPL 0
%endif
        cmc

        ; ---- undefined opcodes: #UD ----
%macro UD 1+
        EXPECT_FAULT 6, -1, {db %1}
%endmacro
        UD 0x0F, 0x04
        UD 0x0F, 0x0A
        UD 0x0F, 0x0C
        UD 0x0F, 0x24, 0xC0                 ; MOV from test registers (486)
        UD 0x0F, 0x26, 0xC0
        UD 0x0F, 0x36
        UD 0x0F, 0xA6, 0xC0
        UD 0x0F, 0xA7, 0xC0
        UD 0x0F, 0xB9, 0xC0                 ; UD1
        UD 0x0F, 0xC7, 0xC8                 ; CMPXCHG8B with a register
        UD 0x0F, 0xC7, 0x00                 ; 0F C7 /0
        UD 0x0F, 0x00, 0xF0                 ; 0F 00 /6
        UD 0x0F, 0x01, 0x28                 ; 0F 01 /5
        UD 0x0F, 0x01, 0xF8                 ; INVLPG with a register
        UD 0x0F, 0xBA, 0xC0, 0x01           ; 0F BA /0
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG does not raise #UD here
        UD 0x8F, 0xC8                       ; 8F /1
%endif
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG does not raise #UD here
        UD 0xC6, 0xC8, 0x00                 ; C6 /1
%endif
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG does not raise #UD here
        UD 0xC7, 0xC8, 0, 0, 0, 0           ; C7 /1
%endif
        UD 0xFE, 0xD0                       ; FE /2
        UD 0xC4, 0xC0                       ; LES with a register
        UD 0x62, 0xC0                       ; BOUND with a register
        UD 0xF0, 0x90                       ; LOCK NOP
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG does not raise #UD here
        UD 0xF0, 0x8B, 0x00                 ; LOCK MOV
%endif
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG does not raise #UD here
        UD 0xF0, 0x0F, 0xA3, 0x00           ; LOCK BT (not lockable)
%endif
%ifndef QEMU_DIFF   ; QEMU 7.2 TCG implements SYSCALL, SSE, FXSR, UD0 here
        UD 0x0F, 0x05                       ; SYSCALL
        UD 0x0F, 0x07                       ; SYSRET
        UD 0x0F, 0x0E                       ; FEMMS
        UD 0x0F, 0x0F, 0xC0, 0x00           ; 3DNow!
        UD 0x0F, 0x10, 0xC0                 ; SSE
        UD 0x0F, 0x28, 0xC0
        UD 0x0F, 0xAE, 0x00                 ; FXSAVE
        UD 0x0F, 0xB8, 0xC0                 ; POPCNT without F3
        UD 0x0F, 0xC2, 0xC0, 0x00
        UD 0x0F, 0xFF                       ; UD0
%endif
        PUTS32 `opcodes: all checks passed\n`
        jmp pass32

far_target:
        mov eax, 0x9A9A
        retf

ret_imm:
        push ecx
        pop ecx
        mov ecx, 0x3C3C
        ret 0                               ; C2 iw

outs_msg: db `outs\n`
outs_end:

%include "tail.inc"
