# The same boot sector as an El Torito image on the ATAPI CD-ROM: SeaBIOS
# reads it with ATAPI packets (INQUIRY, READ CAPACITY, READ(10)).
. "$SRC/tests/lib.sh"
. "$SRC/tests/platform/lib-platform.sh"
need nasm xorriso
g=$(guest bootsectors)
check_verdict 0 "booted expected output" --timeout 60 --expect 'bootsector-ok' \
    --cdrom "$g/hello.iso" --boot d
# With a hard disk too (its sector prints readback-ok first), --boot d
# starts from the CD and --boot c from the disk.
check_verdict 0 "booted expected output 'VMM-TEST-MARKER" --timeout 60 --expect 'bootsector-ok' \
    --cdrom "$g/hello.iso" --boot d "$g/hello-write.raw"
check_verdict 0 "booted expected output 'readback-ok VMM-TEST-MARKER" --timeout 60 \
    --expect 'bootsector-ok' --cdrom "$g/hello.iso" --boot c "$g/hello-write.raw"
# A disk with nothing on it: SeaBIOS falls back to the CD.
check_verdict 0 "booted expected output 'VMM-TEST-MARKER" --timeout 60 --expect 'bootsector-ok' \
    --cdrom "$g/hello.iso" "$g/blank.raw"
