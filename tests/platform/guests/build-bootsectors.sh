#!/usr/bin/env bash
# Assembles the boot-sector guests into OUTDIR as 1 MiB raw disks
# (hello.raw, hello-write.raw, triple.raw, spin.raw, bluescreen.raw,
# prompt.raw, planar.raw and mode13.raw: VGA mode 12h and 13h drawings,
# apicmsr.raw: the APIC as the CPU sees it),
# a blank disk (blank.raw, no OS) and an El Torito CD (hello.iso).
# Needs: nasm, xorriso.
set -eu -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-.}
mkdir -p "$out"
cd "$out"
asm() {     # asm NAME SOURCE [nasm options]
    local name=$1 src=$2; shift 2
    nasm -f bin -I"$here/" "$@" -o "$name.bin" "$here/$src.asm"
    cp "$name.bin" "$name.raw"
    truncate -s 1M "$name.raw"
}
asm hello hello
asm hello-write hello -DWRITE_TEST
asm triple triple
asm spin spin
asm bluescreen bluescreen
asm prompt prompt
asm planar planar
asm mode13 mode13
asm apicmsr apicmsr
truncate -s 1M blank.raw
rm -rf iso && mkdir iso
cp hello.bin iso/boot.bin
truncate -s 2048 iso/boot.bin
xorriso -as mkisofs -quiet -o hello.iso -b boot.bin -no-emul-boot -boot-load-size 4 iso 2>/dev/null
rm -rf iso ./*.bin
