# Generates NT-era guest disks for the drivers-inject tests (sourced).
# make_guest IMAGE VARIANT [cab] [dirty] [stale] [fat] [size=MB]
#   VARIANT: nt4 | w2k | xp | w2k3
#   cab:   the IDE drivers are only in Driver Cache\i386\driver.cab
#          (2000/XP/2003); without it they are nowhere in the image
#   dirty: HKLM\SYSTEM\Setup SystemSetupInProgress=1
#   stale: MountedDevices recorded for another disk signature and offset
#   fat:   the system volume is FAT16 (mkfs.fat, populated with mtools)
#   superfloppy: no partition table, the NTFS volume starts at sector 0
# The disk is a raw MBR image (signature 0x4E543031) with one NTFS partition
# at sector 63, made with mkntfs with the 255-head geometry of a RAID BIOS.
# It boots off an Adaptec RAID miniport (aac) with atapi disabled.

need mkntfs sfdisk hivexregedit gcab iconv

HELPERS=$BUILD/tests/drivers-inject
SIG_HEX=31,30,54,4e          # 0x4E543031 little-endian
OFF_HEX=00,7e,00,00,00,00,00,00   # 63 * 512

utf16_hex() { printf '%s' "$1" | iconv -t UTF-16LE | od -An -tx1 -v | tr -s ' \n' ',' | sed 's/^,//'; }
multi_sz() { local h; h=$(utf16_hex "$1"); echo "hex(7):${h}00,00,00,00"; }

# A minimal PE32 console header (what file(1) and libguestfs inspection
# look for in cmd.exe), 310 bytes.
pe32_stub() {
    {
        printf 'MZ'; head -c 58 /dev/zero; printf '\x40\x00\x00\x00'          # e_lfanew = 0x40
        printf 'PE\x00\x00\x4c\x01\x00\x00'; head -c 12 /dev/zero            # i386, no sections
        printf '\xe0\x00\x02\x01'                                        # optional header size, flags
        printf '\x0b\x01'; head -c 66 /dev/zero; printf '\x03\x00'             # PE32 magic ... subsystem: console
        head -c 152 /dev/zero
    } >"$1"
}

# A placeholder driver whose content names it, so tests can tell which
# copy landed where.
placeholder() { printf 'MZ p2vkit placeholder %s\n' "$2" >"$1"; }

# le_hex VALUE BYTES: VALUE as .reg hex bytes, little-endian.
le_hex() {
    local i out=
    for ((i = 0; i < $2; i++)); do out+=$(printf '%02x,' $((($1 >> (8 * i)) & 255))); done
    echo "${out%,}"
}

# NT 4.0's DISK\Information for one disk with one partition lettered C:
# (ntddft.h: DISK_CONFIG_HEADER, DISK_REGISTRY, DISK_DESCRIPTION,
# DISK_PARTITION), then an empty FT_REGISTRY. disk_information SIG OFFSET LENGTH
disk_information() {
    local z4=00,00,00,00
    printf 'hex:%s' "$(le_hex 3 4),$z4,$z4,$(le_hex 44 4),$(le_hex 64 4),$(le_hex 108 4),$(le_hex 4 4),$z4,$z4,$z4,$z4"
    printf ',%s' "$(le_hex 1 2),00,00" "$(le_hex 1 2),00,00,$(le_hex $1 4)"
    printf ',%s' "$(le_hex 4 4),$z4,$(le_hex $2 8),$(le_hex $3 8),$(le_hex $3 8),$z4,$z4"
    printf ',%s' "43,01,01,00,00,00,00,00,00,00,00,00" "$z4"
}

system_reg() {   # VARIANT DIRTY STALE SIZE_MB
    local v=$1 dirty=$2 stale=$3 size=$4
    echo 'Windows Registry Editor Version 5.00'
    echo
    printf '[\\Select]\n"Current"=dword:00000001\n"Default"=dword:00000001\n"LastKnownGood"=dword:00000002\n"Failed"=dword:00000000\n\n'
    printf '[\\Setup]\n"SystemSetupInProgress"=dword:0000000%s\n"SetupType"=dword:00000000\n"CmdLine"="setup -newsetup"\n\n' \
        "$([ "$dirty" = yes ] && echo 1 || echo 0)"
    for cs in ControlSet001 ControlSet002; do
        printf '[\\%s]\n\n[\\%s\\Control]\n\n' $cs $cs
        printf '[\\%s\\Control\\CrashControl]\n"AutoReboot"=dword:00000001\n\n' $cs
        printf '[\\%s\\Control\\ComputerName]\n\n[\\%s\\Control\\ComputerName\\ComputerName]\n"ComputerName"="SERVER1"\n\n' $cs $cs
        printf '[\\%s\\Control\\ServiceGroupOrder]\n"List"=%s\n\n' $cs "$(multi_sz 'System Bus Extender')"
        printf '[\\%s\\Services]\n\n' $cs
        printf '[\\%s\\Services\\aac]\n"Type"=dword:00000001\n"Start"=dword:00000000\n"ErrorControl"=dword:00000001\n"Group"="SCSI miniport"\n"Tag"=dword:00000021\n\n' $cs
        printf '[\\%s\\Services\\atapi]\n"Type"=dword:00000001\n"Start"=dword:00000004\n"ErrorControl"=dword:00000001\n"Group"="SCSI miniport"\n\n' $cs
        printf '[\\%s\\Services\\disk]\n"Type"=dword:00000001\n"Start"=dword:00000000\n"ErrorControl"=dword:00000001\n"Group"="SCSI Class"\n\n' $cs
        printf '[\\%s\\Services\\cpqwmgmt]\n"Type"=dword:00000010\n"Start"=dword:00000002\n"DisplayName"="Compaq Insight Management Agent"\n\n' $cs
        printf '[\\%s\\Services\\Tcpip]\n\n[\\%s\\Services\\Tcpip\\Parameters]\n"Hostname"="server1"\n\n' $cs $cs
        if [ "$v" != nt4 ]; then
            printf '[\\%s\\Control\\CriticalDeviceDatabase]\n\n' $cs
            printf '[\\%s\\Control\\CriticalDeviceDatabase\\pci#ven_9005&dev_0285]\n"Service"="aac"\n"ClassGUID"="{4D36E97B-E325-11CE-BFC1-08002BE10318}"\n\n' $cs
            printf '[\\%s\\Control\\CriticalDeviceDatabase\\gendisk]\n"Service"="disk"\n"ClassGUID"="{4D36E967-E325-11CE-BFC1-08002BE10318}"\n\n' $cs
            local hal=acpiapic_mp
            [ "$v" = w2k ] && hal=acpipic_up
            printf '[\\%s\\Enum]\n\n[\\%s\\Enum\\Root]\n\n[\\%s\\Enum\\Root\\ACPI_HAL]\n\n[\\%s\\Enum\\Root\\ACPI_HAL\\0000]\n"HardwareID"=%s\n\n' \
                $cs $cs $cs $cs "$(multi_sz $hal)"
        fi
    done
    if [ "$v" = nt4 ]; then
        # Stale: recorded for another disk, with the partition 1 MiB in.
        local sig=0x4E543031 off=$((63 * 512)) len=$(((size * 2048 - 63) * 512))
        [ "$stale" = yes ] && sig=0xDEADBEEF off=1048576 len=$(((size * 2048 - 2048) * 512))
        printf '[\\DISK]\n"Information"=%s\n\n' "$(disk_information $sig $off $len)"
    fi
    if [ "$v" != nt4 ]; then
        local sig=$SIG_HEX off=$OFF_HEX
        if [ "$stale" = yes ]; then sig=ef,be,ad,de; off=00,00,10,00,00,00,00,00; fi
        printf '[\\MountedDevices]\n"\\\\DosDevices\\\\C:"=hex:%s,%s\n"\\\\??\\\\Volume{7f8a2b10-0000-11d1-9a0c-806d6172696f}"=hex:%s,%s\n\n' \
            $sig $off $sig $off
    fi
}

software_reg() {   # VARIANT
    local v=$1 ver build sp product root
    case $v in
        nt4) ver=4.0 build=1381 sp="Service Pack 6" product="Microsoft Windows NT" root='C:\\WINNT' ;;
        w2k) ver=5.0 build=2195 sp="Service Pack 4" product="Microsoft Windows 2000" root='C:\\WINNT' ;;
        xp) ver=5.1 build=2600 sp="Service Pack 2" product="Microsoft Windows XP" root='C:\\WINDOWS' ;;
        w2k3) ver=5.2 build=3790 sp="Service Pack 1" product="Microsoft Windows Server 2003" root='C:\\WINDOWS' ;;
    esac
    echo 'Windows Registry Editor Version 5.00'
    echo
    printf '[\\Microsoft]\n\n[\\Microsoft\\Windows NT]\n\n[\\Microsoft\\Windows NT\\CurrentVersion]\n'
    printf '"ProductName"="%s"\n"CurrentVersion"="%s"\n"CurrentBuildNumber"="%s"\n"CSDVersion"="%s"\n"SystemRoot"="%s"\n\n' \
        "$product" $ver $build "$sp" "$root"
}

make_guest() {
    local image=$1 v=$2; shift 2
    local cab=no dirty=no stale=no fat=no size=64 start=63
    for o in "$@"; do
        case $o in cab) cab=yes ;; dirty) dirty=yes ;; stale) stale=yes ;; fat) fat=yes ;; size=*) size=${o#size=} ;;
            superfloppy) start=0 ;; esac
    done
    local d; d=$(mktemp -d "$WORK/guest.XXXXXX")
    local root=WINDOWS
    case $v in nt4 | w2k) root=WINNT ;; esac
    "$HELPERS/mkhive" "$d/SYSTEM"
    "$HELPERS/mkhive" "$d/SOFTWARE"
    "$HELPERS/mkhive" "$d/SAM"
    system_reg $v $dirty $stale $size >"$d/system.reg"
    software_reg $v >"$d/software.reg"
    hivexregedit --merge "$d/SYSTEM" "$d/system.reg"
    hivexregedit --merge "$d/SOFTWARE" "$d/software.reg"

    printf '[boot loader]\r\ntimeout=30\r\n' >"$d/boot.ini"
    if [ $v = nt4 ]; then
        printf 'default=scsi(0)disk(0)rdisk(0)partition(1)\\%s\r\n[operating systems]\r\n' $root >>"$d/boot.ini"
        printf 'scsi(0)disk(0)rdisk(0)partition(1)\\%s="Windows NT Server Version 4.0"\r\n' $root >>"$d/boot.ini"
        printf 'scsi(0)disk(0)rdisk(0)partition(1)\\%s="Windows NT Server Version 4.0 [VGA mode]" /basevideo /sos\r\n' $root >>"$d/boot.ini"
        placeholder "$d/NTBOOTDD.SYS" "aac.sys as NTBOOTDD.SYS"
    else
        printf 'default=multi(0)disk(0)rdisk(0)partition(1)\\%s\r\n[operating systems]\r\n' $root >>"$d/boot.ini"
        printf 'multi(0)disk(0)rdisk(0)partition(1)\\%s="%s" /fastdetect\r\n' $root "$v" >>"$d/boot.ini"
    fi
    for f in ntldr NTDETECT.COM ntoskrnl.exe aac.sys disk.sys hal.dll; do placeholder "$d/$f" "$v $f"; done
    pe32_stub "$d/cmd.exe"
    if [ $v = nt4 ]; then
        # NT 4.0 has no Enum HAL key: the HAL is known from hal.dll's VERSIONINFO.
        { printf 'MZ'; printf 'OriginalFilename' | iconv -t UTF-16LE; printf '\0\0\0\0'; printf 'halmps.dll' | iconv -t UTF-16LE; printf '\0\0'; } >"$d/hal.dll"
    fi
    local args=("$d/boot.ini=boot.ini" "$d/ntldr=ntldr" "$d/NTDETECT.COM=NTDETECT.COM"
        "$d/SYSTEM=$root\\system32\\config\\SYSTEM" "$d/SOFTWARE=$root\\system32\\config\\SOFTWARE"
        "$d/SAM=$root\\system32\\config\\SAM" "$d/cmd.exe=$root\\system32\\cmd.exe"
        "$d/ntoskrnl.exe=$root\\system32\\ntoskrnl.exe" "$d/hal.dll=$root\\system32\\hal.dll"
        "$d/aac.sys=$root\\system32\\drivers\\aac.sys" "$d/disk.sys=$root\\system32\\drivers\\disk.sys"
        "DIR=$root\\inf" "DIR=$root\\Temp" "DIR=Program Files")
    [ $v = nt4 ] && args+=("$d/NTBOOTDD.SYS=NTBOOTDD.SYS")
    if [ $v != nt4 ]; then
        # Setup installed atapi.sys on this RAID server; the PCI IDE drivers
        # were never copied out of the cabinet.
        placeholder "$d/atapi.sys" "$v atapi.sys (installed)"
        args+=("$d/atapi.sys=$root\\system32\\drivers\\atapi.sys")
    fi
    if [ $cab = yes ]; then
        mkdir -p "$d/cab"
        for f in atapi.sys intelide.sys pciide.sys pciidex.sys halacpi.dll ntoskrnl.exe; do
            placeholder "$d/cab/$f" "$v driver.cab $f"
        done
        (cd "$d/cab" && gcab -c -z ../driver.cab *)
        args+=("$d/driver.cab=$root\\Driver Cache\\i386\\driver.cab")
    fi

    local sectors=$((size * 2048)) type=7
    [ $fat = yes ] && type=6
    truncate -s ${size}M "$image"
    [ $start = 0 ] || printf 'label: dos\nlabel-id: 0x4e543031\nstart=63, type=%s, bootable\n' $type | sfdisk -q "$image" >/dev/null
    truncate -s $(((sectors - start) * 512)) "$d/part.img"
    if [ $fat = yes ]; then
        need mkfs.fat mcopy
        mkfs.fat -F 16 -h 63 -g 255/63 -n SYSTEM "$d/part.img" >/dev/null
        populate_fat "$d/part.img" "${args[@]}"
        dd if="$d/part.img" of="$image" bs=1M oflag=seek_bytes seek=$((63 * 512)) conv=notrunc,sparse status=none
    else
        mkntfs -q -Q -F -s 512 -p $start -H 255 -S 63 -L SYSTEM "$d/part.img" >/dev/null 2>&1
        dd if="$d/part.img" of="$image" bs=1M oflag=seek_bytes seek=$((start * 512)) conv=notrunc,sparse status=none
        "$HELPERS/mkguest" "$image" $((start * 512)) "${args[@]}"
    fi
    rm -rf "$d"
}

# populate_fat PART HOST=GUEST...: with mtools, from make_guest's list.
populate_fat() {
    local part=$1 a host guest dir acc c
    shift
    for a in "$@"; do
        host=${a%%=*}
        guest=${a#*=}
        guest=${guest//\\//}
        if [ "$host" = DIR ]; then dir=$guest; else dir=${guest%/*}; [ "$dir" = "$guest" ] && dir=; fi
        acc=
        local IFS=/
        for c in $dir; do
            acc="$acc/$c"
            MTOOLS_SKIP_CHECK=1 mmd -i "$part" "::$acc" 2>/dev/null || true
        done
        unset IFS
        [ "$host" = DIR ] || MTOOLS_SKIP_CHECK=1 mcopy -o -i "$part" "$host" "::/$guest"
    done
}

# extract_file IMAGE GUEST_PATH OUT (the volume at sector PART_START, 63
# unless set): through ntfs-3g's ntfscat or, on a FAT
# volume, mtools' mcopy (oracles that share no code with drivers-inject's
# NTFS path).
extract_file() {
    local part; part=$(mktemp "$WORK/part.XXXXXX")
    dd if="$1" of="$part" bs=1M iflag=skip_bytes skip=$((${PART_START:-63} * 512)) status=none
    if [ "$(dd if="$part" bs=1 skip=54 count=4 status=none | tr -d '\0')" = FAT1 ]; then
        rm -f "$3"
        MTOOLS_SKIP_CHECK=1 mcopy -n -i "$part" "::/$2" "$3"
    else
        ntfscat "$part" "$2" >"$3"
    fi
    rm -f "$part"
}

# reg_dump IMAGE HIVE_PATH OUT: reglookup's CSV of the hive.
reg_dump() {
    local h; h=$(mktemp "$WORK/hive.XXXXXX")
    extract_file "$1" "$2" "$h"
    reglookup "$h" >"$3"
    rm -f "$h"
}

# expect_reg DUMP PATH,TYPE,VALUE: one line of reglookup output must match.
expect_reg() {
    grep -qiF -- "$2," "$1" || { grep -iF -- "${2%%,*}" "$1" >&2 || true; fail "registry: missing $2"; }
}


# CMD | contains PATTERN: like grep -q, but reads all of its input, so the
# writer never dies of SIGPIPE (which pipefail would turn into a failure).
contains() { grep "$@" >/dev/null; }
