#!/usr/bin/env bash
# The README's first command: installs what is needed, builds, makes a sample
# 64 MiB disk (MBR + an ext2 partition with some files), converts it to a
# dynamic VHD with vdisk, and shows what vdisk knows about the result.
# (Until `p2v migrate` exists this is the main job on a bundled default.)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/install-deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" --target vdisk >/dev/null
V=$top/build/bin/vdisk
out=${DEMO_DIR:-$top/out/demo}
mkdir -p "$out"
cd "$out"
rm -rf sample.raw sample.vhd files

# Some files for the filesystem: text and a little binary.
mkdir -p files/etc files/var/log
cp /etc/os-release files/etc/ 2>/dev/null || echo "demo" > files/etc/os-release
for i in $(seq 1 2000); do echo "$i service started pid=$((i * 7)) ok"; done > files/var/log/messages
head -c 3000000 /dev/urandom > files/var/backup.bin

# 64 MiB raw disk: one bootable Linux partition from sector 2048 to the end.
truncate -s 64M sample.raw
printf '\x80\x00\x00\x00\x83\x00\x00\x00\x00\x08\x00\x00\x00\xf8\x01\x00' |
    dd of=sample.raw bs=1 seek=446 conv=notrunc status=none
printf '\x55\xaa' | dd of=sample.raw bs=1 seek=510 conv=notrunc status=none
mkfs.ext2 -q -F -b 1024 -L demo -E offset=1048576 -d files sample.raw 64512 >/dev/null

echo "\$ vdisk convert -p -O vhd -o subformat=dynamic sample.raw sample.vhd"
"$V" convert -p -O vhd -o subformat=dynamic sample.raw sample.vhd
echo "\$ vdisk info sample.vhd"
"$V" info sample.vhd
echo "\$ vdisk check sample.vhd"
"$V" check sample.vhd
echo "\$ vdisk compare sample.raw sample.vhd"
"$V" compare sample.raw sample.vhd
echo "(files in $out)"
