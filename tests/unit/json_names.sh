# --output=json with file names that are not ASCII: valid UTF-8 (é, диск)
# comes back unchanged through python3's strict json and UTF-8 decoding,
# and a name that is not UTF-8 at all (Latin-1 é) still gives valid JSON,
# with U+FFFD in its place. vdisk info, drivers-inject's report (stdout
# and --report FILE) and the vmm verdict, whose detail quotes guest
# output. (p2v writes no JSON.)
. "$SRC/tests/lib.sh"
need python3
cd "$WORK"

# json_field FILE KEY WANT: FILE holds one JSON object whose KEY is WANT
# (both given as bytes; WANT decoded with U+FFFD for invalid UTF-8).
json_field() {
    python3 - "$@" <<'PY' || fail "$1: field $2"
import json, os, sys
f, key, want = sys.argv[1], os.fsencode(sys.argv[2]).decode(), os.fsencode(sys.argv[3])
doc = json.loads(open(f, "rb").read().decode("utf-8"))   # strict: no invalid UTF-8
got = doc
for k in key.split("."):
    got = got[k]
want = want.decode("utf-8", "replace")
if got != want:
    sys.exit("%s: %s is %r, wanted %r" % (f, key, got, want))
PY
}

good=$'d\xc3\xa9j\xc3\xa0-\xd0\xb4\xd0\xb8\xd1\x81\xd0\xba "q".raw'    # déjà-диск "q".raw
bad=$'caf\xe9-\xff.raw'                                                 # Latin-1 é, and 0xFF
for name in "$good" "$bad"; do
    truncate -s 16M "$name"
    "$BIN/vdisk" info --output=json "$name" >info.json || fail "vdisk info '$name'"
    json_field info.json filename "$name"
    rc=0
    "$BIN/drivers-inject" --dry-run --output=json --report report.json "$name" \
        >inject.json 2>/dev/null || rc=$?
    [ "$rc" -eq 1 ] || fail "drivers-inject on a blank disk exited $rc, wanted 1"
    json_field inject.json image "$name"
    json_field report.json image "$name"
done

# A differencing VHD whose parent has a non-ASCII name (stored in the
# VHD's UTF-16 parent locators).
"$BIN/vdisk" create -f vhd "$good.vhd" 16M >/dev/null || fail "vdisk create"
"$BIN/vdisk" create -f vhd -b "$good.vhd" "top-$good.vhd" >/dev/null || fail "vdisk create -b"
"$BIN/vdisk" info --output=json "top-$good.vhd" >top.json || fail "vdisk info of the child"
json_field top.json filename "top-$good.vhd"
json_field top.json backing-filename "./$good.vhd"

# vmm: a boot sector prints a UTF-8 line and a Latin-1 line on COM1; the
# verdict's detail quotes the line --expect matched.
if command -v nasm >/dev/null; then
    cat >say.asm <<'ASM'
bits 16
org 0x7c00
    xor ax, ax
    mov ds, ax
    mov si, text
.next:
    lodsb
    test al, al
    jz .done
    mov ah, al
    mov dx, 0x3fd
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    mov al, ah
    mov dx, 0x3f8
    out dx, al
    jmp .next
.done:
    hlt
    jmp .done
text: db 13, 10, "boot ", TEXT, 13, 10, 0
times 510-($-$$) db 0
dw 0xaa55
ASM
    for text in "$good" "$bad"; do
        hex=$(printf '%s' "$text" | od -An -tx1 | tr -s ' \n' ' ' | sed 's/^ //; s/ $//; s/ /,0x/g')
        nasm -f bin -DTEXT="0x$hex" -o say.raw say.asm
        truncate -s 1M say.raw
        rc=0
        "$BIN/vmm" --check --timeout 60 --vga none --expect '^boot .+raw$' --output=json say.raw \
            >verdict.json 2>vmm.err || rc=$?
        [ "$rc" -eq 0 ] || { cat verdict.json vmm.err >&2; fail "vmm exited $rc"; }
        json_field verdict.json detail "expected output 'boot $text' on COM1"
    done
else
    echo "nasm missing: the vmm verdict is not checked"
fi
echo "all JSON valid, names kept"
