#!/usr/bin/env bash
# Seeds for fuzz_bootini: an NT 4.0 scsi() boot.ini and a 2003 one.
# Usage: seeds-bootini.sh VDISK DIR
set -eu
dir=$2
printf '[boot loader]\r\ntimeout=30\r\ndefault=scsi(0)disk(0)rdisk(0)partition(1)\\WINNT\r\n[operating systems]\r\nscsi(0)disk(0)rdisk(0)partition(1)\\WINNT="NT 4.0"\r\nscsi(0)disk(0)rdisk(0)partition(1)\\WINNT="NT 4.0 [VGA]" /basevideo /sos\r\n' >"$dir/nt4"
printf '[boot loader]\ntimeout=30\ndefault=multi(0)disk(0)rdisk(0)partition(1)\\WINDOWS\n[operating systems]\nmulti(0)disk(0)rdisk(0)partition(1)\\WINDOWS="2003" /fastdetect\n' >"$dir/w2k3"
# Regression: many short "default..." lines each grow into the long
# converted path (the output once outgrew a fixed estimate of its size).
{
    for i in $(seq 200); do printf 'defaultx=\r\n'; done
    printf 'default=scsi(0)disk(0)rdisk(0)partition(1)\\%0200d\r\n' 0
    printf '[operating systems]\r\nscsi(0)disk(0)rdisk(0)partition(1)\\%0200d="x"\r\n' 0
} >"$dir/many-defaults"
