# VMDK crash safety. (1) A writer killed mid-write leaves a monolithicSparse
# VMDK (a plain one and a delta disk) that qemu-img check finds clean and
# whose content is the log's (at most the write in flight differs).
# (2) vdisk convert to VMDK killed with SIGKILL never leaves OUT; a
# monolithicSparse temporary file reads back consistently (each 4 KiB
# granule the source's or zero), a streamOptimized one without its footer
# is refused with one line, never read as a short disk.
source "$SRC/tests/lib.sh"
V=$BIN/vdisk
W=$BUILD/tests/vd-write
PY=/usr/bin/python3
need qemu-img

for kind in plain delta; do
    rm -f w.vmdk base.vmdk log.txt
    if [ $kind = delta ]; then
        $V create -f vmdk base.vmdk 32M
        $W base.vmdk 0 $((32 << 20)) 9 >/dev/null
        $V create -f vmdk -b base.vmdk w.vmdk
    else
        $V create -f vmdk w.vmdk 32M
    fi
    # 12 KiB slots: most writes cover part of a 64 KiB grain.
    $W w.vmdk --loop 12288 $((RANDOM % 1000 + 1)) >log.txt & pid=$!
    kill_after_writes $pid log.txt 0.5
    qemu-img check -q w.vmdk || fail "killed writer left a damaged $kind VMDK"
    $V check w.vmdk >/dev/null || fail "vdisk check: killed writer left a damaged $kind VMDK"
    if [ $kind = delta ]; then
        # Slots never written read as the parent's bytes, not zeros (one
        # may hold the write in flight, which was not logged).
        $V convert -O raw w.vmdk w.raw
        $V convert -O raw base.vmdk b.raw
        $PY - log.txt <<'PY' || fail "killed writer: the delta disk lost its parent's bytes"
import sys
seen = {int(l.split()[0]) for l in open(sys.argv[1]) if l.strip()}
w = open("w.raw", "rb").read(); b = open("b.raw", "rb").read()
bad = [s for s in range(len(w) // 12288) if s not in seen and
       w[s * 12288:(s + 1) * 12288] != b[s * 12288:(s + 1) * 12288]]
assert len(bad) <= 1, bad   # the write in flight was not logged yet
PY
        rm -f w.raw b.raw
    else
        $W w.vmdk --verify 12288 log.txt || fail "killed writer: content of the $kind VMDK differs from the log"
    fi
done

head -c $((48 << 20)) /dev/urandom > src.raw
truncate -s 160M src.raw
head -c $((32 << 20)) /dev/urandom | dd of=src.raw bs=1M seek=100 conv=notrunc status=none
for sub in monolithicSparse streamOptimized; do
    for delay in 0.05 0.2 0.5; do
        rm -f out.vmdk out.vmdk.vdisk-tmp
        $V convert -O vmdk -o subformat=$sub src.raw out.vmdk & pid=$!
        sleep $delay; kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
        if [ -e out.vmdk ]; then
            $V compare src.raw out.vmdk >/dev/null || fail "complete $sub out.vmdk differs"
            continue
        fi
        [ -e out.vmdk.vdisk-tmp ] || continue
        rc=0; $V convert -f vmdk -O raw out.vmdk.vdisk-tmp part.raw 2>err.txt || rc=$?
        if [ $rc != 0 ]; then
            [ $rc = 1 ] && [ "$(wc -l <err.txt)" = 1 ] || { cat err.txt; fail "$sub tmp: rc $rc"; }
            [ $sub = streamOptimized ] || { cat err.txt; fail "killed $sub convert left an unreadable file"; }
            continue
        fi
        granules_from src.raw part.raw || fail "killed $sub convert (delay $delay) left wrong data"
        rm -f part.raw
    done
done
exit 0
