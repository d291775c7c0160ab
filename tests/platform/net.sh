# The 32-bit Linux network guest with a network card on -nic user (libslirp):
# its driver binds without injection, DHCP gives it 10.0.2.15, wget fetches
# a file from an HTTP server this test runs on the host's 127.0.0.1 (through
# the gateway 10.0.2.2, the URL sent as the DHCP boot file), and a host
# forward reaches nc listening on the guest's port 80. --net-dump writes a
# pcap of both directions. The card comes from the test name: net_pcnet
# (PCnet-PCI II, pcnet32) or net_tulip (DEC 21140, tulip), in APIC mode
# (PCI INTA through the PIIX3 PIRQ route to a level-triggered I/O APIC
# pin); a -pic suffix runs them with --no-apic (the same route to the
# 8259, level-triggered through the ELCR).
. "$SRC/tests/lib.sh"
. "$SRC/tests/platform/lib-platform.sh"
need apt-get dpkg cpio sfdisk mcopy mkfs.fat syslinux python3
variant=${TESTNAME#platform_net_}
model=${variant%-pic}
flag=; [ "$model" != "$variant" ] && flag=--no-apic
g=$(guest linux-net)

# Two free loopback ports, the host's HTTP server and the forward, below
# the kernel's ephemeral range: a port bind(0) gave out can be taken at
# once by an outgoing connection of another program.
read -r http_port fwd_port < <(python3 -c '
import random, socket
got = []
while len(got) < 2:
    p = random.randrange(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        if p not in got:
            got.append(p)
    except OSError:
        pass
    s.close()
print(*got)')
payload="VMM-NET-PAYLOAD-$RANDOM$RANDOM"
mkdir www
echo "$payload" > www/payload.txt
python3 -m http.server --bind 127.0.0.1 --directory www "$http_port" >http.log 2>&1 &
http_pid=$!
trap 'kill $http_pid 2>/dev/null' EXIT

# The PCnet through -nic, the Tulip through QEMU's other spelling.
backend="bootfile=http://10.0.2.2:$http_port/payload.txt,hostfwd=tcp:127.0.0.1:$fwd_port-:80"
if [ "$model" = pcnet ]; then
    nic=(--nic "user,model=$model,$backend")
else
    nic=(--device "$model,netdev=n0" --netdev "user,id=n0,$backend")
fi
"$BIN/vmm" --check --timeout 300 -m 128 $flag --serial serial.txt --net-dump net.pcap \
    "${nic[@]}" \
    "$g/linux-net.raw" >verdict.txt 2>stderr.txt &
vmm_pid=$!

# When the guest listens, connect through the forward and read its answer.
net_wait_listen $vmm_pid
net_ask_guest 127.0.0.1 $fwd_port >reply.txt
net_wait_poweroff $vmm_pid
grep -q '^VMM-NET-IP: 10.0.2.15$' log.txt || fail "no DHCP address 10.0.2.15 from libslirp"
grep -q "^VMM-NET-GOT: $payload\$" log.txt || fail "the guest did not download the host's file"
if [ -n "$flag" ]; then
    grep -Eq '^VMM-NET-IRQ: +1[01]: +[1-9][0-9]* +XT-PIC +eth0' log.txt || fail "the card's interrupt is not on the 8259"
else
    grep -Eq '^VMM-NET-IRQ: +1[01]: +[1-9][0-9]* +IO-APIC +1[01]-fasteoi +eth0' log.txt \
        || fail "the card's interrupt is not a level-triggered I/O APIC line"
fi
grep -q 'VMM-NET-GUEST-PAYLOAD' reply.txt || fail "no answer from the guest through the forward"
grep -q '^VMM-NET-SERVED: GET /from-host' log.txt || fail "the guest did not see the host's request"
# The pcap: a valid header and frames both ways (the DHCP offer comes
# from 52:55:0a:00:02:02, the guest's frames from its MAC).
python3 - net.pcap <<'PY' || fail "bad --net-dump pcap"
import struct, sys
d = open(sys.argv[1], "rb").read()
magic, vmaj, vmin, _, _, snap, link = struct.unpack("<IHHiIII", d[:24])
assert (magic, vmaj, vmin, link) == (0xA1B2C3D4, 2, 4, 1), "pcap header"
o, src = 24, set()
while o < len(d):
    _, _, incl, orig = struct.unpack("<IIII", d[o:o + 16])
    assert incl == orig and 14 <= incl <= 1536, "record length"
    src.add(d[o + 16 + 6:o + 16 + 12].hex())
    o += 16 + incl
assert o == len(d), "truncated record"
assert "525400123456" in src and "52550a000202" in src, src
PY
