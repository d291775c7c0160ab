; ALU group unary: see alu.inc and tests/vmm/gen_alu.c
%include "alu_unary.inc"
%include "alu.inc"
