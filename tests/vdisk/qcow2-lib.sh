# Shared by qcow2.sh and qcow2-write.sh (sourced): the source disk and a
# comparison through qemu-img and vdisk.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
W=$BUILD/tests/vd-write
need qemu-img qemu-io qcowinfo

# 20 MiB + 1000 bytes: data, zeros, text, an odd end.
truncate -s 20972520 src.raw
head -c 2500000 /dev/urandom | dd of=src.raw conv=notrunc status=none
python3 -c "import sys; sys.stdout.write('server log line\\n' * 62500)" | dd of=src.raw bs=1M seek=7 conv=notrunc status=none
head -c 70000 /dev/urandom | dd of=src.raw bs=1 seek=20900000 conv=notrunc status=none

same() {   # same content and size through qemu-img and vdisk
    qemu-img convert -O raw "$1" ref.raw
    $V convert -O raw "$1" ours.raw || fail "vdisk cannot read $2"
    cmp ref.raw ours.raw || fail "vdisk reads $2 differently from qemu-img"
    rm -f ref.raw ours.raw
}

