#!/usr/bin/env bash
# Seed corpus for fuzz_vdi: small VDIs (4 KiB blocks, so that the seeds stay
# a few KiB; vdisk reads any power-of-two block size): dynamic with
# allocated, unallocated and discarded blocks, static, and the header of
# one vdisk made. Usage: seeds-vdi.sh VDISK OUTDIR
set -eu
V=$1 out=$2
mkdir -p "$out"
cd "$out"
python3 - <<'PY'
import struct
def vdi(name, kind, entries, size, bs=4096, data_off=1024):
    h = bytearray(512)
    h[0:40] = b"<<< Oracle VM VirtualBox Disk Image >>>\n"
    used = [e for e in entries if e < 0xFFFFFFFE]
    struct.pack_into("<IIIII", h, 64, 0xBEDA107F, 0x00010001, 0x190, kind, 0)
    struct.pack_into("<IIIIIIIQIIII", h, 340, 512, data_off, 0, 0, 0, 512, 0, size, bs, 0,
                     len(entries), len(used))
    body = b"".join(struct.pack("<I", e) for e in entries)
    with open(name, "wb") as f:
        f.write(h + body)
        for n in range(len(used)):
            f.seek(data_off + n * bs)
            f.write(bytes([n + 1]) * bs)
vdi("dyn.vdi", 1, [1, 0xFFFFFFFF, 0, 0xFFFFFFFE], 4 * 4096 - 1000)
vdi("static.vdi", 2, [0, 1, 2], 3 * 4096)
PY
printf 'data' | dd of=d.raw bs=1 seek=5000 status=none && truncate -s 3M d.raw
$V convert -O vdi d.raw ours.vdi
head -c 4096 ours.vdi > ours-head.vdi
rm -f d.raw ours.vdi
