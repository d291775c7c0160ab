/* The p2v wire protocol, version 1 (docs/protocol.md): framing and message
 * encode/decode. Every length from the peer is checked here, before use. */
#ifndef P2V_PROTO_PROTO_H
#define P2V_PROTO_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define P2V_PROTO_VERSION 3
#define P2V_CHUNK_SIZE (1u << 20)           /* fixed in version 1 */
#define P2V_PIECE_SIZE (P2V_CHUNK_SIZE / 16) /* a leaf's pieces (version 3) */
#define P2V_HEADER_SIZE 8                   /* "P2", type, 0, le32 body length */
#define P2V_MAX_NAME 64
#define P2V_MAX_DISKS 32
#define P2V_MAX_MANIFEST (1u << 20)
#define P2V_MAX_ERROR_TEXT 256
#define P2V_NONCE_SIZE 32
#define P2V_MAC_SIZE 32
#define P2V_SESSION_ID_SIZE 16
#define P2V_CHUNK_FIXED 24                  /* CHUNK body before the payload */
#define P2V_MAX_BODY (P2V_CHUNK_FIXED + P2V_CHUNK_SIZE)

enum p2v_msg_type {
    P2V_MSG_HELLO = 1,      /* agent: version, capabilities, agent nonce */
    P2V_MSG_CHALLENGE,      /* server: version, capabilities, server nonce */
    P2V_MSG_AUTH,           /* agent: agent proof */
    P2V_MSG_AUTH_OK,        /* server: server proof (the agent checks it before sending anything) */
    P2V_MSG_SESSION,        /* agent: session id (zero: new), name, compression, disks */
    P2V_MSG_SESSION_OK,     /* server: session id, per disk the offset to resume at */
    P2V_MSG_MANIFEST,       /* agent: the XML manifest (again, final, at the end) */
    P2V_MSG_CHUNK,          /* agent: one chunk of one disk */
    P2V_MSG_ACK,            /* server: everything below this offset is durable */
    P2V_MSG_NAK,            /* server: chunk at this offset was bad, send again from it */
    P2V_MSG_DISK_END,       /* agent: SHA-256 of the disk's captured content */
    P2V_MSG_DISK_DONE,      /* server: digest matched (ok) or not */
    P2V_MSG_FINISH,         /* agent: all disks sent */
    P2V_MSG_FINISH_OK,      /* server: the capture is complete and durable */
    P2V_MSG_ERROR,          /* either: code and one line of text, then close */
    P2V_MSG_TYPE_MAX,
};

enum {
    P2V_CAP_ZSTD = 1u << 0,         /* chunks may be zstd-compressed */
    P2V_CAP_NO_DIGEST = 1u << 1,    /* SESSION only: no whole-disk SHA-256 */
};

enum p2v_chunk_encoding {
    P2V_ENC_RAW = 0,
    P2V_ENC_ZSTD = 1,
    P2V_ENC_ZERO = 2,       /* all zeros, no payload */
};

enum p2v_error_code {
    P2V_ERR_PROTOCOL = 1,   /* malformed or unexpected message */
    P2V_ERR_AUTH = 2,       /* wrong token */
    P2V_ERR_REFUSED = 3,    /* name, session or request refused (see text) */
    P2V_ERR_IO = 4,         /* the server could not write */
    P2V_ERR_DIGEST = 5,     /* whole-disk digest mismatch */
    P2V_ERR_BUSY = 6,       /* the name is in use by a live connection: retry later */
};

struct p2v_disk_desc {
    uint64_t size;
    uint32_t sector_size;
};

struct p2v_msg {
    enum p2v_msg_type type;
    union {
        struct { uint16_t version, caps; uint8_t nonce[P2V_NONCE_SIZE]; } hello;
        struct { uint16_t version, caps; uint8_t nonce[P2V_NONCE_SIZE]; } challenge;
        struct { uint8_t proof[P2V_MAC_SIZE]; } auth, auth_ok;
        struct { uint8_t id[P2V_SESSION_ID_SIZE]; uint8_t caps; uint8_t ndisks;
                 char name[P2V_MAX_NAME + 1];
                 struct p2v_disk_desc disks[P2V_MAX_DISKS]; } session;
        struct { uint8_t id[P2V_SESSION_ID_SIZE]; uint8_t ndisks;
                 uint64_t resume[P2V_MAX_DISKS]; } session_ok;
        struct { uint8_t final; const uint8_t *xml; uint32_t len; } manifest;
        struct p2v_chunk { uint8_t disk, encoding; uint32_t raw_len; uint64_t offset;
                 uint64_t checksum; const uint8_t *payload; uint32_t payload_len; } chunk;
        struct { uint8_t disk; uint64_t offset; } ack, nak;
        struct { uint8_t disk; uint32_t bad_sectors; uint8_t sha256[32]; } disk_end;
        struct { uint8_t disk, ok; } disk_done;
        struct { uint16_t code; char text[P2V_MAX_ERROR_TEXT + 1]; } error;
    } u;
};

const char *p2v_msg_name(enum p2v_msg_type type);

/* Checks a frame header; returns the body length, or -EPROTO with *errp
 * set for a bad magic, an unknown type or a body too long for its type. */
int p2v_header_decode(const uint8_t hdr[P2V_HEADER_SIZE], enum p2v_msg_type *type,
                      struct vd_error **errp);

/* Decodes BODY (LEN bytes) of TYPE into M; pointers in M point into BODY.
 * -EPROTO with *errp set for anything malformed. */
int p2v_msg_decode(enum p2v_msg_type type, const uint8_t *body, size_t len,
                   struct p2v_msg *m, struct vd_error **errp);

/* Encodes M's header and fixed fields into BUF (at least P2V_HEADER_SIZE +
 * 64 + P2V_MAX_DISKS * 12 + P2V_MAX_NAME + P2V_MAX_ERROR_TEXT bytes);
 * the variable tail (chunk payload, manifest XML) is sent separately and
 * returned through *tail / *tail_len. Returns the bytes written to BUF. */
#define P2V_ENCODE_BUF 1024
size_t p2v_msg_encode(const struct p2v_msg *m, uint8_t *buf,
                      const uint8_t **tail, size_t *tail_len);

/* A NAME is one path component: 1-64 of [A-Za-z0-9._-], not starting with '.'. */
bool p2v_name_valid(const char *name);

#endif
