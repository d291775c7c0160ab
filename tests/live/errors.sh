# What the live system says when it cannot capture, on the serial console,
# and the shell it leaves there: no network card, and a server that does
# not answer (nothing listens on the port; p2v.retry=1 shortens p2v's
# reconnecting). The wrong token is in dialog.sh.
source "$SRC/tests/live/lib.sh"
closed=$(free_port)
FAIL_ON='Kernel panic' boot "$WORK/nonic.log" 280 -cdrom "$LIVE/p2v-live.iso" -boot d -nic none -- \
    --step 'boot:' "serial p2v.server=10.0.2.2:$PORT p2v.token=$TOKEN p2v.retry=1" \
    --step 'CAPTURE FAILED \(exit 1\): no network: check the cable or DHCP, or give ip=' '' \
    --step '# ' 'poweroff -f' ||
    { tail -40 "$WORK/nonic.log" >&2; fail "no NIC: no 'no network' message and shell"; }
grep 'no network card found' "$WORK/nonic.log" >/dev/null || fail "no NIC: not said"
FAIL_ON='Kernel panic' boot "$WORK/closed.log" 280 -cdrom "$LIVE/p2v-live.iso" -boot d -nic user,model=pcnet -- \
    --step 'boot:' "serial p2v.server=10.0.2.2:$closed p2v.token=$TOKEN p2v.retry=1" \
    --step "CAPTURE FAILED \\(exit 1\\): cannot reach 10.0.2.2:$closed: is 'p2v serve' running there" '' \
    --step '# ' 'poweroff -f' ||
    { tail -40 "$WORK/closed.log" >&2; fail "closed port: no 'cannot reach' message and shell"; }
grep 'eth0 is 10.0.2.15' "$WORK/closed.log" >/dev/null || fail "the PCnet NIC did not come up"
stop_server
