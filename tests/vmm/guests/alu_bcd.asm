; ALU group bcd: see alu.inc and tests/vmm/gen_alu.c
%include "alu_bcd.inc"
%include "alu.inc"
