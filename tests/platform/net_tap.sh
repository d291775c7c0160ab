# The 32-bit Linux network guest on vmm's TAP backend (-nic tap,ifname=):
# the test makes a TAP device with `ip tuntap add`, gives its host side
# 198.18.77.1/24 (RFC 2544's benchmarking range: on no real network), and
# boots the guest with the static address 198.18.77.2 (vmmnet.ip= on its
# kernel command line, put into a copy of its syslinux.cfg). The guest
# fetches a file from an HTTP server this test runs on 198.18.77.1, and the
# host connects to nc on the guest's port 80 and reads its answer:
# traffic both ways through the TAP device, which is removed on exit. The
# card comes from the test name: platform_tap_pcnet or platform_tap_tulip.
# platform_tap_gone (PCnet): the device is deleted while the guest idles;
# vmm says so in one line and closes it (its descriptor would poll as an
# error for ever: a busy loop instead of the idle wait), the guest runs on.
# Needs root (CAP_NET_ADMIN) and /dev/net/tun: skipped otherwise.
. "$SRC/tests/lib.sh"
. "$SRC/tests/platform/lib-platform.sh"
need apt-get dpkg cpio sfdisk mcopy mtype mkfs.fat syslinux python3 ip
model=${TESTNAME#platform_tap_}
gone=0
[ "$model" != gone ] || { model=pcnet; gone=1; }
[ "$(id -u)" = 0 ] || skip "a TAP device needs root (CAP_NET_ADMIN)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun (the tun module is not loaded, or a container without it)"
host=198.18.77.1 guest=198.18.77.2
ip -4 addr show | grep -q "inet 198\.18\.77\." && skip "198.18.77.0/24 is already on an interface here"
tap=p2vtap$$
ip tuntap add dev "$tap" mode tap 2>tap.err || skip "ip tuntap add failed: $(cat tap.err)"
http_pid='' vmm_pid=''
cleanup() {
    kill $http_pid $vmm_pid 2>/dev/null || true
    ip link del "$tap" 2>/dev/null || true      # already gone in platform_tap_gone
}
trap cleanup EXIT
ip addr add "$host/24" dev "$tap"
ip link set "$tap" up
g=$(guest linux-net)

# The guest's static address and URL, on a copy of its disk.
off=$((2048 * 512))
export MTOOLS_SKIP_CHECK=1
cp "$g/linux-net.raw" guest.raw
mtype -i "guest.raw@@$off" ::syslinux.cfg | tr -d '\r' >syslinux.cfg
payload="VMM-TAP-PAYLOAD-$RANDOM$RANDOM"
mkdir www
echo "$payload" >www/payload.txt
http_port=8080
sed -i "s|^  APPEND .*|& vmmnet.ip=$guest vmmnet.url=http://$host:$http_port/payload.txt|" syslinux.cfg
grep -q vmmnet.ip= syslinux.cfg || fail "no APPEND line in the guest's syslinux.cfg"
mcopy -o -i "guest.raw@@$off" syslinux.cfg ::syslinux.cfg

# The HTTP server only on the TAP address (nothing else can reach it).
python3 -m http.server --bind "$host" --directory www "$http_port" >http.log 2>&1 &
http_pid=$!
"$BIN/vmm" --check --timeout 300 -m 128 --serial serial.txt --net-dump net.pcap \
    --nic "tap,ifname=$tap,model=$model" guest.raw >verdict.txt 2>stderr.txt &
vmm_pid=$!

net_wait_listen $vmm_pid
if [ $gone = 1 ]; then
    ip link del "$tap"
    for _ in $(seq 60); do
        grep -q 'went away' stderr.txt && break
        sleep 1
    done
    grep -q "^vmm: the TAP device '$tap' went away: the network card is now unplugged\$" stderr.txt ||
        { cat stderr.txt >&2; fail "vmm did not say that the TAP device went away"; }
    kill -0 $vmm_pid 2>/dev/null || fail "vmm stopped when the TAP device went away"
    for f in /proc/$vmm_pid/fd/*; do
        [ "$(readlink "$f")" != /dev/net/tun ] || fail "vmm still holds the deleted TAP device's descriptor"
    done
    exit 0
fi
net_ask_guest $guest 80 >reply.txt
net_wait_poweroff $vmm_pid
grep -q "^VMM-NET-IP: $guest\$" log.txt || { cat log.txt >&2; fail "the guest did not take $guest"; }
grep -q "^VMM-NET-GOT: $payload\$" log.txt || { cat log.txt >&2; fail "the guest did not download the host's file over the TAP device"; }
grep -q 'VMM-NET-GUEST-PAYLOAD' reply.txt || fail "no answer from the guest's port 80"
grep -q '^VMM-NET-SERVED: GET /from-host' log.txt || fail "the guest did not see the host's request"
