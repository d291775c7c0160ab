#!/usr/bin/env python3
"""Gives an NTFS volume image (made by mkntfs) the $MFT of a fragmented
volume: record 0 gets an attribute list, keeps the first part of $DATA's
run list and moves the rest, from VCN SPLIT on, into extension record 16,
as NTFS does when $MFT's runs no longer fit its base record. $MFTMirr is
updated so that ntfs-3g still mounts the volume (it is the oracle).
    ntfs_mft_list.py VOLUME.img SPLIT_VCN"""
import struct
import sys

EXT_RECORD = 16
END = 0xFFFFFFFF


def signed_bytes(v):
    """The shortest little-endian two's complement encoding of V."""
    n = 1
    while not -(1 << (8 * n - 1)) <= v < (1 << (8 * n - 1)):
        n += 1
    return v.to_bytes(n, "little", signed=True)


def encode_runs(runs):
    out, prev = bytearray(), 0
    for lcn, length in runs:
        ln, off = signed_bytes(length), signed_bytes(lcn - prev)
        out += bytes([len(off) << 4 | len(ln)]) + ln + off
        prev = lcn
    return bytes(out + b"\0")


def decode_runs(p):
    runs, lcn, i = [], 0, 0
    while p[i]:
        nl, no = p[i] & 15, p[i] >> 4
        length = int.from_bytes(p[i + 1:i + 1 + nl], "little")
        lcn += int.from_bytes(p[i + 1 + nl:i + 1 + nl + no], "little", signed=True)
        runs.append((lcn, length))
        i += 1 + nl + no
    return runs


def split_runs(runs, split):
    """RUNS (lcn, length) cut at VCN SPLIT: (before, after)."""
    a, b, vcn = [], [], 0
    for lcn, length in runs:
        if vcn + length <= split:
            a.append((lcn, length))
        elif vcn >= split:
            b.append((lcn, length))
        else:
            a.append((lcn, split - vcn))
            b.append((lcn + split - vcn, vcn + length - split))
        vcn += length
    return a, b


def unfix(rec, rs):
    usa_ofs, usa_count = struct.unpack_from("<HH", rec, 4)
    for i in range(1, usa_count):
        rec[i * 512 - 2:i * 512] = rec[usa_ofs + 2 * i:usa_ofs + 2 * i + 2]


def fix(rec, rs):
    usa_ofs, usa_count = struct.unpack_from("<HH", rec, 4)
    usn = (struct.unpack_from("<H", rec, usa_ofs)[0] + 1) & 0xFFFF or 1
    struct.pack_into("<H", rec, usa_ofs, usn)
    for i in range(1, usa_count):
        rec[usa_ofs + 2 * i:usa_ofs + 2 * i + 2] = rec[i * 512 - 2:i * 512]
        struct.pack_into("<H", rec, i * 512 - 2, usn)


def attributes(rec):
    off, out = struct.unpack_from("<H", rec, 0x14)[0], []
    while True:
        t, length = struct.unpack_from("<II", rec, off)
        if t == END:
            return out
        out.append(bytearray(rec[off:off + length]))
        off += length


def pack_record(header, attrs, rs):
    rec = bytearray(rs)
    rec[:len(header)] = header
    off = struct.unpack_from("<H", rec, 0x14)[0]
    for a in attrs:
        rec[off:off + len(a)] = a
        off += len(a)
    struct.pack_into("<II", rec, off, END, 0)
    struct.pack_into("<I", rec, 0x18, off + 8)
    assert off + 8 <= rs, "record overflows"
    return rec


def nonresident_data(instance, low, high, runs, sizes):
    pairs = encode_runs(runs)
    a = bytearray(0x40) + pairs
    a += bytes(-len(a) % 8)
    struct.pack_into("<IIBBHHH", a, 0, 0x80, len(a), 1, 0, 0x40, 0, instance)
    struct.pack_into("<qqH", a, 0x10, low, high, 0x40)
    struct.pack_into("<QQQ", a, 0x28, *sizes)
    return a


def main():
    path, split = sys.argv[1], int(sys.argv[2])
    img = bytearray(open(path, "rb").read())
    bps, spc = struct.unpack_from("<H", img, 11)[0], img[13]
    cs = bps * spc
    mft, mirr = struct.unpack_from("<QQ", img, 0x30)
    cpr = struct.unpack_from("<b", img, 0x40)[0]
    rs = 1 << -cpr if cpr < 0 else cpr * cs
    base = mft * cs

    rec0 = bytearray(img[base:base + rs])
    unfix(rec0, rs)
    attrs = attributes(rec0)
    data = next(a for a in attrs if struct.unpack_from("<I", a)[0] == 0x80)
    runs = decode_runs(data[struct.unpack_from("<H", data, 0x20)[0]:])
    total = sum(length for _, length in runs)
    assert EXT_RECORD * rs < split * cs < total * cs, "split outside $MFT or before record 16"
    first, rest = split_runs(runs, split)
    sizes = struct.unpack_from("<QQQ", data, 0x28)
    data_id = struct.unpack_from("<H", data, 0x0E)[0]

    # Extension record 16: a FILE record whose base is record 0, holding
    # $DATA from SPLIT on.
    seq0 = struct.unpack_from("<H", rec0, 0x10)[0]
    ext = bytearray(img[base + EXT_RECORD * rs:base + (EXT_RECORD + 1) * rs])
    unfix(ext, rs)
    seq16 = struct.unpack_from("<H", ext, 0x10)[0]
    header = bytearray(0x38)
    header[:0x30] = ext[:0x30]
    header[0x30:0x36] = ext[0x30:0x36]      # the update sequence array
    struct.pack_into("<HHHHII", header, 0x10, seq16, 0, 0x38, 1, 0, rs)
    struct.pack_into("<QHHI", header, 0x20, seq0 << 48, 1, 0, EXT_RECORD)
    ext = pack_record(header, [nonresident_data(0, split, total - 1, rest, (0, 0, 0))], rs)

    # Record 0: $DATA up to SPLIT, and an attribute list naming both parts.
    next_id = struct.unpack_from("<H", rec0, 0x28)[0]
    entries = []
    for a in attrs:
        t, inst = struct.unpack_from("<I", a)[0], struct.unpack_from("<H", a, 0x0E)[0]
        entries.append((t, 0, (seq0 << 48) | 0, inst))
        if t == 0x80:
            entries.append((0x80, split, (seq16 << 48) | EXT_RECORD, 0))
    value = bytearray()
    for t, vcn, ref, inst in entries:
        value += struct.pack("<IHBBqQH", t, 0x20, 0, 0x1A, vcn, ref, inst) + bytes(6)
    alist = bytearray(0x18) + value
    alist += bytes(-len(alist) % 8)
    struct.pack_into("<IIBBHHHIHBB", alist, 0, 0x20, len(alist), 0, 0, 0x18, 0, next_id,
                     len(value), 0x18, 0, 0)
    new_attrs = []
    for a in attrs:
        t = struct.unpack_from("<I", a)[0]
        if t == 0x80:
            a = nonresident_data(data_id, 0, split - 1, first, sizes)
        new_attrs.append(a)
        if t == 0x10:
            new_attrs.append(alist)
    header = bytearray(rec0[:struct.unpack_from("<H", rec0, 0x14)[0]])
    struct.pack_into("<H", header, 0x28, next_id + 1)
    rec0 = pack_record(header, new_attrs, rs)

    # Record 16 in use in $MFT's $BITMAP (resident, or through its runs).
    bm = next(a for a in new_attrs if struct.unpack_from("<I", a)[0] == 0xB0)
    if bm[8] == 0:
        voff = struct.unpack_from("<H", bm, 0x14)[0]
        bm[voff + EXT_RECORD // 8] |= 1 << (EXT_RECORD % 8)
        rec0 = pack_record(header, new_attrs, rs)
    else:
        lcn = decode_runs(bm[struct.unpack_from("<H", bm, 0x20)[0]:])[0][0]
        img[lcn * cs + EXT_RECORD // 8] |= 1 << (EXT_RECORD % 8)

    fix(rec0, rs)
    fix(ext, rs)
    img[base:base + rs] = rec0
    img[base + EXT_RECORD * rs:base + (EXT_RECORD + 1) * rs] = ext
    img[mirr * cs:mirr * cs + rs] = rec0
    open(path, "wb").write(img)


main()
