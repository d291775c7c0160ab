/* Transport: framed messages over TCP or TLS 1.3 (OpenSSL). Reads are
 * bounded by the frame header's checked length and by an idle timeout, so
 * a silent or hostile peer cannot hang or exhaust us. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "p2v/proto/auth.h"
#include "p2v/proto/conn.h"

#define IDLE_TIMEOUT_S 120
/* A host that drops the SYN (a firewall, a machine that is off) would
 * hold connect() for the kernel's two minutes of retries. */
#define CONNECT_TIMEOUT_S 15

struct p2v_conn {
    int fd;
    SSL_CTX *own_ctx;       /* agent: its client context */
    SSL *ssl;
    char peer[80];
    uint64_t sent;
    uint8_t *buf;           /* P2V_HEADER_SIZE + P2V_MAX_BODY */
};

/* PORT must be decimal, 1..65535 (0 too for a listener: "any free port");
 * getaddrinfo() would take 99999 and bind 99999 mod 65536. */
static int split_addr(const char *addr, bool passive, char *host, size_t hlen, char *port,
                      size_t plen, struct vd_error **errp)
{
    const char *colon = strrchr(addr, ':');
    const char *h = addr;
    size_t n;
    if (!colon || !colon[1])
        return vd_error_set(errp, -EINVAL, "'%s': expected HOST:PORT", addr);
    n = (size_t)(colon - addr);
    if (addr[0] == '[' && n >= 2 && addr[n - 1] == ']') {
        h = addr + 1;
        n -= 2;
    }
    if (n == 0 || n >= hlen || strlen(colon + 1) >= plen)
        return vd_error_set(errp, -EINVAL, "'%s': expected HOST:PORT", addr);
    const char *p = colon + 1;
    unsigned long v = 0;
    for (; *p >= '0' && *p <= '9' && v <= 65535; p++)
        v = v * 10 + (unsigned long)(*p - '0');
    if (*p || v > 65535 || (v == 0 && !passive))
        return vd_error_set(errp, -EINVAL, "'%s': the port must be a number from %d to 65535",
                            addr, passive ? 0 : 1);
    memcpy(host, h, n);
    host[n] = 0;
    strcpy(port, colon + 1);
    return 0;
}

int p2v_addr_check(const char *addr, bool passive, struct vd_error **errp)
{
    char host[256], port[16];
    return split_addr(addr, passive, host, sizeof(host), port, sizeof(port), errp);
}

static int resolve(const char *addr, bool passive, struct addrinfo **res,
                   struct vd_error **errp)
{
    char host[256], port[16];
    int ret = split_addr(addr, passive, host, sizeof(host), port, sizeof(port), errp);
    if (ret < 0)
        return ret;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
                              .ai_flags = passive ? AI_PASSIVE : 0 };
    int gai = getaddrinfo(host, port, &hints, res);
    if (gai)
        return vd_error_set(errp, -EHOSTUNREACH, "cannot resolve '%s': %s", addr, gai_strerror(gai));
    return 0;
}

int p2v_listen(const char *addr, int *fdp, struct vd_error **errp)
{
    struct addrinfo *res;
    int ret = resolve(addr, true, &res, errp);
    if (ret < 0)
        return ret;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
        ret = vd_error_set_errno(errp, -errno, "cannot listen on %s", addr);
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return ret;
    }
    freeaddrinfo(res);
    *fdp = fd;
    return 0;
}

void p2v_local_address(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[NI_MAXHOST], port[NI_MAXSERV];
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(buf, len, "?");
        return;
    }
    snprintf(buf, len, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

static void set_socket_options(int fd)
{
    int one = 1, buf = 4 << 20;
    struct timeval tv = { .tv_sec = IDLE_TIMEOUT_S };
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

static struct p2v_conn *conn_new(int fd)
{
    struct p2v_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->buf = p2v_frame_alloc();
    if (!c->buf) {
        free(c);
        return NULL;
    }
    c->fd = fd;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[64] = "?", port[16] = "?";
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(c->peer, sizeof(c->peer), "%s:%s", host, port);
    set_socket_options(fd);
    return c;
}

static int tls_error(struct vd_error **errp, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[200] = "unknown TLS error";
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return vd_error_set(errp, -EPROTO, "%s: %s", what, buf);
}

/* Compares the peer certificate's SHA-256 with the pinned hex digest
 * (colons allowed, as openssl x509 -fingerprint prints it). */
static int check_pin(SSL *ssl, const char *pin, struct vd_error **errp)
{
    uint8_t want[32], got[32];
    char hex[65];
    unsigned n = 0, glen = 0;
    for (const char *p = pin; *p && n < 65; p++)
        if (*p != ':')
            hex[n++] = *p;
    hex[n < 65 ? n : 64] = 0;
    if (n != 64 || !p2v_unhex(hex, want, sizeof(want)))
        return vd_error_set(errp, -EINVAL, "--server-cert-sha256: expected 64 hex digits");
    X509 *cert = SSL_get1_peer_certificate(ssl);
    if (!cert)
        return vd_error_set(errp, -EPROTO, "the server sent no certificate");
    int ok = X509_digest(cert, EVP_sha256(), got, &glen);
    X509_free(cert);
    if (!ok || glen != 32 || memcmp(want, got, 32) != 0)
        return vd_error_set(errp, -EACCES, "the server's certificate does not match the pinned SHA-256");
    return 0;
}

/* connect() bounded by CONNECT_TIMEOUT_S; 0, or -1 with errno set
 * (ETIMEDOUT when the host never answered). */
static int connect_within(int fd, const struct sockaddr *sa, socklen_t len)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -1;
    int r = connect(fd, sa, len);
    if (r < 0 && errno == EINPROGRESS) {
        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
        int e = 0;
        socklen_t el = sizeof(e);
        do {
            r = poll(&pfd, 1, CONNECT_TIMEOUT_S * 1000);
        } while (r < 0 && errno == EINTR);
        if (r == 0)
            e = ETIMEDOUT;
        else if (r < 0)
            e = errno;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
            e = errno;
        r = e ? -1 : 0;
        errno = e;
    }
    int e = errno;
    if (fcntl(fd, F_SETFL, flags) < 0 && r == 0) {
        e = errno;
        r = -1;
    }
    errno = e;
    return r;
}

int p2v_connect(const char *addr, const struct p2v_tls_client *tls,
                struct p2v_conn **connp, struct vd_error **errp)
{
    struct addrinfo *res;
    int ret = resolve(addr, false, &res, errp);
    if (ret < 0)
        return ret;
    int fd = -1;
    ret = -ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        if (connect_within(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        ret = -errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0 && ret == -ETIMEDOUT)
        return vd_error_set(errp, ret, "cannot connect to %s: no answer in %d s", addr, CONNECT_TIMEOUT_S);
    if (fd < 0)
        return vd_error_set_errno(errp, ret, "cannot connect to %s", addr);
    struct p2v_conn *c = conn_new(fd);
    if (!c) {
        close(fd);
        return vd_error_set(errp, -ENOMEM, "out of memory");
    }
    if (tls) {
        c->own_ctx = SSL_CTX_new(TLS_client_method());
        if (!c->own_ctx || !SSL_CTX_set_min_proto_version(c->own_ctx, TLS1_3_VERSION)) {
            ret = tls_error(errp, "TLS setup");
            goto fail;
        }
        if (tls->ca_file) {
            if (!SSL_CTX_load_verify_locations(c->own_ctx, tls->ca_file, NULL)) {
                ret = tls_error(errp, tls->ca_file);
                goto fail;
            }
            SSL_CTX_set_verify(c->own_ctx, SSL_VERIFY_PEER, NULL);
        }
        c->ssl = SSL_new(c->own_ctx);
        if (!c->ssl || !SSL_set_fd(c->ssl, fd)) {
            ret = tls_error(errp, "TLS setup");
            goto fail;
        }
        if (tls->ca_file) {
            char host[256], port[16];
            split_addr(addr, false, host, sizeof(host), port, sizeof(port), NULL);
            X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
            if (!X509_VERIFY_PARAM_set1_ip_asc(vp, host))
                SSL_set1_host(c->ssl, host);
        }
        if (SSL_connect(c->ssl) != 1) {
            ret = tls_error(errp, "TLS handshake with the server failed");
            goto fail;
        }
        if (tls->cert_sha256 && (ret = check_pin(c->ssl, tls->cert_sha256, errp)) < 0)
            goto fail;
    }
    *connp = c;
    return 0;
fail:
    p2v_conn_close(c);
    return ret;
}

int p2v_tls_server_ctx(const char *cert, const char *key, SSL_CTX **ctxp,
                       struct vd_error **errp)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION)) {
        SSL_CTX_free(ctx);
        return tls_error(errp, "TLS setup");
    }
    /* No session tickets: a ticket arriving after the handshake would make
     * the agent's "anything to read?" poll block on a record that carries
     * no message. */
    SSL_CTX_set_num_tickets(ctx, 0);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        SSL_CTX_free(ctx);
        return tls_error(errp, cert);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        SSL_CTX_free(ctx);
        return tls_error(errp, key);
    }
    *ctxp = ctx;
    return 0;
}

void p2v_tls_server_ctx_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}

int p2v_conn_accept(int fd, SSL_CTX *ctx, struct p2v_conn **connp,
                    struct vd_error **errp)
{
    struct p2v_conn *c = conn_new(fd);
    if (!c) {
        close(fd);
        return vd_error_set(errp, -ENOMEM, "out of memory");
    }
    if (ctx) {
        c->ssl = SSL_new(ctx);
        if (!c->ssl || !SSL_set_fd(c->ssl, fd) || SSL_accept(c->ssl) != 1) {
            int ret = tls_error(errp, "TLS handshake failed");
            p2v_conn_close(c);
            return ret;
        }
    }
    *connp = c;
    return 0;
}

/* Sends the N_IOV buffers of V whole over plain TCP (MSG_MORE in FLAGS:
 * more follows, so the kernel holds a short tail for it). */
static int send_plain(struct p2v_conn *c, struct iovec *v, int n_iov, int flags,
                      struct vd_error **errp)
{
    while (n_iov > 0) {
        struct msghdr mh = { .msg_iov = v, .msg_iovlen = (size_t)n_iov };
        ssize_t w = sendmsg(c->fd, &mh, flags);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return vd_error_set_errno(errp, errno == EAGAIN ? -ETIMEDOUT : -errno,
                                      "sending to %s", c->peer);
        }
        c->sent += (uint64_t)w;
        while (n_iov > 0 && (size_t)w >= v->iov_len) {
            w -= (ssize_t)v->iov_len;
            v++;
            n_iov--;
        }
        if (n_iov > 0) {
            v->iov_base = (uint8_t *)v->iov_base + w;
            v->iov_len -= (size_t)w;
        }
    }
    return 0;
}

static int write_all(struct p2v_conn *c, const uint8_t *p, size_t len,
                     const uint8_t *p2, size_t len2, struct vd_error **errp)
{
    if (!c->ssl) {
        struct iovec iov[2] = { { (void *)(uintptr_t)p, len }, { (void *)(uintptr_t)p2, len2 } };
        return send_plain(c, iov, len2 ? 2 : 1, 0, errp);
    }
    const uint8_t *parts[2] = { p, p2 };
    size_t lens[2] = { len, len2 };
    for (int i = 0; i < 2; i++) {
        size_t done = 0;
        while (done < lens[i]) {
            size_t w = 0;
            if (SSL_write_ex(c->ssl, parts[i] + done, lens[i] - done, &w) != 1)
                return tls_error(errp, "sending over TLS");
            done += w;
            c->sent += w;
        }
    }
    return 0;
}

static int read_all(struct p2v_conn *c, uint8_t *p, size_t len, struct vd_error **errp)
{
    size_t done = 0;
    while (done < len) {
        if (c->ssl) {
            size_t r = 0;
            int ok = SSL_read_ex(c->ssl, p + done, len - done, &r);
            if (ok != 1) {
                int e = SSL_get_error(c->ssl, ok);
                if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0))
                    return vd_error_set(errp, -ECONNRESET, "%s closed the connection", c->peer);
                if (e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))
                    return vd_error_set(errp, -ETIMEDOUT, "%s sent nothing for %d s", c->peer, IDLE_TIMEOUT_S);
                return tls_error(errp, "receiving over TLS");
            }
            done += r;
            continue;
        }
        ssize_t r = read(c->fd, p + done, len - done);
        if (r == 0)
            return vd_error_set(errp, -ECONNRESET, "%s closed the connection", c->peer);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return vd_error_set(errp, -ETIMEDOUT, "%s sent nothing for %d s", c->peer, IDLE_TIMEOUT_S);
            return vd_error_set_errno(errp, -errno, "receiving from %s", c->peer);
        }
        done += (size_t)r;
    }
    return 0;
}

int p2v_conn_send(struct p2v_conn *c, const struct p2v_msg *m, struct vd_error **errp)
{
    uint8_t hdr[P2V_ENCODE_BUF];
    const uint8_t *tail;
    size_t tail_len;
    size_t n = p2v_msg_encode(m, hdr, &tail, &tail_len);
    return write_all(c, hdr, n, tail, tail_len, errp);
}

/* The file shrank or failed to read under sendfile, after the header and
 * part of the payload went: zeros complete the frame, so the stream stays
 * in step, and its checksum fails, so the receiver asks for it again (and
 * the sender then reads it the careful way). */
static int send_zeros(struct p2v_conn *c, size_t len, struct vd_error **errp)
{
    static const uint8_t zeros[64 * 1024];
    int ret = 0;
    while (ret == 0 && len > 0) {
        struct iovec iov = { (void *)(uintptr_t)zeros, len < sizeof(zeros) ? len : sizeof(zeros) };
        len -= iov.iov_len;
        ret = send_plain(c, &iov, 1, 0, errp);
    }
    return ret;
}

int p2v_conn_send_file(struct p2v_conn *c, const struct p2v_msg *m, int fd, uint64_t file_off,
                       struct vd_error **errp)
{
    uint8_t hdr[P2V_ENCODE_BUF];
    const uint8_t *tail;
    size_t tail_len;
    size_t n = p2v_msg_encode(m, hdr, &tail, &tail_len);
    if (c->ssl)
        return write_all(c, hdr, n, tail, tail_len, errp);
    struct iovec iov = { hdr, n };
    int ret = send_plain(c, &iov, 1, MSG_MORE, errp);
    off_t pos = (off_t)file_off;
    while (ret == 0 && tail_len > 0) {
        ssize_t w = sendfile(c->fd, fd, &pos, tail_len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w == 0 || (w < 0 && errno == EIO))
            return send_zeros(c, tail_len, errp);
        if (w < 0)
            return vd_error_set_errno(errp, errno == EAGAIN ? -ETIMEDOUT : -errno,
                                      "sending to %s", c->peer);
        c->sent += (uint64_t)w;
        tail_len -= (size_t)w;
    }
    return ret;
}

int p2v_conn_recv(struct p2v_conn *c, struct p2v_msg *m, int timeout_ms,
                  struct vd_error **errp)
{
    if (timeout_ms >= 0 && !(c->ssl && SSL_pending(c->ssl) > 0)) {
        struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
        int r;
        do {
            r = poll(&pfd, 1, timeout_ms);
        } while (r < 0 && errno == EINTR);
        if (r == 0)
            return -ETIMEDOUT;      /* not an error: nothing to read yet */
        if (r < 0)
            return vd_error_set_errno(errp, -errno, "waiting for %s", c->peer);
    }
    enum p2v_msg_type type;
    int ret = read_all(c, c->buf, P2V_HEADER_SIZE, errp);
    if (ret < 0)
        return ret;
    int len = p2v_header_decode(c->buf, &type, errp);
    if (len < 0)
        return len;
    ret = read_all(c, c->buf + P2V_HEADER_SIZE, (size_t)len, errp);
    if (ret < 0)
        return ret;
    return p2v_msg_decode(type, c->buf + P2V_HEADER_SIZE, (size_t)len, m, errp);
}

/* The bytes before a frame, in its allocation, that put the payload of a
 * CHUNK (after the frame header and the chunk's fixed fields) on a page. */
#define FRAME_PAGE 4096u
#define FRAME_LEAD (FRAME_PAGE - P2V_HEADER_SIZE - P2V_CHUNK_FIXED)

uint8_t *p2v_frame_alloc(void)
{
    void *base;
    if (posix_memalign(&base, FRAME_PAGE, FRAME_LEAD + P2V_HEADER_SIZE + P2V_MAX_BODY) != 0)
        return NULL;
    return (uint8_t *)base + FRAME_LEAD;
}

void p2v_frame_free(uint8_t *frame)
{
    if (frame)
        free(frame - FRAME_LEAD);
}

uint8_t *p2v_conn_swap_buffer(struct p2v_conn *c, uint8_t *fresh)
{
    uint8_t *old = c->buf;
    c->buf = fresh;
    return old;
}

void p2v_conn_send_error(struct p2v_conn *c, enum p2v_error_code code, const char *text)
{
    struct p2v_msg m = { .type = P2V_MSG_ERROR };
    m.u.error.code = (uint16_t)code;
    snprintf(m.u.error.text, sizeof(m.u.error.text), "%s", text);
    p2v_conn_send(c, &m, NULL);
}

const char *p2v_conn_peer(const struct p2v_conn *c)
{
    return c->peer;
}

uint64_t p2v_conn_bytes_sent(const struct p2v_conn *c)
{
    return c->sent;
}

void p2v_conn_close(struct p2v_conn *c)
{
    if (!c)
        return;
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    SSL_CTX_free(c->own_ctx);
    close(c->fd);
    p2v_frame_free(c->buf);
    free(c);
}
