# Sourced by the live media tests: builds the media (p2v/live/build.sh, the
# same as `cmake --build build --target p2v-live`), a generated source
# machine and the host's `p2v serve`, and boots QEMU TCG as a Pentium II
# with 128 MiB; the guest reaches this host's loopback as 10.0.2.2 through
# QEMU's user-mode network. LIVE_VMM=1 (set before sourcing): the machine
# is our vmm instead, with a PCnet card on its libslirp network.
source "$SRC/tests/p2v/lib.sh"
if [ "${LIVE_VMM:-0}" = 1 ]; then
    for f in /usr/share/seabios/bios.bin /usr/share/seabios/vgabios-stdvga.bin; do
        [ -r "$f" ] || skip "vmm needs $f (package seabios)"
    done
else
    need qemu-system-i386
fi
need qemu-img python3 gcc cmake apt-get apt-cache dpkg-deb depmod cpio gzip xorriso \
     openssl mkntfs ntfscp mkfs.fat mcopy mkfs.ext4 debugfs sfdisk ntfsclone partclone.fat32 \
     partclone.extfs dumpe2fs
[ -e /usr/lib32/libc.a ] || skip "gcc-multilib (libc6-dev-i386) is not installed"

LIVE=$BUILD/live
"$SRC/p2v/live/build.sh" "$BUILD" >"$WORK/live.log" 2>&1 || {
    cat "$WORK/live.log" >&2
    grep -E 'could not be downloaded|download .* failed|cannot resolve' "$WORK/live.log" >/dev/null &&
        skip "the Debian i386 packages could not be downloaded (no Debian mirror?)"
    fail "p2v/live/build.sh failed"
}
iso_size=$(stat -c %s "$LIVE/p2v-live.iso")
[ "$iso_size" -lt $((100 << 20)) ] || fail "the ISO is $iso_size bytes, not under 100 MB"
# The agent without ICU (p2v/agent-build/noicu.c): no ICU data table.
agent=$BUILD/p2v-i686/build/bin/p2v-static
if command -v nm >/dev/null; then
    nm "$agent" | grep -E ' icudt[0-9]+_dat$' >/dev/null && fail "the live agent links ICU's data (libicudata)"
fi
[ "$(stat -c %s "$agent")" -lt $((16 << 20)) ] || fail "the live agent is $(stat -c %s "$agent") bytes, not under 16 MiB"

# The source machine: the p2v tests' aged NTFS + FAT32 + ext4 disk, and
# what a capture of it must be.
make_disk "$WORK/src.img" aged
expected_disk "$WORK/src.img" "$WORK/expect.raw"
want=$(disk_digest "$WORK/expect.raw")
# LIVE_TLS=1: the server speaks TLS 1.3 with a self-signed certificate whose
# SHA-256 is PIN (for p2v.tls=PIN).
if [ "${LIVE_TLS:-0}" = 1 ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=10.0.2.2 \
        -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
    PIN=$(openssl x509 -in "$WORK/cert.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
    start_server "$WORK/out" --tls --cert "$WORK/cert.pem" --key "$WORK/key.pem"
else
    start_server "$WORK/out"
fi
TOKEN=$(cat "$WORK/token")

# boot LOG TIMEOUT QEMU-BOOT-ARGS... [-- drive.py steps]: a Pentium II with
# 128 MiB, e1000 on the user-mode network, the source disk as the first
# IDE disk (snapshot: the guest cannot change the file); exit status of
# tests/live/drive.py, which stops early on FAIL_ON (default: CAPTURE FAILED).
# NO_SOURCE=1: no source disk. LIVE_VMM=1: the same machine on vmm (its
# default P6 CPU reports itself as a Pentium II, and it takes qemu's
# -cdrom, -boot, -nic), COM1 on vmm's standard input and output.
boot() {
    local log=$1 timeout=$2; shift 2
    local qargs=() steps=() disk=(-drive "file=$WORK/src.img,format=raw,if=ide,index=0,snapshot=on") serial=()
    local emu=(qemu-system-i386 -M pc -accel tcg -cpu pentium2 -m 128 -display none -monitor none -no-reboot)
    if [ "${LIVE_VMM:-0}" = 1 ]; then
        emu=("$BIN/vmm" -m 128 -display none -serial stdio)
        disk=(-hda "$WORK/src.img" -snapshot)
        serial=(--stdio)
    fi
    [ "${NO_SOURCE:-0}" = 0 ] || disk=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do qargs+=("$1"); shift; done
    [ $# -eq 0 ] || { shift; steps=("$@"); }
    python3 "$SRC/tests/live/drive.py" "${serial[@]}" --log "$log" --timeout "$timeout" \
        --fail "${FAIL_ON:-CAPTURE FAILED}" --fail 'Kernel panic' "${steps[@]}" -- \
        "${emu[@]}" "${disk[@]}" "${qargs[@]}"
}

# check NAME LOG: the guest said the capture succeeded, the server marked it
# complete, it equals the source's used blocks, the digest is the one
# computed here, and the manifest describes the emulated hardware.
check() {
    grep 'CAPTURE OK' "$2" >/dev/null || { tail -40 "$2" >&2; fail "$1: the guest did not report CAPTURE OK"; }
    grep -q '^complete 1$' "$WORK/out/$1/state" || fail "$1: not marked complete"
    to_raw "$WORK/out/$1/disk0.$FMT" "$WORK/$1.raw"
    cmp "$WORK/expect.raw" "$WORK/$1.raw" || fail "$1: captured disk differs from the used-block oracle"
    grep -q "sha256=\"$want\" digest=\"sha256\" verified=\"true\"" "$WORK/out/$1/manifest.xml" ||
        fail "$1: manifest digest is not $want"
    [ ! -e "$WORK/out/$1/disk1.$FMT" ] || fail "$1: captured more than the one fixed disk"
    # The hardware as the live system saw it: the emulated CPU, NIC and disk.
    local m=$WORK/out/$1/manifest.xml driver=e1000 model="QEMU HARDDISK"
    [ "${LIVE_VMM:-0}" = 0 ] || { driver=pcnet32; model="P2VKIT HARDDISK"; }
    grep '<cpu .*model="Pentium II' "$m" >/dev/null || fail "$1: the manifest does not name the Pentium II"
    grep "<nic .*driver=\"$driver\"" "$m" >/dev/null || fail "$1: the manifest does not list the $driver NIC"
    grep "<disk .*source=\"/dev/sda\".*model=\"$model\"" "$m" >/dev/null || fail "$1: the manifest's disk is not the $model"
}

# site_iso OUT [NAME]: a copy of the ISO with the server's token in p2v/NAME
# (default token), made as docs/live.md tells users to (the boot records
# are kept).
site_iso() {
    xorriso -indev "$LIVE/p2v-live.iso" -outdev "$1" -map "$WORK/token" "/p2v/${2:-token}" \
        -boot_image any replay >"$WORK/xorriso.log" 2>&1 ||
        { cat "$WORK/xorriso.log" >&2; fail "xorriso could not add p2v/token"; }
}

# fail_boot LOG MESSAGE OPTIONS QEMU-ARGS...: the ISO's "serial" entry with
# OPTIONS must end in MESSAGE (a regular expression) and leave a shell that
# answers on the serial console.
fail_boot() {
    local log=$1 msg=$2 opts=$3; shift 3
    FAIL_ON='Kernel panic' boot "$log" 280 -cdrom "$LIVE/p2v-live.iso" -boot d "$@" -- \
        --step 'boot:' "serial $opts" --step "$msg" '' --step '# ' 'echo shell-$((6 * 7)); poweroff -f' ||
        { tail -40 "$log" >&2; fail "$opts: no '$msg' and shell"; }
    grep 'shell-42' "$log" >/dev/null || fail "$opts: the shell after the failure did not answer"
}
