# CPUID profiles: --cpu 486|pentium|p6 and --cpuid-max-leaf change what
# CPUID reports and which instructions exist (the others raise #UD).
. "$SRC/tests/lib.sh"
need nasm
nasm -f bin -I"$SRC/tests/vmm/guests/" -o cpuid.bin "$SRC/tests/vmm/guests/cpuid.asm"
check() { # expected-line1 expected-line2 vmm-args...
    local want1=$1 want2=$2; shift 2
    local rc=0
    "$BIN/vmm" --bios cpuid.bin --debugcon out.txt "$@" 2>err.txt || rc=$?
    [ "$rc" -eq 33 ] || { cat out.txt err.txt >&2; fail "vmm $* exited $rc"; }
    [ "$(sed -n 1p out.txt)" = "$want1" ] || fail "vmm $*: got '$(sed -n 1p out.txt)', want '$want1'"
    [ "$(sed -n 2p out.txt)" = "$want2 " ] || fail "vmm $*: got '$(sed -n 2p out.txt)', want '$want2'"
}
check "max=00000002 sig=00000633 edx=0080A939" \
      "cmov=ok rdtsc=ok cmpxchg8b=ok sysenter=GP fcomi=ok mmx=ok" --cpu p6
check "max=00000002 sig=00000633 edx=0080A939" \
      "cmov=ok rdtsc=ok cmpxchg8b=ok sysenter=GP fcomi=ok mmx=ok"
check "max=00000001 sig=00000633 edx=0080A939" \
      "cmov=ok rdtsc=ok cmpxchg8b=ok sysenter=GP fcomi=ok mmx=ok" --cpuid-max-leaf 1
check "max=00000001 sig=00000525 edx=00000139" \
      "cmov=UD rdtsc=ok cmpxchg8b=ok sysenter=UD fcomi=UD mmx=UD" --cpu pentium
check "max=00000001 sig=00000480 edx=00000001" \
      "cmov=UD rdtsc=UD cmpxchg8b=UD sysenter=UD fcomi=UD mmx=UD" --cpu 486
