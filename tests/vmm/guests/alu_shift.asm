; ALU group shift: see alu.inc and tests/vmm/gen_alu.c
%include "alu_shift.inc"
%include "alu.inc"
