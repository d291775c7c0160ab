# Which disks go down the Linux path (libguestfs inspection): not only an
# ext partition, but a Linux, LVM or RAID partition type or an XFS/btrfs
# volume with no ext anywhere (RHEL 7's XFS /boot, an all-LVM disk). Each
# disk here holds no OS, so the Linux path must answer "no Linux root",
# not the Windows path's "no NTFS or FAT volume".
source "$SRC/tests/lib.sh"
need sfdisk
need mkfs.btrfs
export LIBGUESTFS_BACKEND_SETTINGS=force_tcg

truncate -s 300M btrfs.img
echo 'start=2048, type=83' | sfdisk -q btrfs.img
truncate -s 200M vol.btrfs
mkfs.btrfs -q vol.btrfs >/dev/null
dd if=vol.btrfs of=btrfs.img bs=1M seek=1 conv=notrunc,sparse status=none
rm vol.btrfs
truncate -s 64M lvm.img
echo 'start=2048, type=8e' | sfdisk -q lvm.img
for img in btrfs.img lvm.img; do
    h=$(sha256sum <"$img")
    expect_fail 1 "$img: no Linux root filesystem" "$BIN/drivers-inject" --dry-run "$img"
    [ "$(sha256sum <"$img")" = "$h" ] || fail "$img changed by a dry run"
done
# A disk with only a FAT partition of no OS is still the Windows answer.
truncate -s 64M fat.img
echo 'start=2048, type=6' | sfdisk -q fat.img
mkfs.fat -F 16 --offset 2048 fat.img >/dev/null
expect_fail 1 "fat.img: no NTFS or FAT volume with a Windows directory" "$BIN/drivers-inject" --dry-run fat.img
"$BIN/drivers-inject" --dry-run --output=json fat.img >fat.json 2>/dev/null && fail "fat.img: exit 0"
python3 -c 'import json,sys; s=json.load(open("fat.json"))["status"]; sys.exit(s != "no guest OS found")' ||
    fail "fat.img: JSON status is not 'no guest OS found'"
echo ok
