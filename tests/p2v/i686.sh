# The 32-bit agent for live media: p2v/agent-build with the p2v/i686.cmake
# toolchain against the i386 sysroot of p2v/i686-sysroot.sh gives a static
# i686 bin/p2v-static; it captures a generated disk to the normal x86-64
# `p2v serve`, once run directly by this x86-64 kernel (with zstd and TLS
# 1.3), once under qemu-i386 emulating a Pentium II (i686, no SSE), and the
# images are compared with the source's used blocks.
source "$SRC/tests/p2v/lib.sh"
need gcc cmake apt-get dpkg-deb file qemu-i386 qemu-img openssl mkntfs ntfscp mkfs.fat mcopy \
     mkfs.ext4 debugfs sfdisk python3 ntfsclone partclone.fat32 partclone.extfs dumpe2fs
[ -e /usr/lib32/libc.a ] || skip "gcc-multilib (libc6-dev-i386) is not installed"
[ -e "$(gcc -m32 -print-file-name=libstdc++.a)" ] || skip "lib32stdc++-12-dev is not installed"

# The sysroot and the build are kept in the build tree between runs.
root=$BUILD/p2v-i686/root
"$SRC/p2v/i686-sysroot.sh" "$root" || skip "the i386 packages could not be downloaded (no Debian mirror?)"
cmake -S "$SRC/p2v/agent-build" -B "$BUILD/p2v-i686/build" -DCMAKE_TOOLCHAIN_FILE="$SRC/p2v/i686.cmake" \
    -DP2V_I686_SYSROOT="$root" -DCMAKE_BUILD_TYPE=Release >"$WORK/cmake.log" 2>&1 ||
    { cat "$WORK/cmake.log" >&2; fail "configuring the i686 agent failed"; }
cmake --build "$BUILD/p2v-i686/build" -j2 --target p2v-static >"$WORK/build.log" 2>&1 ||
    { cat "$WORK/build.log" >&2; fail "building the i686 agent failed"; }
AGENT=$BUILD/p2v-i686/build/bin/p2v-static
desc=$(file -b "$AGENT")
case "$desc" in
*"ELF 32-bit LSB executable, Intel 80386"*"statically linked"*) ;;
*) fail "not a statically linked 32-bit x86 ELF: $desc" ;;
esac
echo "i686 agent: $(stat -c %s "$AGENT") bytes; $desc" >&2

make_disk "$WORK/src.img" aged
expected_disk "$WORK/src.img" "$WORK/expect.raw"
want=$(disk_digest "$WORK/expect.raw")
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
pin=$(openssl x509 -in "$WORK/cert.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
start_server "$WORK/out" --tls --cert "$WORK/cert.pem" --key "$WORK/key.pem"

# check NAME: the capture NAME equals the source's used blocks, and its
# digest is the one this test computes.
check() {
    grep -q '^complete 1$' "$WORK/out/$1/state" || fail "$1: not marked complete"
    to_raw "$WORK/out/$1/disk0.$FMT" "$WORK/$1.raw"
    cmp "$WORK/expect.raw" "$WORK/$1.raw" || fail "$1: captured disk differs from the used-block oracle"
    grep -q "sha256=\"$want\" digest=\"sha256\" verified=\"true\"" "$WORK/out/$1/manifest.xml" ||
        fail "$1: manifest digest is not $want"
}

# Run by the kernel (IA-32 compatibility mode), with zstd and TLS. A kernel
# without IA32 emulation refuses i386 programs (exit 126, "Exec format
# error"): the same run then goes through qemu-i386 with its default CPU.
native=
"$AGENT" --help >/dev/null 2>&1 || [ $? -ne 126 ] || {
    echo "note: this kernel cannot execute i386 programs; the 'native' run uses qemu-i386" >&2
    native=qemu-i386
}
$native "$AGENT" capture --server "127.0.0.1:$PORT" --token-file "$WORK/token" --name native --disk "$WORK/src.img" \
    --state "$WORK/native.session" --compress zstd --tls --server-cert-sha256 "$pin" ||
    fail "the i686 agent failed"
check native

# On an emulated Pentium II: no SSE, so the libraries' CPU dispatch takes
# their i686 code paths.
qemu-i386 -cpu pentium2 "$AGENT" capture --server "127.0.0.1:$PORT" --token-file "$WORK/token" \
    --name pentium2 --disk "$WORK/src.img" --state "$WORK/p2.session" --tls --server-cert-sha256 "$pin" ||
    fail "the i686 agent failed on an emulated Pentium II"
check pentium2
stop_server
