; ALU group muldiv: see alu.inc and tests/vmm/gen_alu.c
%include "alu_muldiv.inc"
%include "alu.inc"
