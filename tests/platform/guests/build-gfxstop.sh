#!/usr/bin/env bash
# Assembles the graphical STOP screen boot sectors (gfxstop.asm) into
# OUTDIR as 1 MiB raw disks: gfxstop.raw (ANSI STOP line in RAM),
# gfxstop-utf16.raw, gfxstop-nostop.raw (no STOP line), gfxstop-grey.raw
# (a grey screen), gfxstop-vgapal.raw (colour 4 on the VGA BIOS's
# palette, red), gfxstop-notext.raw (blue, no text) and gfxstop-spin.raw
# (a busy loop instead of HLT). Needs: nasm.
set -eu -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-.}
mkdir -p "$out"
cd "$out"
asm() {     # asm NAME [nasm options]
    local name=$1; shift
    nasm -f bin -I"$here/" "$@" -o "$name.raw" "$here/gfxstop.asm"
    truncate -s 1M "$name.raw"
}
asm gfxstop
asm gfxstop-utf16 -DUTF16
asm gfxstop-nostop -DNO_STOP
asm gfxstop-grey -DGREY
asm gfxstop-vgapal -DVGA_PAL
asm gfxstop-notext -DNO_TEXT
asm gfxstop-spin -DSPIN
