# p2v serve under a slow-client attack: 100 connections (more than the
# server's 64 slots) that dribble a frame header one byte at a time, or a
# TLS record, or say nothing, reconnecting whenever they are dropped. Each
# is cut at the pre-authentication deadline (--auth-timeout, short here),
# one address holds at most a few, and a real agent still captures, over
# plain TCP and over TLS. The attacker uses another loopback address
# (127.0.0.2) than the agent (127.0.0.1), as a real one would.
source "$SRC/tests/p2v/lib.sh"
need python3 openssl qemu-img
python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.2", 0))' 2>/dev/null ||
    skip "cannot bind 127.0.0.2 (loopback)"

head -c $((6 << 20)) /dev/urandom >"$WORK/src.img"

# attack PORT MODE: the slow client in the background until stop_attack.
attack() {
    rm -f "$WORK/ready" "$WORK/stop"
    python3 "$SRC/tests/p2v/slowloris.py" "$1" 100 127.0.0.2 "$2" "$WORK/ready" "$WORK/stop" \
        >"$WORK/attack.out" &
    ATTACK_PID=$!
    for i in $(seq 200); do
        [ -e "$WORK/ready" ] && return 0
        kill -0 $ATTACK_PID 2>/dev/null || fail "the attacker did not start"
        sleep 0.05
    done
    fail "the attacker did not open its connections"
}
stop_attack() {
    touch "$WORK/stop"
    wait $ATTACK_PID || fail "the attacker failed"
    [ "$(cat "$WORK/attack.out")" -gt 0 ] || fail "the server dropped no attacker connection"
}
# captured NAME DIR: the image holds the source.
captured() {
    qemu-img convert -f vpc -O raw "$2/$1/disk0.vhd" "$WORK/$1.raw"
    cmp "$WORK/src.img" "$WORK/$1.raw" || fail "$1: the captured disk differs"
}

# Plain TCP: header dribblers.
start_server "$WORK/out" --auth-timeout 2
attack "$PORT" dribble
sleep 2.5    # past one deadline: the first round of dribblers is cut, new ones came
timeout 60 "$P2V" capture --server "127.0.0.1:$PORT" --token-file "$WORK/token" --name plain \
    --disk "$WORK/src.img" --state "$WORK/plain.session" || fail "plain: the agent could not capture under attack"
sleep 2      # the attacker keeps going: more are cut at their deadline
stop_attack
stop_server
captured plain "$WORK/out"
log=$WORK/out/serve.log
grep -q "127.0.0.2:[0-9]* \[-\] refused: not authenticated within 2 s" "$log" ||
    fail "plain: no dribbler was cut at the deadline"
grep -q "connection from 127.0.0.2 refused: too many unauthenticated connections from its address" "$log" ||
    fail "plain: one address was not capped"

# One address holds at most 4 unauthenticated connections: the fifth from
# it is refused with the reason (an agent behind the same address as an
# attacker says why, once the attacker's are cut at the deadline it gets in).
start_server "$WORK/out"
python3 - "$PORT" "$WORK/held" <<'PY' &
import os, socket, sys, time
s = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(4)]
open(sys.argv[2], "w").close()
time.sleep(5)
PY
holder=$!
for i in $(seq 100); do [ -e "$WORK/held" ] && break; sleep 0.05; done
sleep 0.3
expect_fail 1 "the server refused: too many unauthenticated connections from its address" \
    "$P2V" capture --server "127.0.0.1:$PORT" --token-file "$WORK/token" --name same \
    --disk "$WORK/src.img" --state "$WORK/same.session"
kill $holder 2>/dev/null || true
wait $holder 2>/dev/null || true
stop_server
unset PORT

# TLS: silent clients (held 120 s before) and dribbled TLS records.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
pin=$(openssl x509 -in "$WORK/cert.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
unset PORT
for mode in silent tls; do
    start_server "$WORK/tls-$mode" --auth-timeout 2 --tls --cert "$WORK/cert.pem" --key "$WORK/key.pem"
    attack "$PORT" $mode
    sleep 2.5
    timeout 60 "$P2V" capture --server "127.0.0.1:$PORT" --token-file "$WORK/token" --name "tls-$mode" \
        --disk "$WORK/src.img" --state "$WORK/tls.session" --tls --server-cert-sha256 "$pin" ||
        fail "TLS ($mode): the agent could not capture under attack"
    sleep 2
    stop_attack
    stop_server
    captured "tls-$mode" "$WORK/tls-$mode"
    grep -q "connection refused: no TLS handshake within 2 s" "$WORK/tls-$mode/serve.log" ||
        fail "TLS ($mode): no handshake was cut at the deadline"
    unset PORT
done
echo ok
