; ALU group arith: see alu.inc and tests/vmm/gen_alu.c
%include "alu_arith.inc"
%include "alu.inc"
