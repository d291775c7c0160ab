#!/usr/bin/python3
"""VHDX test images written from MS-VHDX alone (qemu cannot write them):

  vhdx_gen.py child PARENT CHILD SPEC...   a differencing disk of PARENT
      SPEC: W:OFF:LEN:CHAR  sectors written in the child (partially present
            blocks, sector bitmap bits set),
            F:BLOCK:CHAR     a fully present block,
            Z:BLOCK          a block that reads as zeros (over the parent).
      Options before PARENT: --lss 4096, --block MIB, --linkage GUID,
      --linkage2 GUID (a parent_linkage2 entry), --relative PATH (the
      relative_path value, default .\\PARENT's name).
  vhdx_gen.py dirty IMAGE BLOCK CHAR [BLOCK CHAR...]  appends a block of
      CHAR to a dynamic IMAGE, and a log entry (the only record of it) that
      points BAT entry BLOCK at it and zeroes its first 4 KiB; several
      blocks make a sequence of entries; the header then names the log, as
      after a crash before the log was applied.
"""
import os, struct, sys, uuid

MIB = 1 << 20


def crc32c(data, crc=0):
    t = crc32c.table
    if t is None:
        t = crc32c.table = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            t.append(c)
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ t[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF
crc32c.table = None


def with_crc(buf, at=4):
    buf = bytearray(buf)
    buf[at:at + 4] = b"\0\0\0\0"
    buf[at:at + 4] = struct.pack("<I", crc32c(bytes(buf)))
    return bytes(buf)


def g(text):
    return uuid.UUID(text).bytes_le


BAT = g("2DC27766-F623-4200-9D64-115E9BFD4A08")
META = g("8B7CA206-4790-4B9A-B8FE-575F050F886E")
PARAMS = g("CAA16737-FA36-4D43-B3B6-33F0AA44E76B")
SIZE = g("2FA54224-CD1B-4876-B211-5DBED83BF4B8")
PAGE83 = g("BECA12AB-B2E6-4523-93EF-C309E000C746")
LSS = g("8141BF1D-A96F-4709-BA47-F233A8FAAB5F")
PSS = g("CDA348C7-445D-4471-9CC9-E9885251C556")
LOCATOR = g("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C")
LOCATOR_TYPE = g("B04AEFB7-D19E-4A81-B789-25B8E9445913")


def read_image(path):
    """Current header, BAT/metadata offsets, metadata values of PATH."""
    d = open(path, "rb").read()
    heads = []
    for off in (64 << 10, 128 << 10):
        h = d[off:off + 4096]
        if h[:4] == b"head" and struct.unpack_from("<I", h, 4)[0] == crc32c(h[:4] + b"\0" * 4 + h[8:]):
            heads.append((struct.unpack_from("<Q", h, 8)[0], off, h))
    seq, hoff, h = max(heads)
    rt = d[192 << 10:(192 << 10) + 65536]
    regions = {}
    for i in range(struct.unpack_from("<I", rt, 8)[0]):
        e = rt[16 + 32 * i:48 + 32 * i]
        regions[e[:16]] = struct.unpack_from("<QI", e, 16)
    moff = regions[META][0]
    mt = d[moff:moff + 65536]
    items = {}
    for i in range(struct.unpack_from("<H", mt, 10)[0]):
        e = mt[32 + 32 * i:64 + 32 * i]
        o, ln = struct.unpack_from("<II", e, 16)
        items[e[:16]] = d[moff + o:moff + o + ln]
    return dict(data=d, header=h, header_off=hoff, seq=seq, bat=regions[BAT], meta=regions[META],
                block=struct.unpack_from("<I", items[PARAMS])[0],
                size=struct.unpack_from("<Q", items[SIZE])[0],
                lss=struct.unpack_from("<I", items[LSS])[0])


def header(seq, data_guid, log_guid=b"\0" * 16, log_off=MIB, log_len=MIB, file_guid=None):
    h = bytearray(4096)
    h[0:4] = b"head"
    struct.pack_into("<Q", h, 8, seq)
    h[16:32] = file_guid or uuid.uuid4().bytes_le
    h[32:48] = data_guid
    h[48:64] = log_guid
    struct.pack_into("<HHIQ", h, 64, 0, 1, log_len, log_off)
    return with_crc(h)


def utf16(s):
    return s.encode("utf-16-le")


def child(argv):
    lss, block_mib, linkage, relative, linkage2 = 512, 2, None, None, None
    while argv[0].startswith("--"):
        opt, val = argv[0], argv[1]
        argv = argv[2:]
        if opt == "--lss": lss = int(val)
        elif opt == "--block": block_mib = int(val)
        elif opt == "--linkage": linkage = val
        elif opt == "--linkage2": linkage2 = val
        elif opt == "--relative": relative = val
    parent_path, out, specs = argv[0], argv[1], argv[2:]
    p = read_image(parent_path)
    size = p["size"]
    block = block_mib * MIB
    if linkage is None:
        linkage = "{%s}" % uuid.UUID(bytes_le=p["header"][32:48])
    if relative is None:
        relative = ".\\" + os.path.basename(parent_path)
    chunk = (1 << 23) * lss // block
    nblocks = (size + block - 1) // block
    nbitmaps = (nblocks + chunk - 1) // chunk
    entries = nbitmaps * (chunk + 1)
    bat_len = (entries * 8 + MIB - 1) // MIB * MIB
    bat_off, meta_off = 3 * MIB, 2 * MIB
    end = bat_off + bat_len
    f = bytearray(end)
    f[0:8] = b"vhdxfile"
    creator = utf16("p2vkit-test")
    f[8:8 + len(creator)] = creator
    dguid = uuid.uuid4().bytes_le
    fguid = uuid.uuid4().bytes_le
    f[64 << 10:(64 << 10) + 4096] = header(1, dguid, file_guid=fguid)
    f[128 << 10:(128 << 10) + 4096] = header(2, dguid, file_guid=fguid)
    rt = bytearray(65536)
    rt[0:4] = b"regi"
    struct.pack_into("<I", rt, 8, 2)
    rt[16:32] = BAT
    struct.pack_into("<QII", rt, 32, bat_off, bat_len, 1)
    rt[48:64] = META
    struct.pack_into("<QII", rt, 64, meta_off, MIB, 1)
    rt = with_crc(rt)
    f[192 << 10:(192 << 10) + 65536] = rt
    f[256 << 10:(256 << 10) + 65536] = rt
    # Metadata: the five required items and the parent locator.
    kv = [("parent_linkage", linkage), ("relative_path", relative),
          ("absolute_win32_path", "C:\\nowhere\\" + os.path.basename(parent_path))]
    if linkage2 is not None:
        kv.append(("parent_linkage2", linkage2))
    loc = bytearray(LOCATOR_TYPE + struct.pack("<HH", 0, len(kv)))
    blob, at = bytearray(), 20 + 12 * len(kv)
    for k, v in kv:
        kb, vb = utf16(k), utf16(v)
        loc += struct.pack("<IIHH", at + len(blob), at + len(blob) + len(kb), len(kb), len(vb))
        blob += kb + vb
    loc += blob
    items = [(PARAMS, struct.pack("<II", block, 2), 4),
             (SIZE, struct.pack("<Q", size), 6),
             (PAGE83, uuid.uuid4().bytes_le, 6),
             (LSS, struct.pack("<I", lss), 6),
             (PSS, struct.pack("<I", 4096), 6),
             (LOCATOR, bytes(loc), 4)]
    mt = bytearray(65536)
    mt[0:8] = b"metadata"
    struct.pack_into("<H", mt, 10, len(items))
    off = 65536
    for i, (gid, val, flags) in enumerate(items):
        mt[32 + 32 * i:48 + 32 * i] = gid
        struct.pack_into("<III", mt, 48 + 32 * i, off, len(val), flags)
        f[meta_off + off:meta_off + off + len(val)] = val
        off += (len(val) + 7) // 8 * 8
    f[meta_off:meta_off + 65536] = mt
    bat = [0] * entries
    def alloc(length):
        nonlocal f
        at = len(f)
        f += bytearray(length)
        return at
    bitmaps = {}
    def bitmap_of(chunk_no):
        if chunk_no not in bitmaps:
            bitmaps[chunk_no] = alloc(MIB)
            bat[chunk_no * (chunk + 1) + chunk] = bitmaps[chunk_no] | 6
        return bitmaps[chunk_no]
    blocks = {}
    def data_of(b, state):
        idx = b + b // chunk
        if b not in blocks:
            blocks[b] = alloc(block)
        bat[idx] = blocks[b] | state
        return blocks[b]
    for spec in specs:
        kind, *args = spec.split(":")
        if kind == "W":
            off, length, ch = int(args[0]), int(args[1]), args[2].encode()
            assert off % lss == 0 and length % lss == 0
            pos = off
            while pos < off + length:
                b = pos // block
                n = min(off + length, (b + 1) * block) - pos
                base = data_of(b, 7)
                f[base + pos % block:base + pos % block + n] = ch * n
                bm = bitmap_of(b // chunk)
                for s in range(pos // lss, (pos + n) // lss):
                    bit = s - (b // chunk) * chunk * (block // lss)
                    f[bm + bit // 8] |= 1 << (bit % 8)
                pos += n
        elif kind == "F":
            b, ch = int(args[0]), args[1].encode()
            base = data_of(b, 6)
            f[base:base + block] = ch * block
        elif kind == "Z":
            b = int(args[0])
            bat[b + b // chunk] = 2
    struct.pack_into("<%dQ" % entries, f, bat_off, *bat)
    open(out, "wb").write(f)


def dirty(argv):
    """dirty IMAGE BLOCK CHAR [BLOCK CHAR...]: one log entry per block, in
    one sequence (each entry's tail is the first), each appending a block of
    CHAR, pointing BAT entry BLOCK at it and zeroing its first 4 KiB."""
    path = argv[0]
    p = read_image(path)
    d = bytearray(p["data"])
    block, lss = p["block"], p["lss"]
    chunk = (1 << 23) * lss // block
    bat_off = p["bat"][0]
    hd = p["header"]
    log_len, log_off = struct.unpack_from("<IQ", hd, 68)
    log_guid = uuid.uuid4().bytes_le
    seq = 0x1234_5678_9abc
    pos = 0
    bat = bytearray(d[bat_off:bat_off + p["bat"][1]])
    pairs = list(zip(argv[1::2], argv[2::2]))
    for blk, ch in pairs:
        blk, ch = int(blk), ch.encode()
        idx = blk + blk // chunk
        # The new block, written in place before the log entry, as a
        # writer would.
        new = (len(d) + MIB - 1) // MIB * MIB
        d += bytearray(new - len(d)) + ch * block
        struct.pack_into("<Q", bat, idx * 8, new | 6)
        sec_off = bat_off + (idx * 8) // 4096 * 4096
        sector = bytes(bat[sec_off - bat_off:sec_off - bat_off + 4096])
        h = bytearray(64)
        h[0:4] = b"loge"
        struct.pack_into("<IIQII", h, 8, 2 * 4096, 0, seq, 2, 0)
        h[32:48] = log_guid
        struct.pack_into("<QQ", h, 48, len(d), len(d))
        descs = b"desc" + sector[4092:4096] + sector[0:8] + struct.pack("<QQ", sec_off, seq)
        descs += b"zero" + b"\0" * 4 + struct.pack("<QQQ", 4096, new, seq)
        entry = bytearray(h + descs)
        entry += bytearray(4096 - len(entry))
        entry += b"data" + struct.pack("<I", seq >> 32) + sector[8:4092] + struct.pack("<I", seq & 0xFFFFFFFF)
        entry = with_crc(entry)
        d[log_off + pos:log_off + pos + len(entry)] = entry
        pos += len(entry)
        seq += 1
    # The newer header names the log; it goes in the other slot.
    other = (128 << 10) if p["header_off"] == (64 << 10) else (64 << 10)
    d[other:other + 4096] = header(p["seq"] + 1, hd[32:48], log_guid, log_off, log_len,
                                   file_guid=hd[16:32])
    open(path, "wb").write(d)


if __name__ == "__main__":
    {"child": child, "dirty": dirty}[sys.argv[1]](sys.argv[2:])
