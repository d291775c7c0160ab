#!/usr/bin/env bash
# Seeds for fuzz_driverpack: a gcab cabinet (MSZIP) holding a driver and an
# INF, and a compressed single-file cabinet. Usage: seeds-driverpack.sh VDISK DIR
set -eu
dir=$2
command -v gcab >/dev/null || exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'MZ driver\n' >"$tmp/atapi.sys"
printf '[Version]\nClass=hdc\n' >"$tmp/x.inf"
(cd "$tmp" && gcab -c -z "$dir/pack.cab" atapi.sys x.inf && gcab -c "$dir/single.cab" atapi.sys)
