#!/usr/bin/env bash
# Seed corpus for fuzz_vmdk: small VMDKs of every kind vdisk writes, with
# data, and (when present) qemu-img's, plus descriptor texts. Usage:
# seeds-vmdk.sh VDISK OUTDIR
set -eu
V=$1 out=$2
mkdir -p "$out"
cd "$out"
printf 'data' | dd of=d.raw bs=1 seek=70000 status=none && truncate -s 200K d.raw
$V convert -O vmdk d.raw sparse.vmdk
$V convert -O vmdk -o subformat=streamOptimized d.raw stream.vmdk
$V create -f vmdk empty.vmdk 64K
$V create -f vmdk -o subformat=monolithicFlat flat.vmdk 4K
rm -f flat-flat.vmdk
$V create -f vmdk -b empty.vmdk delta.vmdk
if command -v qemu-img >/dev/null; then
    qemu-img convert -q -f raw -O vmdk -o subformat=streamOptimized d.raw qemu-stream.vmdk
    qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentSparse split.vmdk 64K
    qemu-img create -q -f vmdk -o zeroed_grain=on zg.vmdk 64K
    rm -f split-s001.vmdk
fi
# Descriptor files with extents of every type (the names resolve to nothing).
printf '# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType="twoGbMaxExtentFlat"\nRW 8 FLAT "a-f001.vmdk" 0\nRW 8 ZERO\nRDONLY 16 SPARSE "b.vmdk"\nRW 4 VMFS "c.vmdk"\nddb.geometry.heads = "16"\n' > desc.vmdk
printf 'createType="vmfs"\nRW 1 ZERO\nparentCID=abcdef01\nparentFileNameHint="p.vmdk"\n' > zero.vmdk
rm -f d.raw
# A seSparse extent: constant header (magic, version 2.1, capacity 2048,
# grain 8, tables 64 sectors), volatile header at 1, directory at 16 with
# table 0, the table at 32 with one allocated grain (number 0) and one
# zeroed, grains at 96.
if command -v python3 >/dev/null; then
    python3 - <<'PY'
import struct
h = [0] * 26
h[0:5] = [0xcafebabe, 0x0000000200000001, 2048, 8, 64]
h[10:26] = [1, 1, 2, 1, 3, 8, 16, 8, 32, 64, 96, 0, 96, 0, 96, 8]
d = bytearray(104 * 512)
d[0:208] = struct.pack("<26Q", *h)
d[512:544] = struct.pack("<4Q", 0xcafecafe, 0, 1, 0)
d[16 * 512:16 * 512 + 8] = struct.pack("<Q", 0x1000000000000000)
d[32 * 512:32 * 512 + 16] = struct.pack("<2Q", 0x3 << 60, 0x2 << 60)
d[96 * 512:97 * 512] = b"\x5a" * 512
open("sesparse.bin", "wb").write(d)
PY
fi
