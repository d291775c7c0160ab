#!/usr/bin/env bash
# Seeds for fuzz_inf: a storage INF (first byte 0: INF parser, 2000/XP
# decorations) and a txtsetup.oem (first byte 1). Usage: seeds-inf.sh VDISK DIR
set -eu
dir=$2
{ printf '\002'; printf '[Version]\nSignature="$Windows NT$"\nClass=SCSIAdapter\n[Manufacturer]\n%%M%% = X, NTx86\n[X.NTx86]\n%%D%% = I, PCI\\VEN_1000&DEV_0030\n[I.NTx86]\nCopyFiles = F\n[I.NTx86.Services]\nAddService = s, 0x2, S\n[S]\nServiceType=1\nStartType=0\nServiceBinary=%%12%%\\s.sys\nLoadOrderGroup=SCSI miniport\nAddReg=R\n[R]\nHKR, "Parameters\\PnpInterface", "5", 0x00010001, 1\n[F]\ns.sys\n[Strings]\nM="m ""q"""\nD="d; x" ; c\n'; } >"$dir/inf"
{ printf '\001'; printf '[scsi]\na = "A"\n[Files.scsi.a]\ndriver = d1, a.sys, a\n[HardwareIds.scsi.a]\nid = "PCI\\VEN_9005&DEV_0285", "a"\n[Config.a]\nvalue = Parameters\\PnpInterface, 5, REG_DWORD, 1\n'; } >"$dir/oem"
