/* One protocol connection: TCP, optionally TLS 1.3, with framed messages. */
#ifndef P2V_PROTO_CONN_H
#define P2V_PROTO_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "p2v/proto/proto.h"

struct p2v_conn;
typedef struct ssl_ctx_st SSL_CTX;

/* Agent side TLS: the server's certificate is pinned by the SHA-256 of its
 * DER encoding (64 hex digits), or verified against CA_FILE. */
struct p2v_tls_client {
    const char *cert_sha256;
    const char *ca_file;
};

/* Checks "HOST:PORT" ("[v6]:PORT" too) without resolving it: PORT is a
 * number from 1 (0 when PASSIVE, a listener) to 65535. */
int p2v_addr_check(const char *addr, bool passive, struct vd_error **errp);
/* Splits "HOST:PORT" ("[v6]:PORT" too) and resolves it. */
int p2v_listen(const char *addr, int *fdp, struct vd_error **errp);

/* "HOST:PORT" ("[HOST]:PORT" for IPv6) of a bound socket, numeric, so a
 * listener on port 0 can say which port it got. */
void p2v_local_address(int fd, char *buf, size_t len);
int p2v_connect(const char *addr, const struct p2v_tls_client *tls,
                struct p2v_conn **connp, struct vd_error **errp);

/* Server side: a TLS context from PEM files (TLS 1.3 only). */
int p2v_tls_server_ctx(const char *cert, const char *key, SSL_CTX **ctxp,
                       struct vd_error **errp);
void p2v_tls_server_ctx_free(SSL_CTX *ctx);
/* Wraps an accepted socket (handshaking when CTX is not NULL). */
int p2v_conn_accept(int fd, SSL_CTX *ctx, struct p2v_conn **connp,
                    struct vd_error **errp);

int p2v_conn_send(struct p2v_conn *c, const struct p2v_msg *m, struct vd_error **errp);
/* Sends the CHUNK message M whose payload is also FD's bytes at FILE_OFF:
 * over plain TCP the kernel sends them from the page cache (sendfile), so
 * they are never copied into the socket. */
int p2v_conn_send_file(struct p2v_conn *c, const struct p2v_msg *m, int fd, uint64_t file_off,
                       struct vd_error **errp);
/* Waits up to TIMEOUT_MS (-1: the socket's idle limit) for a message.
 * -ETIMEDOUT when nothing came, -ECONNRESET when the peer closed, -EPROTO
 * for a malformed frame. M points into the connection's buffer until the
 * next receive. */
int p2v_conn_recv(struct p2v_conn *c, struct p2v_msg *m, int timeout_ms,
                  struct vd_error **errp);
/* A receive buffer of P2V_HEADER_SIZE + P2V_MAX_BODY bytes whose CHUNK
 * payload starts on a page boundary, so that a received chunk can be
 * written with O_DIRECT where it lies. NULL when out of memory. */
uint8_t *p2v_frame_alloc(void);
void p2v_frame_free(uint8_t *frame);
/* Installs FRESH (from p2v_frame_alloc) as the receive
 * buffer and returns the old one, which still holds the last message: a
 * receiver hands a chunk on without copying it. */
uint8_t *p2v_conn_swap_buffer(struct p2v_conn *c, uint8_t *fresh);
/* Sends an ERROR message, ignoring failure (the connection is going away). */
void p2v_conn_send_error(struct p2v_conn *c, enum p2v_error_code code, const char *text);
const char *p2v_conn_peer(const struct p2v_conn *c);
uint64_t p2v_conn_bytes_sent(const struct p2v_conn *c);
void p2v_conn_close(struct p2v_conn *c);

#endif
