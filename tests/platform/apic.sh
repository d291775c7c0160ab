# The CPU side of the local APIC, seen by a guest (guests/apicmsr.asm):
# CPUID's APIC bit, IA32_APIC_BASE, the registers at the reset base and
# after relocation through the MSR, global disable (the CPUID bit goes,
# and stays gone), #GP for reserved bits; and with --no-apic no APIC bit,
# and #GP for any IA32_APIC_BASE write, as before the APIC existed.
. "$SRC/tests/lib.sh"
. "$SRC/tests/platform/lib-platform.sh"
need nasm xorriso
g=$(guest bootsectors)
for mode in apic pic; do
    flag=; [ "$mode" = pic ] && flag=--no-apic
    check_verdict 0 "booted expected output 'VMM-TEST-MARKER: apic" --timeout 60 \
        --expect 'MARKER: apic$' --serial "$mode.txt" $flag "$g/apicmsr.raw"
    got=$(tr -d '\r' <"$mode.txt" | head -1)
    if [ "$mode" = apic ]; then
        want="apic=00000001 base=FEE00900 ver=00050014 new=00050014 old=FFFFFFFF apic=00000000 off=FEF00100 gp=00000001 "
    else
        want="apic=00000000 base=FEE00900 gp=00000001 "
    fi
    [ "$got" = "$want" ] || fail "$mode: got '$got', want '$want'"
done
