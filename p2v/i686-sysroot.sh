#!/usr/bin/env bash
# Builds the i386 library sysroot for the i686 agent (docs/p2v.md, "Building
# for live media"): Debian's i386 -dev packages are fetched with
# `apt-get download` and unpacked into DIR, never installed, so the host's
# amd64 packages are left alone (Multi-Arch: same would force both
# architectures to the same version). The C library comes from
# gcc-multilib (libc6-dev-i386), the C++ runtime ICU needs from
# lib32stdc++-12-dev. Needs the i386 architecture known to apt
# (scripts/install-deps.sh adds it).
#   p2v/i686-sysroot.sh DIR
set -eu -o pipefail
dir=${1:?usage: p2v/i686-sysroot.sh DIR}
pkgs=(libxml2-dev libicu-dev liblzma-dev zlib1g-dev libzstd-dev libxxhash-dev libssl-dev libdeflate-dev)
[ -f "$dir/.complete" ] && exit 0
mkdir -p "$dir/debs"
dir=$(cd "$dir" && pwd)
cd "$dir/debs"
apt-get download -q "${pkgs[@]/%/:i386}" >/dev/null 2>download.log ||
    { cat download.log >&2; echo "i686-sysroot: apt-get download failed" >&2; exit 1; }
for deb in *.deb; do
    dpkg-deb -x "$deb" "$dir"
done
# Static links only: drop the .so links, which point at runtime packages
# that are not unpacked.
find "$dir/usr/lib/i386-linux-gnu" -maxdepth 1 -name '*.so' -delete
ls ./*.deb >"$dir/.complete"
