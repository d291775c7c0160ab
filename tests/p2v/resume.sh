# The agent killed mid-transfer and restarted, and the server killed and
# restarted: both finish with the image an uninterrupted capture makes,
# and after the agent's restart nothing the server held is sent again.
source "$SRC/tests/p2v/lib.sh"
need mkntfs ntfscp ntfsls ntfstruncate mkfs.fat mcopy mdel mkfs.ext4 debugfs sfdisk python3
[ "$FMT" = raw ] || need qemu-img

make_disk "$WORK/src.img" aged
start_server "$WORK/out"
capture --name ref --disk "$WORK/src.img" --state "$WORK/ref.session"
to_raw "$WORK/out/ref/disk0.$FMT" "$WORK/ref.raw"

# durable_offset NAME: how far the server's journal says disk 0 is durable.
durable_offset() {
    awk '$1 == "disk" && $2 == 0 { print $5 }' "$WORK/out/$1/state" 2>/dev/null || echo 0
}
# wait_durable NAME: until the journal shows progress (at most 20 s).
wait_durable() {
    local i
    for i in $(seq 200); do
        local d; d=$(durable_offset "$1")
        [ -n "$d" ] && [ "$d" -gt 0 ] && return 0
        sleep 0.1
    done
    fail "$1: no durable progress within 20 s"
}
chunks_received() {
    grep -o 'received [0-9]* chunks' "$WORK/out/$1/log" | awk '{ n += $2 } END { print n + 0 }'
}

# 1. The agent dies (SIGKILL) mid-transfer; a new agent process resumes
#    from its session file.
capture_bg --name akill --disk "$WORK/src.img" --state "$WORK/akill.session" --rate 8
agent=$AGENT_PID
wait_durable akill
kill -9 $agent
wait $agent 2>/dev/null || true
size=$(stat -c %s "$WORK/src.img")
[ "$(durable_offset akill)" -lt "$size" ] || fail "agent finished before it was killed: test is void"
[ -f "$WORK/akill.session" ] || fail "the agent kept no session file"
# The operator's terminal said so (the server's stderr, not only its log).
for i in $(seq 50); do
    grep -q "akill: capture interrupted (connection lost) at [1-9][0-9]* of $size bytes" "$WORK/server.err" && break
    [ "$i" -lt 50 ] || { cat "$WORK/server.err" >&2; fail "akill: interruption not on the server's stderr"; }
    sleep 0.1
done
capture --name akill --disk "$WORK/src.img" --state "$WORK/akill.session"
grep -q "akill from 127.0.0.1:[0-9]*: capture resumed at [1-9][0-9]* of $size bytes" "$WORK/server.err" ||
    fail "akill: resume not on the server's stderr"
[ ! -e "$WORK/akill.session" ] || fail "session file left after success"
grep -q "resuming disk 0 at offset [1-9]" "$WORK/out/akill/log" || fail "akill: no resume in the server log"
to_raw "$WORK/out/akill/disk0.$FMT" "$WORK/akill.raw"
cmp "$WORK/ref.raw" "$WORK/akill.raw" || fail "image after agent restart differs"
# The server made everything it had received durable when the agent
# vanished, so the resumed agent sent exactly what was missing.
[ "$(chunks_received akill)" -eq "$(chunks_received ref)" ] ||
    fail "agent restart: $(chunks_received akill) chunks received in all, $(chunks_received ref) needed"

# 2. The server dies (SIGKILL) mid-transfer and comes back on the same
#    port; the same agent process reconnects and resumes. Unreadable
#    sectors below the resume point (read again for the digest) are listed
#    once.
P2V_TEST_BAD_SECTORS=100-103 capture_bg --name skill --disk "$WORK/src.img" --state "$WORK/skill.session" --rate 8
agent=$AGENT_PID
wait_durable skill
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
[ "$(durable_offset skill)" -lt "$size" ] || fail "capture finished before the server was killed: test is void"
sleep 1
start_server "$WORK/out"
wait $agent || fail "agent did not finish after the server restart"
grep -q "resuming disk 0 at offset [1-9]" "$WORK/out/skill/log" || fail "skill: no resume in the server log"
grep -q '^complete 1$' "$WORK/out/skill/state" || fail "skill: not complete"
grep -q '<bad-sectors count="4">' "$WORK/out/skill/manifest.xml" || fail "skill: bad sectors not listed exactly once"
to_raw "$WORK/out/skill/disk0.$FMT" "$WORK/skill.raw"
dd if=/dev/zero of="$WORK/ref.raw" bs=512 seek=100 count=4 conv=notrunc status=none
cmp "$WORK/ref.raw" "$WORK/skill.raw" || fail "image after server restart differs"
stop_server
echo ok
