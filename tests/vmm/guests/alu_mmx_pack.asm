; MMX group mmx_pack: see alu.inc and tests/vmm/gen_mmx.c
%include "alu_mmx_pack.inc"
%include "alu.inc"
