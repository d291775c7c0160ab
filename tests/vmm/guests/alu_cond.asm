; ALU group cond: see alu.inc and tests/vmm/gen_alu.c
%include "alu_cond.inc"
%include "alu.inc"
