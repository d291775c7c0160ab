# The live ISO's dialog, driven through the serial console (the "serial"
# boot entry makes the first serial port the console): with no p2v.server
# it lists the disks it found (size, model, partitions), asks for the
# server, the token (not echoed), the disks, the name and a go-ahead, and
# the capture equals the source. Then a wrong token: the console says what
# to do, and leaves a shell.
source "$SRC/tests/live/lib.sh"
boot "$WORK/dialog.log" 280 -cdrom "$LIVE/p2v-live.iso" -boot d -nic user,model=e1000 -- \
    --step 'boot:' serial \
    --step 'Server \(HOST:PORT\): ' "10.0.2.2:$PORT" \
    --step 'Token: ' "$TOKEN" \
    --step 'Disks \(all, or e\.g\. sda,sdb\) \[all\]: ' sda \
    --step 'Machine name \[live-[0-9a-f]{12}\]: ' dialog \
    --step 'Start the capture\? \(yes/no\) \[yes\]: ' '' ||
    { tail -40 "$WORK/dialog.log" >&2; fail "the dialog did not capture and power off"; }
grep -E 'sda +104 MiB +QEMU HARDDISK +partitions: sda1\(32 MiB\) sda2\(40 MiB\) sda3\(0 MiB\) sda5\(24 MiB\)' \
    "$WORK/dialog.log" >/dev/null || fail "the dialog did not list the source disk with its model and partitions"
tr -d '\r' <"$WORK/dialog.log" | sed -n '/^Token: /,$p' | grep -F "$TOKEN" >/dev/null &&
    fail "the token was echoed on the console"
check dialog "$WORK/dialog.log"

# A wrong token: the console names the cause, and the shell it leaves
# answers on the serial console.
fail_boot "$WORK/badtoken.log" 'CAPTURE FAILED \(exit 1\): the server refused the token' \
    "p2v.server=10.0.2.2:$PORT p2v.token=not-the-token-0123456789 p2v.name=bad" -nic user,model=e1000
[ ! -e "$WORK/out/bad/state" ] || fail "a capture with a wrong token left a session on the server"
stop_server
