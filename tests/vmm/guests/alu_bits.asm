; ALU group bits: see alu.inc and tests/vmm/gen_alu.c
%include "alu_bits.inc"
%include "alu.inc"
