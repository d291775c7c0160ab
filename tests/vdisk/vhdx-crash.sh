# VHDX crash safety: a writer killed (SIGKILL) at random points, while
# blocks are allocated and BAT and sector bitmap updates go through the
# log, always leaves a file that opens, that check finds clean, and whose
# content is the writer's log (at most the write in flight differs), read
# read-only (the log replayed in memory) and read-write (replayed into the
# file) alike; for fixed, dynamic and differencing disks.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
W=$BUILD/tests/vd-write

$V create -f vhdx -o block_size=1M base.vhdx 64M
for kind in dynamic fixed child; do
    for delay in 0.3 0.7; do
        rm -f w.vhdx log.txt
        case $kind in
        child) $V create -f vhdx -b base.vhdx w.vhdx ;;
        *) $V create -f vhdx -o subformat=$kind,block_size=1M w.vhdx 64M ;;
        esac
        $W w.vhdx --loop 65536 7 >log.txt & pid=$!
        kill_after_writes $pid log.txt $delay
        $V check w.vhdx >/dev/null || fail "killed writer left a damaged $kind VHDX"
        cp w.vhdx ro.vhdx
        $V convert -O raw ro.vhdx ro.raw
        cmp -s ro.vhdx w.vhdx || fail "read-only open wrote the file"
        $W w.vhdx --verify 65536 log.txt || fail "killed writer: $kind content differs from the log"
        $V convert -O raw w.vhdx rw.raw
        cmp -s ro.raw rw.raw || fail "$kind: read-only and read-write replays differ"
    done
done
# vdisk convert -O vhdx killed mid-copy: its temporary target is opened as
# scratch (the log's flushes skipped), yet the file a killed process leaves
# opens, check finds it clean, and every 4 KiB granule reads as the
# source's or as zeros.
head -c $((40 << 20)) /dev/urandom > big.raw
python3 -c "import sys; sys.stdout.write('log line\\n' * 1048576)" >> big.raw
for delay in 0.05 0.2 0.5; do
    rm -f k.vhdx k.vhdx.vdisk-tmp
    $V convert -m 2 -O vhdx -o block_size=1M big.raw k.vhdx & pid=$!
    sleep $delay; kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
    [ -e k.vhdx.vdisk-tmp ] || continue
    $V check k.vhdx.vdisk-tmp >/dev/null || fail "killed convert ($delay s) left a damaged VHDX"
    $V convert -O raw k.vhdx.vdisk-tmp part.raw
    granules_from big.raw part.raw || fail "killed convert ($delay s) left wrong data"
    rm -f part.raw
done
rm -f big.raw k.vhdx k.vhdx.vdisk-tmp
echo OK
