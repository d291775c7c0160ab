# What the live system says when it cannot capture, on the serial console,
# and the shell it leaves there: no network card, and a server that does
# not answer (nothing listens on the port; p2v.retry=1 shortens p2v's
# reconnecting), and no disk at all. The wrong token is in dialog.sh.
source "$SRC/tests/live/lib.sh"
closed=$(free_port)
fail_boot "$WORK/nonic.log" 'CAPTURE FAILED \(exit 1\): no network: check the cable or DHCP, or give ip=' \
    "p2v.server=10.0.2.2:$PORT p2v.token=$TOKEN p2v.retry=1" -nic none
grep 'no network card found' "$WORK/nonic.log" >/dev/null || fail "no NIC: not said"
fail_boot "$WORK/closed.log" "CAPTURE FAILED \\(exit 1\\): cannot reach 10.0.2.2:$closed: is 'p2v serve' running there" \
    "p2v.server=10.0.2.2:$closed p2v.token=$TOKEN p2v.retry=1" -nic user,model=pcnet
grep 'eth0 is 10.0.2.15' "$WORK/closed.log" >/dev/null || fail "the PCnet NIC did not come up"
NO_SOURCE=1 fail_boot "$WORK/nodisk.log" 'CAPTURE FAILED: no disks found: no driver here for the storage controller' \
    "p2v.server=10.0.2.2:$PORT p2v.token=$TOKEN" -nic user,model=e1000
stop_server
