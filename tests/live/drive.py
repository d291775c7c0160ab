#!/usr/bin/env python3
"""Runs QEMU with its first serial port on a socket and drives it like a
user at a serial terminal: waits for each expected text, types the answer,
copies everything the guest writes to a log, and waits for QEMU to exit.

  drive.py --log FILE --timeout S [--step PATTERN TEXT]... [--fail PATTERN]...
           [--stdio] -- qemu-system-i386 ARGS...

--stdio: the emulator's first serial port is its standard input and output
(vmm -serial stdio) instead of a socket added to its command line.

Each --step waits for PATTERN (a regular expression) in the output since
the previous step, then sends TEXT with a carriage return. A --fail pattern
seen at any time stops QEMU (exit 1). Exit 0 when QEMU powered off after
all steps, 1 on a failure pattern or an early exit, 3 on timeout."""
import argparse, os, re, select, socket, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("--log", required=True)
ap.add_argument("--timeout", type=float, required=True)
ap.add_argument("--step", nargs=2, action="append", default=[], metavar=("PATTERN", "TEXT"))
ap.add_argument("--fail", action="append", default=[])
ap.add_argument("--stdio", action="store_true")
ap.add_argument("qemu", nargs=argparse.REMAINDER)
a = ap.parse_args()
cmd = a.qemu[1:] if a.qemu and a.qemu[0] == "--" else a.qemu

if a.stdio:
    qemu = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    rfd, wfd = qemu.stdout.fileno(), qemu.stdin.fileno()
    os.set_blocking(rfd, False)
else:
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "serial")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)
    qemu = subprocess.Popen(cmd + ["-chardev", "socket,id=ser0,path=" + path, "-serial", "chardev:ser0"],
                            stdin=subprocess.DEVNULL)
    srv.settimeout(30)
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        qemu.kill()
        sys.exit("drive.py: QEMU did not connect its serial port")
    conn.setblocking(False)
    rfd = wfd = conn.fileno()


def send(data):
    """Writes all of data to the serial port (blocking)."""
    while data:
        _, w, _ = select.select([], [wfd], [], 5)
        if w:
            try:
                data = data[os.write(wfd, data):]
            except BlockingIOError:
                pass


log = open(a.log, "wb")
seen = b""          # output since the last step
tail = b""          # the last output, for the failure patterns
steps = list(a.step)
fails = [re.compile(p.encode()) for p in a.fail]
deadline = time.monotonic() + a.timeout
rc = None
while rc is None:
    if time.monotonic() > deadline:
        print("drive.py: timeout; steps left: %s" % [s[0] for s in steps], file=sys.stderr)
        rc = 3
        break
    data = b""
    r, _, _ = select.select([rfd], [], [], 0.5)
    if r:
        try:
            data = os.read(rfd, 65536)
        except (BlockingIOError, ConnectionResetError):
            data = b""
        if data:
            log.write(data)
            log.flush()
            seen += data
            tail = (tail + data)[-4096:]
    if data and any(f.search(tail + data) for f in fails):
        print("drive.py: failure pattern seen", file=sys.stderr)
        rc = 1
        break
    while steps and re.search(steps[0][0].encode(), seen):
        seen = b""
        for ch in (steps[0][1] + "\r").encode():
            send(bytes([ch]))
            time.sleep(0.01)
        steps.pop(0)
    if qemu.poll() is not None:
        rc = 0 if not steps else 1
        if steps:
            print("drive.py: QEMU exited before: %s" % steps[0][0], file=sys.stderr)
if qemu.poll() is None:
    qemu.kill()
    qemu.wait()
log.close()
sys.exit(rc)
