; MMX group mmx_arith: see alu.inc and tests/vmm/gen_mmx.c
%include "alu_mmx_arith.inc"
%include "alu.inc"
