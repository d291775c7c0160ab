# p2v.server= by host name: the live system resolves it with busybox's
# nslookup against the DNS server of a static ip= (its DNS0 field), which is
# tests/live/dns.py on this host's 127.0.0.1:53 (QEMU's user-mode network
# takes the guest's UDP to the gateway 10.0.2.2 to the host's loopback);
# the capture to that name succeeds, and a name the server does not know
# ends in one clear line and the shell.
source "$SRC/tests/live/lib.sh"
python3 "$SRC/tests/live/dns.py" 127.0.0.1 53 p2v-server.test 10.0.2.2 "$WORK/dns.log" \
    >"$WORK/dns.out" 2>"$WORK/dns.err" &
dns=$!
SERVER_PIDS+=("$dns")
for _ in $(seq 100); do
    grep -q ready "$WORK/dns.out" && break
    if ! kill -0 "$dns" 2>/dev/null; then
        rc=0; wait "$dns" || rc=$?
        [ "$rc" != 3 ] || skip "a DNS server for the guest needs 127.0.0.1:53/udp: $(cat "$WORK/dns.err")"
        cat "$WORK/dns.err" >&2; fail "tests/live/dns.py exited $rc"
    fi
    sleep 0.05
done
grep -q ready "$WORK/dns.out" || fail "tests/live/dns.py did not start within 5 s"
ipline=ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off:10.0.2.2

site_iso "$WORK/site.iso"
boot "$WORK/dns.boot.log" 280 -cdrom "$WORK/site.iso" -boot d -nic user,model=e1000 -- \
    --step 'boot:' "p2v $ipline p2v.server=p2v-server.test:$PORT p2v.name=dns p2v.post=poweroff" ||
    { tail -40 "$WORK/dns.boot.log" >&2; fail "the live ISO did not capture to p2v-server.test and power off"; }
grep 'p2v-server.test is 10.0.2.2 (DNS 10.0.2.2)' "$WORK/dns.boot.log" >/dev/null ||
    fail "the console did not say what p2v-server.test resolved to"
grep '^1 p2v-server.test$' "$WORK/dns.log" >/dev/null || fail "the guest did not ask tests/live/dns.py for p2v-server.test"
check dns "$WORK/dns.boot.log"

fail_boot "$WORK/nxdomain.log" \
    "CAPTURE FAILED: cannot resolve the server name 'nowhere.test': the DNS server 10.0.2.2 has no address for it: check the name; or give p2v.server=IP:PORT" \
    "$ipline p2v.server=nowhere.test:$PORT p2v.token=$TOKEN" -nic user,model=e1000
grep '^1 nowhere.test$' "$WORK/dns.log" >/dev/null || fail "the guest did not ask tests/live/dns.py for nowhere.test"
stop_server
