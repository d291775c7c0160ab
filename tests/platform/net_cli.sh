# Network options: a wrong -nic, -netdev or -device is one line and exit 2; a host forward on a
# port already taken, an unwritable or input --net-dump are one line and
# exit 1, before the guest runs.
. "$SRC/tests/lib.sh"
need python3
truncate -s 1M blank.raw
expect_fail 2 "unknown network type 'bridge'" "$BIN/vmm" --nic bridge blank.raw
expect_fail 2 "unknown card model 'e1000'" "$BIN/vmm" --nic user,model=e1000 blank.raw
expect_fail 2 "hostfwd 'tcp:2222:22'" "$BIN/vmm" --nic user,hostfwd=tcp:2222:22 blank.raw
expect_fail 2 "hostfwd 'tcp::0-:22'" "$BIN/vmm" --nic user,hostfwd=tcp::0-:22 blank.raw
expect_fail 2 "hostfwd 'tcp:1.2.3:22-:22'" "$BIN/vmm" --nic user,hostfwd=tcp:1.2.3:22-:22 blank.raw
expect_fail 2 "mac '01:00:00:00:00:01'" "$BIN/vmm" --nic user,mac=01:00:00:00:00:01 blank.raw
expect_fail 2 "unknown option 'speed=10'" "$BIN/vmm" --nic user,speed=10 blank.raw
expect_fail 2 "hostfwd needs the user network" "$BIN/vmm" --nic tap,hostfwd=tcp::2222-:22 blank.raw
expect_fail 2 "ifname needs the tap network" "$BIN/vmm" --nic user,ifname=tap0 blank.raw
expect_fail 2 "-nic: empty argument" "$BIN/vmm" --nic '' blank.raw
expect_fail 2 "-netdev: id= is required" "$BIN/vmm" --netdev user blank.raw
expect_fail 2 "-device: netdev= is required" "$BIN/vmm" --device pcnet blank.raw
expect_fail 2 "-device: unknown card model 'e1000'" "$BIN/vmm" --device e1000,netdev=n0 blank.raw
expect_fail 2 "-device: netdev=b names no -netdev" "$BIN/vmm" --netdev user,id=a --device pcnet,netdev=b blank.raw
expect_fail 2 "-device: netdev=a names no -netdev" "$BIN/vmm" --device tulip,netdev=a blank.raw
expect_fail 2 "-netdev id=a: no -device" "$BIN/vmm" --netdev user,id=a blank.raw
expect_fail 2 "-netdev: unknown option 'model=pcnet'" "$BIN/vmm" --netdev user,id=a,model=pcnet blank.raw
expect_fail 2 "-netdev: unknown network type 'none'" "$BIN/vmm" --netdev none,id=a blank.raw
expect_fail 2 "--net-dump needs a network card" "$BIN/vmm" --net-dump x.pcap blank.raw
expect_fail 2 "--net-dump needs a network card" "$BIN/vmm" --nic none --net-dump x.pcap blank.raw
# A port someone else holds.
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True); time.sleep(30)' >port.txt &
holder=$!
trap 'kill $holder 2>/dev/null' EXIT
for _ in $(seq 50); do [ -s port.txt ] && break; sleep 0.1; done
port=$(cat port.txt)
expect_fail 1 "cannot forward host TCP port $port" \
    "$BIN/vmm" --check --timeout 5 --nic "user,hostfwd=tcp:127.0.0.1:$port-:22" blank.raw
expect_fail 1 "cannot write the network dump nodir/x.pcap" \
    "$BIN/vmm" --check --timeout 5 --nic user --net-dump nodir/x.pcap blank.raw
expect_fail 1 "blank.raw" "$BIN/vmm" --check --timeout 5 --nic user --net-dump blank.raw blank.raw
"$BIN/vmm" --help | grep -- '--nic user|tap|none' >/dev/null || fail "--help does not describe --nic"
