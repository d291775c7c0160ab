#!/usr/bin/env bash
# Seed corpus for fuzz_verdict: guest output the engine must recognise (a
# STOP screen, a panic, SeaBIOS with nothing to boot, MBR and boot-sector
# errors, GRUB's rescue prompt, a login prompt).
# Usage: seeds-verdict.sh VDISK OUTDIR (VDISK unused).
set -eu
out=$2
mkdir -p "$out"
printf '\000Booting from Hard Disk...\n\033[2J\033[1;1H\n\001x\n*** STOP: 0x0000007B (0xF78D2524,0xC0000034,0x00000000,0x00000000)\nINACCESSIBLE_BOOT_DEVICE\n' >"$out/stop"
printf '\000[    2.101] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n' >"$out/panic"
printf '\001No bootable device.\nmarker-42\nDebian GNU/Linux 12 debian ttyS0\n\ndebian login: ' >"$out/login"
printf '\000Booting from Hard Disk...\r\nNTLDR is missing\r\nPress any key to restart\r\n' >"$out/ntldr"
printf '\000Invalid partition table\000Error loading operating system\000Missing operating system' >"$out/msmbr"
printf '\001Multiple active partitions.\r\nOperating system load error.\r\nMissing operating system.\r\n' >"$out/syslinux-mbr"
printf '\000GRUB loading.\r\n\033[0;30;47mWelcome to GRUB!\r\n\r\n\033[0merror: no such partition.\r\nEntering rescue mode...\r\ngrub rescue> ' >"$out/grub-rescue"
