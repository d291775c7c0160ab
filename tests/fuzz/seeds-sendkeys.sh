#!/usr/bin/env bash
# Seed corpus for fuzz_sendkeys: the SPEC forms of docs/vmm.md.
# Usage: seeds-sendkeys.sh VDISK OUTDIR (VDISK unused).
set -eu
out=$2
mkdir -p "$out"
printf 'Hello, World!<enter>' >"$out/text"
printf '5:<f8>' >"$out/delay"
printf '/login: /root<enter>' >"$out/text-trigger"
printf '<ctrl-alt-del><shift-tab><alt-f4><lt>3<ctrl-c>' >"$out/combos"
printf '0.5:<up><down><pgup><pgdn><home><end><ins><del><bs><esc><tab><space>' >"$out/names"
