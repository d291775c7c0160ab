#!/usr/bin/env python3
"""Markdown table of bench/p2v/run.sh results (medians of the rounds):
table.py RESULTS.txt"""
import statistics, sys

rows = {}
used = {}
zd = {}
load = {}
for line in open(sys.argv[1]):
    f = line.split()
    kind, what, vals = f[0], f[1], f[2:]
    if kind == "all":               # "all images DIR FSTYPE": where they went
        print(f"Images written to {vals[0]} ({vals[1]}).\n")
    elif what == "used":
        used[kind] = int(vals[0])
    elif what == "load":
        load.setdefault(kind, []).append(float(vals[0]))
    elif what == "qemu-img-zero-detect-only":
        zd[kind] = int(vals[0])
    else:
        rows.setdefault((kind, what), []).append([float(v) for v in vals])

def med(vals, i):
    return statistics.median(v[i] for v in vals)

names = {
    "ours": "p2v capture -> serve, VHD (SHA-256 both ends)",
    "zstd": "p2v ... --compress zstd",
    "nodig": "p2v ... --digest none",
    "nbd": "nbdkit + extentlist -> qemu-img convert -O vpc",
    "nbdcopy": "nbdkit + extentlist -> nbdcopy null: (transport only)",
    "ntfsclone": "ntfsclone --save-image",
}
print("| disk | pipeline | wall s | CPU s (all processes) | used MB/s (wall) | output | on the wire |")
print("|---|---|---|---|---|---|---|")
for kind in ("fresh", "aged"):
    u = used.get(kind)
    for what in ("ours", "zstd", "nodig", "nbd", "nbdcopy", "ntfsclone"):
        key = (kind, "nbd" if what == "nbdcopy" else what)
        if key not in rows:
            continue
        v = rows[key]
        if what in ("ours", "zstd", "nodig"):
            wall, cpu, size, wire = med(v, 0), med(v, 1) + med(v, 2), med(v, 3), med(v, 4)
            out = "%.0f MB (%+.1f %% of used)" % (size / 1e6, 100.0 * (size - u) / u)
            w = "%.0f MB (%.1f %%)" % (wire / 1e6, 100.0 * wire / u)
        elif what == "nbd":
            wall, cpu, size = med(v, 0), med(v, 1), med(v, 2)
            out = "%.0f MB (%+.1f %%)" % (size / 1e6, 100.0 * (size - u) / u)
            w = ""
        elif what == "nbdcopy":
            wall, cpu = med(v, 3), med(v, 4)
            out, w = "", ""
        else:
            wall, cpu, size = med(v, 0), med(v, 1), med(v, 2)
            out = "%.0f MB" % (size / 1e6)
            w = ""
        print("| %s | %s | %.2f | %.2f | %.0f | %s | %s |" % (kind, names[what], wall, cpu, u / 1e6 / wall, out, w))
for kind in ("fresh", "aged"):
    if kind in used:
        line = "%s: used %d bytes (%.0f MB)" % (kind, used[kind], used[kind] / 1e6)
        if kind in zd:
            line += "; qemu-img convert -O vpc of the raw disk (zero detection only): %.0f MB (%+.1f %%)" % (
                zd[kind] / 1e6, 100.0 * (zd[kind] - used[kind]) / used[kind])
        if kind in load:
            line += "; 1-minute load average around its rounds: %.2f-%.2f" % (min(load[kind]), max(load[kind]))
        print("\n" + line)
