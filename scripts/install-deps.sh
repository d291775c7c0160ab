#!/usr/bin/env bash
# Installs the Debian 12 packages listed in scripts/deps/*.txt (one per line,
# '#' comments). Each part of the project keeps its own list there.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
want=$(sed -e 's/#.*//' "$here"/deps/*.txt | tr -s ' \n' '\n' | sort -u | grep -v '^$')
missing=$(for p in $want; do dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"; done)
[ -z "$missing" ] && exit 0
sudo=; [ "$(id -u)" -ne 0 ] && sudo=sudo
# i386 packages (test guests) are only downloaded, never installed, but apt
# needs the architecture to know them.
dpkg --print-foreign-architectures | grep -q i386 || $sudo dpkg --add-architecture i386
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
