# A run killed in each step that runs a tool (inspect, repair, convert,
# verify) leaves the capture byte-identical and a report naming the step:
# with SIGTERM p2v migrate stops the tool, marks the step interrupted and
# exits 1 with one line; with SIGKILL (nothing runs after it) report.json
# still says which step was running, because it is rewritten as each step
# starts. The tools are the real ones, run from a copy of the bin
# directory in which a wrapper holds the step under test (sleeps) so that
# the signal lands inside it. The 2003 RAID test image is used, so that
# every step has work to do. (define runs no tool and takes milliseconds:
# it is not held here.)
source "$SRC/tests/lib.sh"
source "$SRC/tests/p2v/lib.sh"
source "$SRC/tests/drivers-inject/guest.sh"
source "$SRC/tests/migrate/lib.sh"
need python3 ntfscat reglookup

make_guest w2k3.img w2k3 cab
start_server "$WORK/srv" --once
capture --name w2k3 --disk w2k3.img >/dev/null
wait "$SERVER_PID" || fail "p2v serve --once failed"
cap=$WORK/srv/w2k3
before=$(tree_sum "$cap")

mkdir bin
cp "$BIN/p2v" bin/p2v       # a copy: p2v migrate runs the tools next to its own executable
for t in drivers-inject vdisk vmm; do
    cat >"bin/$t" <<WRAP
#!/bin/bash
step=
case "$t" in
drivers-inject) case " \$* " in *" --dry-run "*) step=inspect ;; *) step=repair ;; esac ;;
vdisk) [ "\$1" = convert ] && step=convert ;;
vmm) step=verify ;;
esac
if [ "\$step" = "\$HOLD" ]; then echo \$\$ >"$WORK/held.pid"; exec sleep 120; fi
exec "$BIN/$t" "\$@"
WRAP
    chmod +x "bin/$t"
done

held=
trap '[ -z "$held" ] || kill "$held" 2>/dev/null || true' EXIT
for step in inspect repair convert verify; do
    for sig in TERM KILL; do
        rm -rf out held.pid
        HOLD=$step bin/p2v migrate --to libvirt --memory 256 --timeout 30 -o out "$cap" >run.txt 2>run.err &
        pid=$!
        for i in $(seq 300); do
            [ -s held.pid ] && break
            kill -0 $pid 2>/dev/null || { cat run.txt run.err >&2; fail "$step: p2v migrate ended before the step"; }
            sleep 0.1
        done
        [ -s held.pid ] || fail "$step: the step was not reached in 30 s"
        held=$(cat held.pid)
        kill -$sig $pid
        rc=0
        wait $pid || rc=$?
        status=$(json '[s["status"] for s in d["steps"] if s["name"] == "'$step'"][0]' out/report.json)
        if [ $sig = TERM ]; then
            [ $rc -eq 1 ] || fail "$step/TERM: exit $rc, wanted 1"
            # Warnings of the steps before (this image has no NIC driver) aside.
            [ "$(grep -vc '^p2v migrate: warning: ' run.err)" -eq 1 ] || { cat run.err >&2; fail "$step/TERM: not one error line"; }
            grep -F "step $step interrupted" run.err >/dev/null || { cat run.err >&2; fail "$step/TERM: the step is not named"; }
            [ "$status" = interrupted ] || fail "$step/TERM: report says $status"
            json 'd["failure"]' out/report.json | grep -F "step $step interrupted" >/dev/null || fail "$step/TERM: report failure"
            ! kill -0 "$held" 2>/dev/null || fail "$step/TERM: the tool was left running"
        else
            [ $rc -eq 137 ] || fail "$step/KILL: exit $rc"
            [ "$status" = running ] || fail "$step/KILL: report says $status, not running"
            kill "$held" 2>/dev/null || true
        fi
        held=
        [ "$(json 'd["ready"]' out/report.json)" = False ] || fail "$step/$sig: report says ready"
        [ "$(tree_sum "$cap")" = "$before" ] || fail "$step/$sig: the capture changed"
        echo "$step/$sig: report names the step ($status), capture unchanged"
    done
done
echo ok
