# The captured Linux sample migrated with --to libvirt, then run by real
# libvirt: the domain XML validates against libvirt's schema
# (virt-xml-validate), a private libvirtd (session mode as an unprivileged
# user, all its sockets and state under $WORK: no system service) defines
# it with `virsh define` (domain type switched to qemu: this host has no
# KVM), starts it, and the sample's marker is read from the serial console
# libvirt gives it. The capture stays byte-identical; report.html renders in
# headless Chromium with the verdict and the boot check's screenshot.
source "$SRC/tests/lib.sh"
source "$SRC/tests/migrate/lib.sh"
need apt-get dpkg cpio sfdisk mcopy mkfs.fat syslinux python3 xmllint virt-xml-validate virsh setpriv qemu-system-i386
[ -x /usr/sbin/libvirtd ] || skip "needs libvirtd (libvirt-daemon-system)"
[ "$(id -u)" -eq 0 ] || skip "needs root to run libvirtd as an unprivileged user"

capture_sample linux1
before=$(tree_sum "$SAMPLE_DIR")

"$BIN/p2v" migrate --to libvirt -o out --memory 256 --network user --expect "$MARKER" --timeout 240 \
    "$SAMPLE_DIR" >migrate.txt 2>migrate.err || { cat migrate.txt migrate.err >&2; fail "p2v migrate exited $?"; }
[ "$(tree_sum "$SAMPLE_DIR")" = "$before" ] || fail "p2v migrate changed the capture"
grep 'verdict: booted' migrate.txt >/dev/null || fail "no boot verdict in the output"
for f in linux1.xml linux1-disk0.qcow2 report.json report.html screen.png; do
    [ -s "out/$f" ] || fail "out/$f missing"
done
[ "$(json 'd["verdict"]["kind"]' out/report.json)" = booted ] || fail "report: verdict is not booted"
[ "$(json 'd["ready"]' out/report.json)" = True ] || fail "report: not ready"
[ "$(json '[s["status"] for s in d["steps"]]' out/report.json)" = "['ok', 'skipped', 'ok', 'ok', 'ok', 'ok']" ] ||
    fail "report: step statuses $(json '[s["status"] for s in d["steps"]]' out/report.json)"

# The definition, by libvirt's own RelaxNG schema and field by field.
virt-xml-validate out/linux1.xml domain >validate.txt 2>&1 || { cat validate.txt >&2; fail "virt-xml-validate rejects the domain"; }
x() { xmllint --xpath "$1" out/linux1.xml; }
[ "$(x 'string(/domain/name)')" = linux1 ] || fail "name"
[ "$(x 'string(/domain/memory)')" = 256 ] && [ "$(x 'string(/domain/memory/@unit)')" = MiB ] || fail "memory"
[ "$(x 'string(/domain/os/type/@machine)')" = pc ] || fail "machine type is not pc (i440FX)"
[ "$(x 'string(/domain/devices/disk/target/@bus)')" = ide ] || fail "disk bus is not IDE"
[ "$(x 'string(/domain/devices/disk/boot/@order)')" = 1 ] || fail "boot order"
[ "$(x 'string(/domain/devices/disk/source/@file)')" = "$WORK/out/linux1-disk0.qcow2" ] || fail "disk path"
[ "$(x 'string(/domain/devices/disk/driver/@type)')" = qcow2 ] || fail "disk format is not qcow2"
[ "$(x 'string(/domain/devices/video/model/@type)')" = vga ] || fail "video"
# The converted disk holds the capture's content (qemu-img: an independent reader).
qemu-img compare -q -f qcow2 -F vpc out/linux1-disk0.qcow2 "$SAMPLE_DIR/disk0.vhd" || fail "the converted disk differs from the capture"
mac=$(xmllint --xpath 'string(//nic[1]/@mac)' "$SAMPLE_DIR/manifest.xml" | tr A-F a-f)
if [ -n "$mac" ]; then
    [ "$(x 'string(/domain/devices/interface/mac/@address)')" = "$mac" ] || fail "NIC MAC is not the manifest's $mac"
fi

# A private libvirtd: session mode (an unprivileged user), XDG dirs in $WORK.
L=$WORK/libvirt
mkdir -p "$L/home" "$L/run" "$L/config" "$L/cache"
chmod 700 "$L/run"
chmod 755 "$WORK"
chown -R nobody:nogroup "$L" out
asuser() {
    setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$L/home" XDG_RUNTIME_DIR="$L/run" \
        XDG_CONFIG_HOME="$L/config" XDG_CACHE_HOME="$L/cache" "$@"
}
sock=$L/run/libvirt/libvirt-sock
asuser /usr/sbin/libvirtd --timeout 600 >libvirtd.log 2>&1 &
lvpid=$!
vpid=
trap 'asuser virsh -c "qemu:///session?socket=$sock" destroy linux1 >/dev/null 2>&1 || true; kill $lvpid 2>/dev/null || true; [ -z "$vpid" ] || kill $vpid 2>/dev/null || true' EXIT
for i in $(seq 200); do
    [ -S "$sock" ] && break
    kill -0 $lvpid 2>/dev/null || { cat libvirtd.log >&2; fail "libvirtd did not start"; }
    sleep 0.1
done
[ -S "$sock" ] || fail "libvirtd: no socket after 20 s"
virsh() { asuser /usr/bin/virsh -q -c "qemu:///session?socket=$sock" "$@"; }

sed 's/<domain type="kvm">/<domain type="qemu">/' out/linux1.xml >domain.xml
chmod 644 domain.xml
virsh define domain.xml >define.txt 2>&1 || { cat define.txt >&2; fail "virsh define refused the domain"; }
[ "$(virsh domstate linux1)" = "shut off" ] || fail "domain not defined"
# Paused until the console is open, so no line is missed.
virsh start --paused linux1 >start.txt 2>&1 || { cat start.txt "$L/cache/libvirt/qemu/log/linux1.log" >&2; fail "virsh start failed"; }
pts=$(virsh ttyconsole linux1)
[ -c "$pts" ] || fail "no serial console ($pts)"
timeout 240 grep -m1 -a -F "$MARKER" "$pts" >console.txt &
vpid=$!
sleep 0.5
virsh resume linux1 >/dev/null
rc=0
wait $vpid || rc=$?
vpid=
[ "$rc" -eq 0 ] || { cat "$L/cache/libvirt/qemu/log/linux1.log" >&2; fail "the marker did not appear on the libvirt domain's console (rc $rc)"; }
echo "libvirt console: $(cat console.txt)"
virsh destroy linux1 >/dev/null 2>&1 || true
virsh undefine linux1 >/dev/null

# report.html in Debian's headless Chromium: the verdict in the DOM, and the
# rendered page holds the boot check's screen (a large dark area on the
# white page: the VGA text screen; a broken image would not draw one).
if command -v chromium >/dev/null; then
    chromium --headless --no-sandbox --disable-gpu --dump-dom "file://$WORK/out/report.html" >dom.html 2>chromium.err ||
        { cat chromium.err >&2; fail "chromium could not open report.html"; }
    grep 'id="verdict"' dom.html | grep 'Ready: the VM booted' >/dev/null || fail "report.html: no verdict rendered"
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,1400 \
        --screenshot="$WORK/page.png" "file://$WORK/out/report.html" >/dev/null 2>>chromium.err ||
        { cat chromium.err >&2; fail "chromium could not take the page's screenshot"; }
    python3 "$SRC/tests/migrate/png-check.py" page.png || fail "report.html: the screenshot is not rendered"
else
    echo "chromium missing: report.html rendering not checked" >&2
fi
echo ok
