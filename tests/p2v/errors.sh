# Refusals and recovery: a wrong token, malformed and oversized messages,
# a name with path separators, an offset outside the disk (all refused with
# a logged reason, the server staying up); a corrupted chunk detected and
# sent again; usage errors with one line and exit 2.
P2V_TEST_FORMAT=raw   # the other tests write VHD
source "$SRC/tests/p2v/lib.sh"
need mkntfs ntfscp ntfsls ntfstruncate mkfs.fat mcopy mdel mkfs.ext4 debugfs sfdisk python3
[ "$FMT" = raw ] || need qemu-img

make_disk "$WORK/src.img" fresh
start_server "$WORK/out"
log=$WORK/out/serve.log

# A wrong token: the agent is refused, the server logs why.
echo "some-other-token-0123456789" >"$WORK/wrong"
expect_fail 1 "refused: authentication failed" \
    "$P2V" capture --server "127.0.0.1:$PORT" --token-file "$WORK/wrong" --name x \
    --disk "$WORK/src.img" --state "$WORK/x.session" --retry-for 0
grep -q "refused: authentication failed (wrong token)" "$log" || fail "wrong token not logged"
[ ! -e "$WORK/out/x" ] || fail "a refused agent got a machine directory"

# Hostile peers, each refused with a logged reason.
run_bad() {
    timeout 20 python3 "$SRC/tests/p2v/badclient.py" "$PORT" "$WORK/token" "$1" || fail "badclient $1"
    grep -q -- "$2" "$log" || { cat "$log" >&2; fail "$1: no '$2' in the server log"; }
}
run_bad wrong-token "authentication failed (wrong token)"
run_bad bad-magic "bad magic"
run_bad oversized "over the limit"
run_bad truncated-hello "HELLO message truncated"
run_bad path-name "invalid machine name"
run_bad offset-outside "outside the disk"
run_bad chunk-too-long "out of range"
run_bad zstd-not-negotiated "zstd was not negotiated"
run_bad chunk-replayed "chunk already received"
# ... and its first, good chunk was checked (SHA-256 checksum) and written
# (logged when the server has closed that connection).
for i in $(seq 50); do
    grep -q "\[bad\] received 1 chunks (1048576 bytes)" "$log" && break
    [ "$i" -lt 50 ] || fail "chunk-replayed: the good chunk was not taken"
    sleep 0.1
done
# A disk sent again after a digest mismatch, now with a zero chunk where
# data was: the image holds the zeros, not the old data.
timeout 20 python3 "$SRC/tests/p2v/badclient.py" "$PORT" "$WORK/token" resend-zeros || fail "resend-zeros"
to_raw "$WORK/out/rz/disk0.$FMT" "$WORK/rz.raw"
cmp "$WORK/rz.raw" <(head -c $((2 << 20)) /dev/zero) || fail "resend-zeros: the image kept data the agent replaced with zeros"
[ ! -e "$WORK/escape" ] && [ ! -e "$WORK/out/../escape" ] || fail "a path-separator name escaped DIR"

# A chunk corrupted on the way (test hook) is detected and sent again.
P2V_TEST_CORRUPT_CHUNK=3 capture --name corrupt --disk "$WORK/src.img" --state "$WORK/c.session" --compress zstd
grep -q "checksum mismatch; asked for it again" "$WORK/out/corrupt/log" ||
    grep -q "does not decompress; asked for it again" "$WORK/out/corrupt/log" || fail "corruption not detected"
# The same uncompressed: the chunk would have gone from the page cache, so
# the hook corrupts a copy; it is asked for again and read into a buffer.
P2V_TEST_CORRUPT_CHUNK=3 capture --name corrupt-raw --disk "$WORK/src.img" --state "$WORK/cr.session"
grep -q "checksum mismatch; asked for it again" "$WORK/out/corrupt-raw/log" || fail "raw corruption not detected"
# Had the page cache kept disagreeing with the disk (a source written to
# during the capture), the chunk read in place again would be as wrong
# again; read into a buffer, it goes through at the first resend.
P2V_TEST_STALE_CACHE=3 capture --name stale --disk "$WORK/src.img" --state "$WORK/st.session"
[ "$(grep -c "checksum mismatch; asked for it again" "$WORK/out/stale/log")" = 1 ] ||
    fail "stale cache: the chunk asked for again was not read into a buffer"
capture --name clean --disk "$WORK/src.img" --state "$WORK/k.session"
to_raw "$WORK/out/clean/disk0.$FMT" "$WORK/clean.raw"
for name in corrupt corrupt-raw stale; do
    to_raw "$WORK/out/$name/disk0.$FMT" "$WORK/$name.raw"
    cmp "$WORK/clean.raw" "$WORK/$name.raw" || fail "$name: image with a re-sent chunk differs"
done

# --digest none: chunk checksums only, same image, said so in the manifest.
capture --name nodigest --disk "$WORK/src.img" --state "$WORK/nd.session" --digest none
to_raw "$WORK/out/nodigest/disk0.$FMT" "$WORK/nodigest.raw"
cmp "$WORK/clean.raw" "$WORK/nodigest.raw" || fail "--digest none image differs"
grep -q 'digest="none" verified="true"' "$WORK/out/nodigest/manifest.xml" || fail "--digest none not in the manifest"
grep -q 'SHA-256 not computed' "$WORK/out/nodigest/log" || fail "--digest none not logged"
grep -q '^digest none$' "$WORK/out/nodigest/state" || fail "--digest none not journaled"

# A complete capture is never overwritten without --force.
expect_fail 1 "holds a complete capture" \
    "$P2V" capture --server "127.0.0.1:$PORT" --token-file "$WORK/token" --name clean \
    --disk "$WORK/src.img" --state "$WORK/new.session" --retry-for 0
# ... nor one a protocol-2 server completed (its journal says p2v-state 2).
sed -i '1s/^p2v-state 3$/p2v-state 2/' "$WORK/out/clean/state"
expect_fail 1 "holds a complete capture" \
    "$P2V" capture --server "127.0.0.1:$PORT" --token-file "$WORK/token" --name clean \
    --disk "$WORK/src.img" --state "$WORK/new.session" --retry-for 0
grep -q "journal of protocol 2 (complete); kept" "$log" || fail "protocol-2 journal not logged"

# A source file cut short mid-capture (the agent stopped, the file
# truncated, the agent let go): chunks mapped before the cut fail under
# sendfile (the frame goes out padded, is asked for again and read the
# careful way) or under the hash (SIGBUS). The capture either completes
# with the lost part listed as unreadable, or stops with one line; never a
# signal death.
head -c $((48 << 20)) /dev/urandom >"$WORK/shrink.img"
capture_bg --name shrink --disk "$WORK/shrink.img" --state "$WORK/sh.session" --rate 16 2>"$WORK/shrink.err"
for i in $(seq 100); do     # cut it once chunks flow (48 MiB at 16 MB/s: 3 s)
    grep -q "\[shrink\] agent authenticated" "$log" && break
    sleep 0.1
done
sleep 0.5
kill -STOP "$AGENT_PID"
truncate -s 1M "$WORK/shrink.img"
kill -CONT "$AGENT_PID"
rc=0
wait "$AGENT_PID" || rc=$?
case $rc in
0) grep -q '<bad-sectors count="[1-9]' "$WORK/out/shrink/manifest.xml" ||
       { cat "$WORK/shrink.err" >&2; fail "shrink: the lost part is not listed"; } ;;
1) [ "$(wc -l <"$WORK/shrink.err")" = 1 ] && grep -q "became unreadable" "$WORK/shrink.err" ||
       { cat "$WORK/shrink.err" >&2; fail "shrink: exit 1 without its one line"; } ;;
*) cat "$WORK/shrink.err" >&2; fail "shrink: exit $rc" ;;
esac
stop_server
# The server's terminal (stderr, not only serve.log): where it listens,
# each capture's start, end and verdict, refusals of authenticated agents.
err=$WORK/server.err
grep -q "^p2v serve: [0-9:]* listening on 127.0.0.1:$PORT, writing raw images to $WORK/out" "$err" ||
    { cat "$err" >&2; fail "serve: where it listens is not on stderr"; }
grep -q "clean from 127.0.0.1:[0-9]*: capture started, 1 disk(s), $(stat -c %s "$WORK/src.img") bytes" "$err" ||
    fail "serve: a capture's start is not on stderr"
grep -q "clean: capture complete, 1 disk(s) verified (SHA-256)" "$err" || fail "serve: a capture's end is not on stderr"
grep -q "nodigest: capture complete, 1 disk(s) verified (chunk checksums)" "$err" || fail "serve: --digest none's verdict"
grep -q "clean from 127.0.0.1:[0-9]*: refused: .* holds a complete capture" "$err" || fail "serve: a refusal is not on stderr"
grep -q "stopped: [0-9]* capture(s) complete" "$err" || fail "serve: its stop is not on stderr"
! grep -q "authentication failed" "$err" || fail "serve: an unauthenticated peer reached the terminal"

# Usage errors: one line, exit 2.
expect_fail 2 "required" "$P2V" capture --server 127.0.0.1:1
expect_fail 2 "--compress takes zstd or none" "$P2V" capture --server 127.0.0.1:1 --token-file "$WORK/token" --compress lz9
expect_fail 2 "--name must be" "$P2V" capture --server 127.0.0.1:1 --token-file "$WORK/token" --name a/b
expect_fail 2 "--digest takes sha256 or none" "$P2V" capture --server 127.0.0.1:1 --token-file "$WORK/token" --digest md5
expect_fail 2 "--tls needs" "$P2V" capture --server 127.0.0.1:1 --token-file "$WORK/token" --tls
expect_fail 2 "unknown option" "$P2V" serve --bogus
expect_fail 2 "unknown -O format: qcow9" "$P2V" serve --listen 127.0.0.1:1 --dir "$WORK" --token-file "$WORK/token" -O qcow9
expect_fail 2 "unknown command" "$P2V" frobnicate
expect_fail 1 "token shorter" "$P2V" serve --listen 127.0.0.1:1 --dir "$WORK" --token-file /dev/null -O raw
expect_fail 1 "cannot connect" "$P2V" capture --server "127.0.0.1:$(free_port)" --token-file "$WORK/token" \
    --disk "$WORK/src.img" --state "$WORK/n.session" --retry-for 0
# No server there: before a session exists the agent fails at once with
# the reason (it used to retry silently for --retry-for's 600 s, -p or not).
expect_fail 1 "cannot connect to 127.0.0.1:[0-9]+: Connection refused" \
    timeout 60 "$P2V" capture --server "127.0.0.1:$(free_port)" --token-file "$WORK/token" \
    --disk "$WORK/src.img" --state "$WORK/n2.session" -p
# A host that never answers (here a listener whose queue is full: the
# kernel drops the SYN, like a firewall): the connection attempt gives up
# after 15 s, not the kernel's two minutes, and says so.
python3 - "$WORK/blackhole" <<'PY' &
import socket, sys, time
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(0)
held = []
for _ in range(3):      # fill the accept queue
    s = socket.socket()
    s.settimeout(0.5)
    try:
        s.connect(l.getsockname())
        held.append(s)
    except OSError:
        break
open(sys.argv[1], "w").write(str(l.getsockname()[1]))
time.sleep(40)
PY
hole=$!
for i in $(seq 100); do [ -s "$WORK/blackhole" ] && break; sleep 0.05; done
expect_fail 1 "cannot connect to 127.0.0.1:[0-9]+: no answer in 15 s" \
    timeout 60 "$P2V" capture --server "127.0.0.1:$(cat "$WORK/blackhole")" --token-file "$WORK/token" \
    --disk "$WORK/src.img" --state "$WORK/n3.session"
kill $hole 2>/dev/null || true
wait $hole 2>/dev/null || true
# Ports are checked where they are parsed: no port, out of range, not a number.
expect_fail 2 "expected HOST:PORT" "$P2V" capture --server 127.0.0.1 --token-file "$WORK/token"
expect_fail 2 "port must be a number from 1 to 65535" \
    "$P2V" capture --server 127.0.0.1:99999 --token-file "$WORK/token"
expect_fail 2 "port must be a number from 1 to 65535" \
    "$P2V" capture --server 127.0.0.1:0 --token-file "$WORK/token"
expect_fail 2 "port must be a number from 0 to 65535" \
    timeout 10 "$P2V" serve --listen 127.0.0.1:99999 --dir "$WORK" --token-file "$WORK/token"
expect_fail 2 "port must be a number from 0 to 65535" \
    timeout 10 "$P2V" serve --listen 127.0.0.1:7x --dir "$WORK" --token-file "$WORK/token"
"$P2V" --help | grep capture >/dev/null || fail "p2v --help"
"$P2V" capture --help | grep -- --server >/dev/null || fail "capture --help"
"$P2V" serve --help | grep -- --listen >/dev/null || fail "serve --help"
echo ok
