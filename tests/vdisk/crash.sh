# Crash safety. (1) vdisk convert killed with SIGKILL never leaves OUT; its
# temporary file reads back consistently (each 4 KiB granule is the source's
# or zero) or check reports damage. (2) A writer killed mid-write leaves a
# VHD that check finds clean and whose content is the log's (at most the
# write in flight differs). (3) Truncated copies of a VHD are reported by
# check, and either fail to open with one line or read back correctly.
# (4) A raw source truncated by another process mid-convert gives one error
# line and exit 1, and leaves neither OUT nor the temporary file.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
W=$BUILD/tests/vd-write
PY=/usr/bin/python3

head -c $((96 << 20)) /dev/urandom > src.raw
truncate -s 256M src.raw
head -c $((64 << 20)) /dev/urandom | dd of=src.raw bs=1M seek=150 conv=notrunc status=none
for delay in 0.02 0.05 0.1 0.2; do
    rm -f out.vhd out.vhd.vdisk-tmp
    $V convert -m 2 -O vhd src.raw out.vhd & pid=$!
    sleep $delay; kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
    if [ -e out.vhd ]; then
        $V compare src.raw out.vhd >/dev/null || fail "complete out.vhd differs"
        continue
    fi
    [ -e out.vhd.vdisk-tmp ] || continue
    if $V check out.vhd.vdisk-tmp >/dev/null 2>&1; then
        $V convert -O raw out.vhd.vdisk-tmp part.raw
        granules_from src.raw part.raw || fail "killed convert (delay $delay) left wrong data"
        rm -f part.raw
    fi
done

for sub in dynamic fixed; do
    rm -f w.vhd log.txt
    $V create -f vhd -o subformat=$sub,size=exact,block_size=512K w.vhd 64M 2>/dev/null ||
        $V create -f vhd -o subformat=$sub,size=exact w.vhd 64M
    $W w.vhd --loop 65536 7 >log.txt & pid=$!
    kill_after_writes $pid log.txt 0.5
    $V check w.vhd >/dev/null || fail "killed writer left a damaged $sub VHD"
    $W w.vhd --verify 65536 log.txt || fail "killed writer: content of $sub differs from the log"
done

# The source shrinks while convert runs: stopped (SIGSTOP) as soon as its
# temporary file appears, which is after the source is mapped and before
# the 1 GiB copy can have finished; the source cut to 1 MiB, then resumed.
head -c $((1 << 30)) /dev/zero | tr '\0' p > shrink.raw
$V convert -m 1 -O vhd shrink.raw shrink.vhd 2>err.txt & pid=$!
while [ ! -e shrink.vhd.vdisk-tmp ] && kill -0 $pid 2>/dev/null; do :; done
kill -STOP $pid
[ ! -e shrink.vhd ] || fail "convert of 1 GiB finished before it could be stopped"
truncate -s 1M shrink.raw
kill -CONT $pid
rc=0; wait $pid || rc=$?
[ $rc = 1 ] && [ "$(wc -l <err.txt)" = 1 ] || { cat err.txt; fail "shrinking source: rc $rc"; }
[ ! -e shrink.vhd ] && [ ! -e shrink.vhd.vdisk-tmp ] || fail "shrinking source left an output"
rm -f shrink.raw err.txt

# Truncated copies of a dynamic VHD with several blocks.
$V create -f vhd -o size=exact t.vhd 16M
$W t.vhd 0 3000000 1 && $W t.vhd 9000000 5000 2 && $W t.vhd 16000000 70000 3
$V convert -O raw t.vhd t.raw
size=$(stat -c %s t.vhd)
for cut in 1 511 512 1024 1536 2048 4096 $((size / 3)) $((size / 2)) $((size - 513)) $((size - 512)) $((size - 1)); do
    head -c $((size - cut)) t.vhd > cut.vhd
    # An intact 511-byte tail is an old Virtual PC footer: still a good VHD.
    checked=0; $V check -f vhd cut.vhd >/dev/null 2>&1 || checked=$?
    [ $checked = 0 ] || [ $checked = 2 ] || fail "check of t.vhd cut by $cut exited $checked"
    rc=0; $V convert -f vhd -O raw cut.vhd cut.raw 2>err.txt || rc=$?
    if [ $rc = 0 ]; then
        cmp cut.raw t.raw || fail "t.vhd cut by $cut reads wrong data"
    else
        [ $checked = 2 ] || fail "check passed t.vhd cut by $cut, which does not read"
        [ $rc = 1 ] && [ "$(wc -l <err.txt)" = 1 ] || { cat err.txt; fail "cut by $cut: rc $rc"; }
    fi
    rm -f cut.vhd cut.raw
done
echo OK
