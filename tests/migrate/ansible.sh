# The scale-out playbook (migrate/ansible/migrate.yml) run by Debian's
# ansible-playbook on localhost (-i localhost, -c local) with a plan of two
# captured machines, one to libvirt and one to an OVA, migrated at once
# (async jobs): both outputs are ready (report.json), the host's status
# file names both with p2v migrate's last JSON line (result) and the ready
# flag; a plan with a machine whose capture is missing makes the play fail
# naming that machine, while the other machine of the plan still
# completes; a plan without a target is refused before anything runs.
source "$SRC/tests/lib.sh"
source "$SRC/tests/migrate/lib.sh"
need apt-get dpkg cpio sfdisk mcopy mkfs.fat syslinux python3 ansible-playbook

export ANSIBLE_HOME=$WORK/ansible ANSIBLE_LOCAL_TEMP=$WORK/ansible/tmp ANSIBLE_REMOTE_TEMP=$WORK/ansible/tmp \
    ANSIBLE_ASYNC_DIR=$WORK/ansible/async ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 \
    ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_DEPRECATION_WARNINGS=0
play() { ansible-playbook -i localhost, -c local "$SRC/migrate/ansible/migrate.yml" -e "p2v=$BIN/p2v" "$@"; }

capture_sample web01
web=$SAMPLE_DIR
capture_sample db01
db=$SAMPLE_DIR
before=$(tree_sum "$WORK/srv")


cat >plan.yml <<PLAN
- name: web01
  source: $web
  target: libvirt
  options: [--no-verify, --memory, "256"]
- name: db01
  source: $db
  target: ova
  options: [--no-verify]
PLAN
play -e plan=$WORK/plan.yml -e output_root=$WORK/vms >play.txt 2>&1 || { cat play.txt >&2; fail "ansible-playbook failed"; }
[ "$(json 'd["ready"]' vms/web01.libvirt/report.json)" = True ] || fail "web01 not ready"
[ "$(json 'd["ready"]' vms/db01.ova/report.json)" = True ] || fail "db01 not ready"
[ -s vms/web01.libvirt/web01.xml ] && [ -s vms/db01.ova/db01.ova ] || fail "the definitions are missing"
[ "$(json 'd["vm"]["memory_mib"]' vms/web01.libvirt/report.json)" = 256 ] || fail "the plan's options were not passed"
s=vms/status-localhost.json
[ "$(json '[(m["name"], m["ready"], m["exit"], m["last"]["type"]) for m in d["machines"]]' $s)" = \
  "[('web01', True, 0, 'result'), ('db01', True, 0, 'result')]" ] || { cat $s >&2; fail "status file"; }
# Both jobs were started before the play waited for either (async).
[ "$(sed -n '/^TASK \[Start p2v migrate/,/^TASK \[Wait for the migrations/p' play.txt | grep -c '^changed: \[localhost\] => (item=')" = 2 ] ||
    { cat play.txt >&2; fail "the two jobs were not both started before the wait"; }

# A machine whose capture is missing: the play fails naming it; the other
# machine still completes.
cat >plan2.yml <<PLAN
- name: gone
  source: $WORK/srv/gone
  target: proxmox
  options: [--no-verify]
- name: web01
  source: $web
  target: hyperv
  options: [--no-verify]
PLAN
rc=0
play -e plan=$WORK/plan2.yml -e output_root=$WORK/vms2 >play2.txt 2>&1 || rc=$?
[ "$rc" -ne 0 ] || { cat play2.txt >&2; fail "the play succeeded with a missing capture"; }
grep -F 'gone -> proxmox:' play2.txt >/dev/null || { cat play2.txt >&2; fail "the failure does not name the machine"; }
[ "$(json 'd["ready"]' vms2/web01.hyperv/report.json)" = True ] || fail "the other machine did not complete"
[ "$(json '[(m["name"], m["ready"]) for m in d["machines"]]' vms2/status-localhost.json)" = "[('gone', False), ('web01', True)]" ] ||
    { cat vms2/status-localhost.json >&2; fail "status file of the failed plan"; }

# A plan entry without a target is refused before anything runs.
printf -- '- name: x\n  source: %s\n' "$web" >plan3.yml
rc=0
play -e plan=$WORK/plan3.yml -e output_root=$WORK/vms3 >play3.txt 2>&1 || rc=$?
[ "$rc" -ne 0 ] && grep -F 'every machine needs name, source, target' play3.txt >/dev/null || { cat play3.txt >&2; fail "a bad plan was not refused"; }
[ ! -e vms3 ] || fail "a bad plan started something"

[ "$(tree_sum "$WORK/srv")" = "$before" ] || fail "the captures changed"
echo ok
