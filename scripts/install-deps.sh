#!/usr/bin/env bash
# Installs the Debian 12 packages listed in scripts/deps/*.txt (one per line,
# '#' comments). Each part of the project keeps its own list there.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
want=$(sed -e 's/#.*//' "$here"/deps/*.txt | tr -s ' \n' '\n' | sort -u | grep -v '^$')
missing=$(for p in $want; do dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"; done)
sudo=; [ "$(id -u)" -ne 0 ] && sudo=sudo
# i386 packages (test guests, the i686 agent's sysroot) are only downloaded,
# never installed, but apt needs the architecture and its index to know them,
# even when every host package is already there.
if ! dpkg --print-foreign-architectures | grep -x i386 >/dev/null; then
    $sudo dpkg --add-architecture i386
    $sudo apt-get update -qq
fi
[ -z "$missing" ] && exit 0
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
