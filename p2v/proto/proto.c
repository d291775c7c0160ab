/* p2v protocol (docs/protocol.md): frame and message encode/decode with bounds
 * checks. Nothing here trusts a length it has not checked. */
#include <errno.h>
#include <string.h>

#include "common/endian.h"
#include "p2v/proto/proto.h"

static const char *const msg_names[P2V_MSG_TYPE_MAX] = {
    [P2V_MSG_HELLO] = "HELLO", [P2V_MSG_CHALLENGE] = "CHALLENGE",
    [P2V_MSG_AUTH] = "AUTH", [P2V_MSG_AUTH_OK] = "AUTH_OK", [P2V_MSG_SESSION] = "SESSION",
    [P2V_MSG_SESSION_OK] = "SESSION_OK", [P2V_MSG_MANIFEST] = "MANIFEST",
    [P2V_MSG_CHUNK] = "CHUNK", [P2V_MSG_ACK] = "ACK", [P2V_MSG_NAK] = "NAK",
    [P2V_MSG_DISK_END] = "DISK_END", [P2V_MSG_DISK_DONE] = "DISK_DONE",
    [P2V_MSG_FINISH] = "FINISH", [P2V_MSG_FINISH_OK] = "FINISH_OK",
    [P2V_MSG_ERROR] = "ERROR",
};

/* The largest body each type may have. */
static uint32_t max_body(enum p2v_msg_type t)
{
    switch (t) {
    case P2V_MSG_HELLO: return 4 + P2V_NONCE_SIZE;
    case P2V_MSG_CHALLENGE: return 4 + P2V_NONCE_SIZE;
    case P2V_MSG_AUTH: case P2V_MSG_AUTH_OK: return P2V_MAC_SIZE;
    case P2V_MSG_SESSION: return P2V_SESSION_ID_SIZE + 3 + P2V_MAX_NAME + 12 * P2V_MAX_DISKS;
    case P2V_MSG_SESSION_OK: return P2V_SESSION_ID_SIZE + 1 + 8 * P2V_MAX_DISKS;
    case P2V_MSG_MANIFEST: return 1 + P2V_MAX_MANIFEST;
    case P2V_MSG_CHUNK: return P2V_MAX_BODY;
    case P2V_MSG_ACK: case P2V_MSG_NAK: return 9;
    case P2V_MSG_DISK_END: return 37;
    case P2V_MSG_DISK_DONE: return 2;
    case P2V_MSG_FINISH: case P2V_MSG_FINISH_OK: return 0;
    case P2V_MSG_ERROR: return 4 + P2V_MAX_ERROR_TEXT;
    default: return 0;
    }
}

const char *p2v_msg_name(enum p2v_msg_type type)
{
    if (type <= 0 || type >= P2V_MSG_TYPE_MAX)
        return "UNKNOWN";
    return msg_names[type];
}

int p2v_header_decode(const uint8_t hdr[P2V_HEADER_SIZE], enum p2v_msg_type *type,
                      struct vd_error **errp)
{
    if (hdr[0] != 'P' || hdr[1] != '2' || hdr[3] != 0)
        return vd_error_set(errp, -EPROTO, "not a p2v protocol frame (bad magic)");
    if (hdr[2] == 0 || hdr[2] >= P2V_MSG_TYPE_MAX)
        return vd_error_set(errp, -EPROTO, "unknown message type %u", hdr[2]);
    uint32_t len = get_le32(hdr + 4);
    *type = (enum p2v_msg_type)hdr[2];
    if (len > max_body(*type))
        return vd_error_set(errp, -EPROTO, "%s message of %u bytes is over the limit of %u",
                            p2v_msg_name(*type), len, max_body(*type));
    return (int)len;
}

bool p2v_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > P2V_MAX_NAME || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

#define NEED(n) do { if (len < (size_t)(n)) goto short_msg; } while (0)

int p2v_msg_decode(enum p2v_msg_type type, const uint8_t *b, size_t len,
                   struct p2v_msg *m, struct vd_error **errp)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    if (len > max_body(type))
        return vd_error_set(errp, -EPROTO, "%s message too long", p2v_msg_name(type));
    size_t fixed = 0;
    switch (type) {
    case P2V_MSG_HELLO:
        NEED(fixed = 4 + P2V_NONCE_SIZE);
        m->u.hello.version = get_le16(b);
        m->u.hello.caps = get_le16(b + 2);
        memcpy(m->u.hello.nonce, b + 4, P2V_NONCE_SIZE);
        break;
    case P2V_MSG_CHALLENGE:
        NEED(fixed = 4 + P2V_NONCE_SIZE);
        m->u.challenge.version = get_le16(b);
        m->u.challenge.caps = get_le16(b + 2);
        memcpy(m->u.challenge.nonce, b + 4, P2V_NONCE_SIZE);
        break;
    case P2V_MSG_AUTH:
    case P2V_MSG_AUTH_OK:
        NEED(fixed = P2V_MAC_SIZE);
        memcpy(m->u.auth.proof, b, P2V_MAC_SIZE);
        break;
    case P2V_MSG_SESSION: {
        NEED(P2V_SESSION_ID_SIZE + 3);
        memcpy(m->u.session.id, b, P2V_SESSION_ID_SIZE);
        m->u.session.caps = b[16];
        m->u.session.ndisks = b[17];
        uint8_t nlen = b[18];
        if (nlen == 0 || nlen > P2V_MAX_NAME)
            return vd_error_set(errp, -EPROTO, "SESSION: name length %u out of range", nlen);
        if (m->u.session.ndisks == 0 || m->u.session.ndisks > P2V_MAX_DISKS)
            return vd_error_set(errp, -EPROTO, "SESSION: %u disks out of range",
                                m->u.session.ndisks);
        fixed = P2V_SESSION_ID_SIZE + 3 + nlen + 12u * m->u.session.ndisks;
        NEED(fixed);
        memcpy(m->u.session.name, b + 19, nlen);
        m->u.session.name[nlen] = 0;
        if (strlen(m->u.session.name) != nlen)
            return vd_error_set(errp, -EPROTO, "SESSION: name contains a NUL byte");
        const uint8_t *d = b + 19 + nlen;
        for (unsigned i = 0; i < m->u.session.ndisks; i++, d += 12) {
            m->u.session.disks[i].size = get_le64(d);
            m->u.session.disks[i].sector_size = get_le32(d + 8);
        }
        break;
    }
    case P2V_MSG_SESSION_OK:
        NEED(P2V_SESSION_ID_SIZE + 1);
        memcpy(m->u.session_ok.id, b, P2V_SESSION_ID_SIZE);
        m->u.session_ok.ndisks = b[16];
        if (m->u.session_ok.ndisks == 0 || m->u.session_ok.ndisks > P2V_MAX_DISKS)
            return vd_error_set(errp, -EPROTO, "SESSION_OK: disk count out of range");
        fixed = P2V_SESSION_ID_SIZE + 1 + 8u * m->u.session_ok.ndisks;
        NEED(fixed);
        for (unsigned i = 0; i < m->u.session_ok.ndisks; i++)
            m->u.session_ok.resume[i] = get_le64(b + 17 + 8 * i);
        break;
    case P2V_MSG_MANIFEST:
        NEED(1);
        m->u.manifest.final = b[0];
        m->u.manifest.xml = b + 1;
        m->u.manifest.len = (uint32_t)(len - 1);
        fixed = len;
        break;
    case P2V_MSG_CHUNK:
        NEED(P2V_CHUNK_FIXED);
        m->u.chunk.disk = b[0];
        m->u.chunk.encoding = b[1];
        m->u.chunk.raw_len = get_le32(b + 4);
        m->u.chunk.offset = get_le64(b + 8);
        m->u.chunk.checksum = get_le64(b + 16);
        m->u.chunk.payload = b + P2V_CHUNK_FIXED;
        m->u.chunk.payload_len = (uint32_t)(len - P2V_CHUNK_FIXED);
        if (m->u.chunk.encoding > P2V_ENC_ZERO || get_le16(b + 2) != 0)
            return vd_error_set(errp, -EPROTO, "CHUNK: unknown encoding %u", b[1]);
        if (m->u.chunk.raw_len == 0 || m->u.chunk.raw_len > P2V_CHUNK_SIZE)
            return vd_error_set(errp, -EPROTO, "CHUNK: length %u out of range", m->u.chunk.raw_len);
        if ((m->u.chunk.encoding == P2V_ENC_RAW && m->u.chunk.payload_len != m->u.chunk.raw_len) ||
            (m->u.chunk.encoding == P2V_ENC_ZERO && m->u.chunk.payload_len != 0) ||
            (m->u.chunk.encoding == P2V_ENC_ZSTD && m->u.chunk.payload_len == 0))
            return vd_error_set(errp, -EPROTO, "CHUNK: payload length %u does not match its encoding",
                                m->u.chunk.payload_len);
        fixed = len;
        break;
    case P2V_MSG_ACK:
    case P2V_MSG_NAK:
        NEED(fixed = 9);
        m->u.ack.disk = b[0];
        m->u.ack.offset = get_le64(b + 1);
        break;
    case P2V_MSG_DISK_END:
        NEED(fixed = 37);
        m->u.disk_end.disk = b[0];
        m->u.disk_end.bad_sectors = get_le32(b + 1);
        memcpy(m->u.disk_end.sha256, b + 5, 32);
        break;
    case P2V_MSG_DISK_DONE:
        NEED(fixed = 2);
        m->u.disk_done.disk = b[0];
        m->u.disk_done.ok = b[1];
        break;
    case P2V_MSG_FINISH:
    case P2V_MSG_FINISH_OK:
        break;
    case P2V_MSG_ERROR: {
        NEED(4);
        m->u.error.code = get_le16(b);
        uint16_t tlen = get_le16(b + 2);
        if (tlen > P2V_MAX_ERROR_TEXT)
            return vd_error_set(errp, -EPROTO, "ERROR: text too long");
        fixed = 4u + tlen;
        NEED(fixed);
        /* Shown to a user: keep printable ASCII only. */
        for (unsigned i = 0; i < tlen; i++)
            m->u.error.text[i] = (b[4 + i] >= 0x20 && b[4 + i] < 0x7F) ? (char)b[4 + i] : '?';
        m->u.error.text[tlen] = 0;
        break;
    }
    default:
        return vd_error_set(errp, -EPROTO, "unknown message type %d", (int)type);
    }
    if (len != fixed)
        return vd_error_set(errp, -EPROTO, "%s message has %zu trailing bytes",
                            p2v_msg_name(type), len - fixed);
    return 0;
short_msg:
    return vd_error_set(errp, -EPROTO, "%s message truncated (%zu bytes)", p2v_msg_name(type), len);
}

size_t p2v_msg_encode(const struct p2v_msg *m, uint8_t *buf,
                      const uint8_t **tail, size_t *tail_len)
{
    uint8_t *b = buf + P2V_HEADER_SIZE;
    size_t n = 0;
    *tail = NULL;
    *tail_len = 0;
    switch (m->type) {
    case P2V_MSG_HELLO:
        put_le16(b, m->u.hello.version);
        put_le16(b + 2, m->u.hello.caps);
        memcpy(b + 4, m->u.hello.nonce, P2V_NONCE_SIZE);
        n = 4 + P2V_NONCE_SIZE;
        break;
    case P2V_MSG_CHALLENGE:
        put_le16(b, m->u.challenge.version);
        put_le16(b + 2, m->u.challenge.caps);
        memcpy(b + 4, m->u.challenge.nonce, P2V_NONCE_SIZE);
        n = 4 + P2V_NONCE_SIZE;
        break;
    case P2V_MSG_AUTH:
    case P2V_MSG_AUTH_OK:
        memcpy(b, m->u.auth.proof, P2V_MAC_SIZE);
        n = P2V_MAC_SIZE;
        break;
    case P2V_MSG_SESSION: {
        size_t nlen = strnlen(m->u.session.name, P2V_MAX_NAME);
        unsigned nd = m->u.session.ndisks <= P2V_MAX_DISKS ? m->u.session.ndisks : P2V_MAX_DISKS;
        memcpy(b, m->u.session.id, P2V_SESSION_ID_SIZE);
        b[16] = m->u.session.caps;
        b[17] = (uint8_t)nd;
        b[18] = (uint8_t)nlen;
        memcpy(b + 19, m->u.session.name, nlen);
        n = 19 + nlen;
        for (unsigned i = 0; i < nd; i++, n += 12) {
            put_le64(b + n, m->u.session.disks[i].size);
            put_le32(b + n + 8, m->u.session.disks[i].sector_size);
        }
        break;
    }
    case P2V_MSG_SESSION_OK: {
        unsigned nd = m->u.session_ok.ndisks <= P2V_MAX_DISKS ? m->u.session_ok.ndisks : P2V_MAX_DISKS;
        memcpy(b, m->u.session_ok.id, P2V_SESSION_ID_SIZE);
        b[16] = (uint8_t)nd;
        for (unsigned i = 0; i < nd; i++)
            put_le64(b + 17 + 8 * i, m->u.session_ok.resume[i]);
        n = 17 + 8u * nd;
        break;
    }
    case P2V_MSG_MANIFEST:
        b[0] = m->u.manifest.final;
        n = 1;
        *tail = m->u.manifest.xml;
        *tail_len = m->u.manifest.len;
        break;
    case P2V_MSG_CHUNK:
        b[0] = m->u.chunk.disk;
        b[1] = m->u.chunk.encoding;
        put_le16(b + 2, 0);
        put_le32(b + 4, m->u.chunk.raw_len);
        put_le64(b + 8, m->u.chunk.offset);
        put_le64(b + 16, m->u.chunk.checksum);
        n = P2V_CHUNK_FIXED;
        *tail = m->u.chunk.payload;
        *tail_len = m->u.chunk.payload_len;
        break;
    case P2V_MSG_ACK:
    case P2V_MSG_NAK:
        b[0] = m->u.ack.disk;
        put_le64(b + 1, m->u.ack.offset);
        n = 9;
        break;
    case P2V_MSG_DISK_END:
        b[0] = m->u.disk_end.disk;
        put_le32(b + 1, m->u.disk_end.bad_sectors);
        memcpy(b + 5, m->u.disk_end.sha256, 32);
        n = 37;
        break;
    case P2V_MSG_DISK_DONE:
        b[0] = m->u.disk_done.disk;
        b[1] = m->u.disk_done.ok;
        n = 2;
        break;
    case P2V_MSG_ERROR: {
        size_t tlen = strnlen(m->u.error.text, P2V_MAX_ERROR_TEXT);
        put_le16(b, m->u.error.code);
        put_le16(b + 2, (uint16_t)tlen);
        memcpy(b + 4, m->u.error.text, tlen);
        n = 4 + tlen;
        break;
    }
    default:
        break;
    }
    buf[0] = 'P';
    buf[1] = '2';
    buf[2] = (uint8_t)m->type;
    buf[3] = 0;
    put_le32(buf + 4, (uint32_t)(n + *tail_len));
    return P2V_HEADER_SIZE + n;
}
