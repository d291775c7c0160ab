# Independent oracles. Our VHDs read back identically through qemu-img and
# libvhdi (python3-libvhdi); qemu-img's VHDs (both subformats, with and
# without force_size) read back identically through vdisk.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
PY=/usr/bin/python3
need qemu-img
$PY -c 'import pyvhdi' 2>/dev/null || skip "needs python3-libvhdi (pyvhdi)"

# A source with data, text and zeros; 20 MiB + 1536 B (not a CHS multiple).
truncate -s 20973056 src.raw
head -c 2500000 /dev/urandom | dd of=src.raw conv=notrunc status=none
$PY -c "import sys; sys.stdout.write('server log line\\n' * 62500)" | dd of=src.raw bs=1M seek=7 conv=notrunc status=none
head -c 4096 /dev/urandom | dd of=src.raw bs=4096 seek=3000 conv=notrunc status=none
head -c 1536 /dev/urandom | dd of=src.raw bs=512 seek=40960 conv=notrunc status=none

pyvhdi_sha() {   # the whole media as libvhdi reads it, and its size
    $PY - "$1" <<'PY'
import hashlib, sys, pyvhdi
f = pyvhdi.file(); f.open(sys.argv[1])
size = f.get_media_size(); h = hashlib.sha256(); off = 0
while off < size:
    n = min(1 << 20, size - off); h.update(f.read_buffer_at_offset(n, off)); off += n
print(h.hexdigest(), size)
PY
}
sha_size() { echo "$(sha256sum <"$1" | cut -d' ' -f1) $(stat -c %s "$1")"; }

for opts in subformat=dynamic subformat=fixed subformat=dynamic,size=exact \
            subformat=fixed,size=exact azure=on subformat=dynamic,block_size=512K; do
    $V convert -O vhd -o $opts src.raw ours.vhd
    $V convert -O raw ours.vhd ours.raw
    qemu-img convert -f vpc -O raw ours.vhd qemu.raw
    [ "$(sha_size ours.raw)" = "$(sha_size qemu.raw)" ] || fail "qemu-img reads $opts differently"
    [ "$(pyvhdi_sha ours.vhd)" = "$(sha_size ours.raw)" ] || fail "libvhdi reads $opts differently"
    cmp -n 20973056 src.raw ours.raw || fail "$opts content"
    rm -f ours.vhd ours.raw qemu.raw
done

# qemu-img's VHDs through vdisk (fixed ones are probed, no -f needed).
for opts in subformat=dynamic subformat=fixed subformat=dynamic,force_size=on \
            subformat=fixed,force_size=on; do
    qemu-img convert -f raw -O vpc -o $opts src.raw q.vhd
    qemu-img convert -f vpc -O raw q.vhd q.raw
    $V info q.vhd | grep '^file format: vhd$' >/dev/null || fail "$opts not probed as vhd"
    $V check q.vhd >/dev/null || fail "check of qemu's $opts"
    $V convert -O raw q.vhd v.raw
    [ "$(sha_size v.raw)" = "$(sha_size q.raw)" ] || fail "vdisk reads qemu's $opts differently"
    $V compare q.vhd src.raw >/dev/null || fail "compare qemu's $opts"
    rm -f q.vhd q.raw v.raw
done
qemu-img create -f vpc -o subformat=dynamic qc.vhd 100M >/dev/null
$V check qc.vhd >/dev/null && $V map qc.vhd | grep unallocated >/dev/null || fail "qemu-img create"

# Creators whose CHS geometry is smaller than current_size (Disk2vhd's
# "d2v\0", Azure's "wa\0\0"): vdisk reads the whole disk and warns; qemu
# uses the CHS size for these creators and loses the end of the disk.
for creator in 'd2v\x00' 'wa\x00\x00' 'win ' 'vpc '; do
    rm -f cr.vhd; $V create -f vhd -o size=exact cr.vhd 10M
    "$BUILD/tests/vd-write" cr.vhd $((10485760 - 4096)) 4096 9
    $PY - "$creator" <<'PY'
import struct, sys
creator = sys.argv[1].encode().decode("unicode_escape").encode("latin-1")
d = bytearray(open("cr.vhd", "rb").read())
for at in (0, len(d) - 512):
    d[at + 28:at + 32] = creator
    struct.pack_into(">HBB", d, at + 56, 301, 4, 17)      # the spec's CHS: 10,479,616 bytes
    struct.pack_into(">I", d, at + 64, 0)
    struct.pack_into(">I", d, at + 64, ~sum(d[at:at + 512]) & 0xffffffff)
open("cr.vhd", "wb").write(d)
PY
    $V info cr.vhd >info.txt
    grep -q 'virtual size: .*(10485760 bytes)' info.txt || { cat info.txt; fail "creator $creator: size"; }
    grep -q 'warning: CHS geometry 301/4/17 describes 10479616 bytes' info.txt || fail "creator $creator: no CHS warning"
    $V convert -O raw cr.vhd cr.raw
    [ "$(stat -c %s cr.raw)" = 10485760 ] && [ "$(tail -c 4096 cr.raw | tr -d '\0' | wc -c)" -gt 0 ] ||
        fail "creator $creator: the end of the disk was lost"
    rm -f cr.raw
done
echo OK
