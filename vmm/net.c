/* Network backends (see net.h): -nic parsing, libslirp user-mode networking,
 * TAP, and the pcap dump. The backend is polled by the machine's run loop
 * (host_poll): with a zero timeout between CPU slices, and instead of
 * sleeping while the guest halts, so a frame from the host wakes an idle
 * guest at once without any busy-waiting. */
#include "vmm/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <slirp/libslirp.h>

#include "vmm/machine.h"

#define NET_MAX_TIMERS 8

struct net_timer {
    bool used;
    SlirpTimerCb cb;
    void *cb_opaque;
    int64_t expire_ms;          /* INT64_MAX: not armed */
};

struct net_backend {
    struct machine *m;
    net_receive_fn *rx;
    void *rx_opaque;
    Slirp *slirp;
    int tap_fd;
    char tap_name[IFNAMSIZ];    /* as the kernel named it */
    FILE *dump;
    const char *dump_path;
    struct pollfd *pfd;
    int n_pfd, cap_pfd;
    struct net_timer timers[NET_MAX_TIMERS];
};

/* ---- -nic parsing ---- */

static bool parse_port(const char *s, size_t n, uint16_t *out)
{
    if (n == 0 || n > 5)
        return false;
    unsigned v = 0;
    for (size_t k = 0; k < n; k++) {
        if (s[k] < '0' || s[k] > '9')
            return false;
        v = v * 10 + (unsigned)(s[k] - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

static bool parse_addr(const char *s, size_t n, uint32_t *out)
{
    char buf[INET_ADDRSTRLEN];
    if (n == 0) {
        *out = 0;
        return true;
    }
    if (n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    struct in_addr a;
    if (inet_pton(AF_INET, buf, &a) != 1)
        return false;
    *out = ntohl(a.s_addr);
    return true;
}

/* [ADDR]:PORT from s[0..n) */
static bool parse_endpoint(const char *s, size_t n, uint32_t *addr, uint16_t *port)
{
    const char *colon = memchr(s, ':', n);
    if (!colon)
        return false;
    size_t an = (size_t)(colon - s);
    return parse_addr(s, an, addr) && parse_port(colon + 1, n - an - 1, port);
}

/* tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, as QEMU's hostfwd. */
static bool parse_hostfwd(const char *v, size_t n, struct net_hostfwd *f)
{
    memset(f, 0, sizeof *f);
    if (n > 4 && memcmp(v, "tcp:", 4) == 0) {
        v += 4, n -= 4;
    } else if (n > 4 && memcmp(v, "udp:", 4) == 0) {
        f->udp = true;
        v += 4, n -= 4;
    } else if (n > 0 && v[0] == ':') {
        v += 1, n -= 1;                         /* protocol omitted: tcp */
    } else {
        return false;
    }
    const char *dash = memchr(v, '-', n);
    if (!dash)
        return false;
    size_t hn = (size_t)(dash - v);
    return parse_endpoint(v, hn, &f->host_addr, &f->host_port)
        && parse_endpoint(dash + 1, n - hn - 1, &f->guest_addr, &f->guest_port);
}

static bool parse_mac(const char *v, size_t n, uint8_t mac[6])
{
    if (n != 17)
        return false;
    for (int k = 0; k < 6; k++) {
        unsigned hi, lo;
        char a = v[3 * k], b = v[3 * k + 1];
        if (k < 5 && v[3 * k + 2] != ':')
            return false;
        hi = a >= '0' && a <= '9' ? (unsigned)(a - '0') : a >= 'a' && a <= 'f' ? (unsigned)(a - 'a' + 10)
           : a >= 'A' && a <= 'F' ? (unsigned)(a - 'A' + 10) : 16;
        lo = b >= '0' && b <= '9' ? (unsigned)(b - '0') : b >= 'a' && b <= 'f' ? (unsigned)(b - 'a' + 10)
           : b >= 'A' && b <= 'F' ? (unsigned)(b - 'A' + 10) : 16;
        if (hi > 15 || lo > 15)
            return false;
        mac[k] = (uint8_t)(hi << 4 | lo);
    }
    return !(mac[0] & 1);                       /* a station address, not a group */
}

/* One option's KEY=VALUE list. OPT names the option in errors and decides
 * what it takes: "-nic" (TYPE first; the card and the backend), "-netdev"
 * (TYPE first, id=; the backend), "-device" (MODEL first, netdev=; the card). */
static int parse_opts(const char *opt, const char *spec, struct net_config *c, struct vd_error **errp)
{
    bool nic = strcmp(opt, "-nic") == 0, dev = strcmp(opt, "-device") == 0;
    const char *p = spec;
    bool first = true;
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *eq = memchr(p, '=', n);
        size_t kn = eq ? (size_t)(eq - p) : n;
        const char *v = eq ? eq + 1 : p + n;
        size_t vn = eq ? n - kn - 1 : 0;
#define KEY(k) (kn == sizeof(k) - 1 && memcmp(p, k, kn) == 0)
        if (first && !eq && !dev) {
            if (n == 4 && memcmp(p, "user", 4) == 0)
                c->kind = NET_USER;
            else if (n == 3 && memcmp(p, "tap", 3) == 0)
                c->kind = NET_TAP;
            else if (n == 4 && memcmp(p, "none", 4) == 0 && nic)
                c->kind = NET_NONE;
            else
                return vd_error_set(errp, -EINVAL, "%s: unknown network type '%.*s' (user, tap%s)",
                                    opt, (int)n, p, nic ? " or none" : "");
        } else if ((first && !eq && dev) || (KEY("model") && nic)) {
            if (!dev)
                p = v, n = vn;
            if (!(n == 5 && memcmp(p, "pcnet", 5) == 0) && !(n == 5 && memcmp(p, "tulip", 5) == 0))
                return vd_error_set(errp, -EINVAL, "%s: unknown card model '%.*s' (pcnet or tulip)",
                                    opt, (int)n, p);
            snprintf(c->model, sizeof c->model, "%.*s", (int)n, p);
            c->device = dev;
            n = (size_t)(v + vn - p);
        } else if (KEY("hostfwd") && !dev) {
            if (c->n_fwd == NET_MAX_HOSTFWD)
                return vd_error_set(errp, -EINVAL, "%s: more than %d hostfwd rules", opt, NET_MAX_HOSTFWD);
            if (!parse_hostfwd(v, vn, &c->fwd[c->n_fwd]))
                return vd_error_set(errp, -EINVAL,
                                    "%s: hostfwd '%.*s' is not tcp|udp:[HOSTADDR]:PORT-[GUESTADDR]:PORT",
                                    opt, (int)vn, v);
            c->n_fwd++;
        } else if (KEY("mac") && (nic || dev)) {
            if (!parse_mac(v, vn, c->mac))
                return vd_error_set(errp, -EINVAL, "%s: mac '%.*s' is not a unicast xx:xx:xx:xx:xx:xx",
                                    opt, (int)vn, v);
        } else if (KEY("bootfile") && !dev) {
            if (vn == 0 || vn >= sizeof c->bootfile)
                return vd_error_set(errp, -EINVAL, "%s: bootfile is empty or longer than %zu bytes",
                                    opt, sizeof c->bootfile - 1);
            snprintf(c->bootfile, sizeof c->bootfile, "%.*s", (int)vn, v);
        } else if (KEY("ifname") && !dev) {
            if (vn == 0 || vn >= sizeof c->ifname || vn >= IFNAMSIZ)
                return vd_error_set(errp, -EINVAL, "%s: ifname '%.*s' is empty or too long", opt, (int)vn, v);
            snprintf(c->ifname, sizeof c->ifname, "%.*s", (int)vn, v);
        } else if ((KEY("id") && !nic && !dev) || (KEY("netdev") && dev)) {
            char *dst = dev ? c->device_netdev : c->netdev_id;
            if (vn == 0 || vn >= sizeof c->netdev_id)
                return vd_error_set(errp, -EINVAL, "%s: %.*s is empty or too long", opt, (int)kn, p);
            snprintf(dst, sizeof c->netdev_id, "%.*s", (int)vn, v);
        } else {
            return vd_error_set(errp, -EINVAL, "%s: unknown option '%.*s'", opt, (int)n, p);
        }
#undef KEY
        first = false;
        p += n;
        if (*p == ',')
            p++;
    }
    if (first)
        return vd_error_set(errp, -EINVAL, "%s: empty argument", opt);
    if (c->n_fwd && c->kind != NET_USER)
        return vd_error_set(errp, -EINVAL, "%s: hostfwd needs the user network", opt);
    if (c->bootfile[0] && c->kind != NET_USER)
        return vd_error_set(errp, -EINVAL, "%s: bootfile needs the user network", opt);
    if (c->ifname[0] && c->kind != NET_TAP)
        return vd_error_set(errp, -EINVAL, "%s: ifname needs the tap network", opt);
    return 0;
}

static void defaults(struct net_config *c, bool card, bool backend)
{
    static const uint8_t default_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    if (card) {
        memcpy(c->mac, default_mac, 6);
        snprintf(c->model, sizeof c->model, "pcnet");
        c->device = false;
        c->device_netdev[0] = 0;
    }
    if (backend) {
        c->kind = NET_NONE;
        c->n_fwd = 0;
        c->ifname[0] = c->bootfile[0] = c->netdev_id[0] = 0;
    }
}

int net_parse_nic(const char *spec, struct net_config *c, struct vd_error **errp)
{
    defaults(c, true, true);
    return parse_opts("-nic", spec, c, errp);
}

int net_parse_netdev(const char *spec, struct net_config *c, struct vd_error **errp)
{
    bool card = c->device;
    defaults(c, !card, true);
    int r = parse_opts("-netdev", spec, c, errp);
    if (r == 0 && !c->netdev_id[0])
        r = vd_error_set(errp, -EINVAL, "-netdev: id= is required");
    return r;
}

int net_parse_device(const char *spec, struct net_config *c, struct vd_error **errp)
{
    defaults(c, true, false);
    int r = parse_opts("-device", spec, c, errp);
    if (r == 0 && !c->device_netdev[0])
        r = vd_error_set(errp, -EINVAL, "-device: netdev= is required");
    return r;
}

int net_config_check(const struct net_config *c, struct vd_error **errp)
{
    if (c->device && strcmp(c->device_netdev, c->netdev_id) != 0)
        return vd_error_set(errp, -EINVAL, "-device: netdev=%s names no -netdev", c->device_netdev);
    if (c->netdev_id[0] && !c->device)
        return vd_error_set(errp, -EINVAL, "-netdev id=%s: no -device pcnet|tulip uses it", c->netdev_id);
    return 0;
}

uint32_t net_crc32(const uint8_t *b, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t k = 0; k < n; k++) {
        crc ^= b[k];
        for (int i = 0; i < 8; i++)
            crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1));
    }
    return crc;
}

bool net_wants_model(const struct net_config *c, const char *model)
{
    return c && c->kind != NET_NONE && strcmp(c->model, model) == 0;
}

/* ---- pcap ---- */

static void put32le(uint8_t *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

static void dump_frame(struct net_backend *b, const uint8_t *frame, size_t len)
{
    if (!b->dump)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint8_t rec[16];
    put32le(rec, (uint32_t)ts.tv_sec);
    put32le(rec + 4, (uint32_t)(ts.tv_nsec / 1000));
    put32le(rec + 8, (uint32_t)len);
    put32le(rec + 12, (uint32_t)len);
    if (fwrite(rec, 1, sizeof rec, b->dump) != sizeof rec || fwrite(frame, 1, len, b->dump) != len) {
        /* One line, then no more dumping: the guest's network goes on. */
        fprintf(stderr, "vmm: cannot write the network dump %s: %s\n", b->dump_path, strerror(errno));
        fclose(b->dump);
        b->dump = NULL;
    }
}

static void deliver(struct net_backend *b, const uint8_t *frame, size_t len)
{
    if (len > NET_FRAME_MAX || len < 14)
        return;
    dump_frame(b, frame, len);
    b->rx(b->rx_opaque, frame, len);
}

/* ---- libslirp glue ---- */

static int64_t host_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static ssize_t slirp_send_cb(const void *buf, size_t len, void *opaque)
{
    deliver(opaque, buf, len);
    return (ssize_t)len;
}

static void slirp_guest_error(const char *msg, void *opaque)
{
    (void)msg, (void)opaque;        /* a malformed guest frame: dropped, as a wire would */
}

static int64_t slirp_clock(void *opaque)
{
    (void)opaque;
    return host_ns();
}

static void *slirp_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    struct net_backend *b = opaque;
    for (int k = 0; k < NET_MAX_TIMERS; k++) {
        if (!b->timers[k].used) {
            b->timers[k] = (struct net_timer){ true, cb, cb_opaque, INT64_MAX };
            return &b->timers[k];
        }
    }
    return NULL;
}

static void slirp_timer_free(void *timer, void *opaque)
{
    (void)opaque;
    if (timer)
        ((struct net_timer *)timer)->used = false;
}

static void slirp_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    (void)opaque;
    if (timer)
        ((struct net_timer *)timer)->expire_ms = expire_ms;
}

static void slirp_fd_noop(int fd, void *opaque)
{
    (void)fd, (void)opaque;
}

static void slirp_notify(void *opaque)
{
    (void)opaque;
}

static const SlirpCb slirp_cbs = {
    .send_packet = slirp_send_cb,
    .guest_error = slirp_guest_error,
    .clock_get_ns = slirp_clock,
    .timer_new = slirp_timer_new,
    .timer_free = slirp_timer_free,
    .timer_mod = slirp_timer_mod,
    .register_poll_fd = slirp_fd_noop,
    .unregister_poll_fd = slirp_fd_noop,
    .notify = slirp_notify,
};

static int add_pollfd(struct net_backend *b, int fd, short events)
{
    if (b->n_pfd == b->cap_pfd) {
        int cap = b->cap_pfd ? 2 * b->cap_pfd : 16;
        struct pollfd *p = realloc(b->pfd, (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        b->pfd = p;
        b->cap_pfd = cap;
    }
    b->pfd[b->n_pfd] = (struct pollfd){ .fd = fd, .events = events };
    return b->n_pfd++;
}

static int slirp_add_poll(int fd, int events, void *opaque)
{
    short ev = 0;
    if (events & SLIRP_POLL_IN)
        ev |= POLLIN;
    if (events & SLIRP_POLL_OUT)
        ev |= POLLOUT;
    if (events & SLIRP_POLL_PRI)
        ev |= POLLPRI;
    return add_pollfd(opaque, fd, ev);
}

static int slirp_get_revents(int idx, void *opaque)
{
    struct net_backend *b = opaque;
    if (idx < 0 || idx >= b->n_pfd)
        return 0;
    short r = b->pfd[idx].revents;
    int ev = 0;
    if (r & POLLIN)
        ev |= SLIRP_POLL_IN;
    if (r & POLLOUT)
        ev |= SLIRP_POLL_OUT;
    if (r & POLLPRI)
        ev |= SLIRP_POLL_PRI;
    if (r & (POLLERR | POLLNVAL))
        ev |= SLIRP_POLL_ERR;
    if (r & POLLHUP)
        ev |= SLIRP_POLL_HUP;
    return ev;
}

static int open_slirp(struct net_backend *b, const struct net_config *c, struct vd_error **errp)
{
    SlirpConfig cfg = {
        .version = 1,
        .in_enabled = true,
        .vnetwork.s_addr = htonl(0x0A000200),   /* 10.0.2.0/24, QEMU's numbers */
        .vnetmask.s_addr = htonl(0xFFFFFF00),
        .vhost.s_addr = htonl(0x0A000202),
        .vdhcp_start.s_addr = htonl(0x0A00020F),
        .vnameserver.s_addr = htonl(0x0A000203),
        .if_mtu = 1500,
        .if_mru = 1500,
        .bootfile = c->bootfile[0] ? c->bootfile : NULL,
    };
    b->slirp = slirp_new(&cfg, &slirp_cbs, b);
    if (!b->slirp)
        return vd_error_set(errp, -ENOMEM, "-nic user: libslirp did not start");
    for (int k = 0; k < c->n_fwd; k++) {
        const struct net_hostfwd *f = &c->fwd[k];
        struct in_addr host = { htonl(f->host_addr) };
        struct in_addr guest = { htonl(f->guest_addr ? f->guest_addr : 0x0A00020F) };
        if (slirp_add_hostfwd(b->slirp, f->udp, host, f->host_port, guest, f->guest_port) < 0)
            return vd_error_set(errp, -EADDRINUSE, "-nic: cannot forward host %s port %u (in use?)",
                                f->udp ? "UDP" : "TCP", f->host_port);
    }
    return 0;
}

/* ---- TAP ---- */

static int open_tap(struct net_backend *b, const struct net_config *c, struct vd_error **errp)
{
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return vd_error_set_errno(errp, -errno, "-nic tap: cannot open /dev/net/tun");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", c->ifname);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        return vd_error_set_errno(errp, -e, "-nic tap: cannot attach to TAP device '%s'",
                                  c->ifname[0] ? c->ifname : "(new)");
    }
    b->tap_fd = fd;
    memcpy(b->tap_name, ifr.ifr_name, IFNAMSIZ);
    b->tap_name[IFNAMSIZ - 1] = 0;
    return 0;
}

/* The device was deleted under us (ip link del): its descriptor then polls
 * as an error for ever, which would turn every idle wait of the run loop
 * into a busy loop. Say so once and unplug the cable; the guest runs on. */
static void tap_gone(struct net_backend *b)
{
    fprintf(stderr, "vmm: the TAP device '%s' went away: the network card is now unplugged\n", b->tap_name);
    close(b->tap_fd);
    b->tap_fd = -1;
}

static void tap_read(struct net_backend *b)
{
    uint8_t frame[65536];
    for (int k = 0; k < 64; k++) {          /* a bounded batch per poll */
        ssize_t n = read(b->tap_fd, frame, sizeof frame);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            tap_gone(b);
        if (n <= 0)
            return;
        deliver(b, frame, (size_t)n);
    }
}

/* ---- the backend ---- */

int net_backend_open(struct net_backend **out, struct machine *m, const struct net_config *c,
                     net_receive_fn *rx, void *opaque, struct vd_error **errp)
{
    struct net_backend *b = calloc(1, sizeof *b);
    if (!b)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    b->m = m;
    b->rx = rx;
    b->rx_opaque = opaque;
    b->tap_fd = -1;
    int r = c->kind == NET_TAP ? open_tap(b, c, errp) : open_slirp(b, c, errp);
    if (r == 0 && c->dump_path) {
        static const uint8_t hdr[24] = {
            0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0,     /* pcap 2.4, little-endian */
            0, 0, 0, 0, 0, 0, 0, 0,
            0xFF, 0xFF, 0, 0, 1, 0, 0, 0,           /* snaplen 65535, Ethernet */
        };
        b->dump_path = c->dump_path;
        b->dump = fopen(c->dump_path, "wb");
        if (!b->dump || fwrite(hdr, 1, sizeof hdr, b->dump) != sizeof hdr)
            r = vd_error_set_errno(errp, -errno, "cannot write the network dump %s", c->dump_path);
    }
    if (r < 0) {
        net_backend_close(b);
        return r;
    }
    m->host_poll = net_backend_poll;
    m->host_poll_opaque = b;
    *out = b;
    return 0;
}

void net_backend_send(struct net_backend *b, const uint8_t *frame, size_t len)
{
    if (len < 14 || len > NET_FRAME_MAX)
        return;
    dump_frame(b, frame, len);
    if (b->slirp)
        slirp_input(b->slirp, frame, (int)len);
    else if (b->tap_fd >= 0 && write(b->tap_fd, frame, len) < 0)
        return;                             /* a full TAP queue drops, as a busy wire would */
}

void net_backend_poll(void *opaque, uint64_t timeout_ns)
{
    struct net_backend *b = opaque;
    uint32_t ms = timeout_ns / 1000000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(timeout_ns / 1000000);
    b->n_pfd = 0;
    if (b->slirp)
        slirp_pollfds_fill(b->slirp, &ms, slirp_add_poll, b);
    int tap_idx = b->tap_fd >= 0 ? add_pollfd(b, b->tap_fd, POLLIN) : -1;
    int64_t now_ms = host_ns() / 1000000;
    uint64_t wait = timeout_ns < (uint64_t)ms * 1000000 ? timeout_ns : (uint64_t)ms * 1000000;
    for (int k = 0; k < NET_MAX_TIMERS; k++) {
        const struct net_timer *t = &b->timers[k];
        if (t->used && t->expire_ms != INT64_MAX) {
            uint64_t d = t->expire_ms > now_ms ? (uint64_t)(t->expire_ms - now_ms) * 1000000 : 0;
            if (d < wait)
                wait = d;
        }
    }
    struct timespec ts = { (time_t)(wait / 1000000000u), (long)(wait % 1000000000u) };
    int r = ppoll(b->pfd, (nfds_t)b->n_pfd, &ts, NULL);
    if (b->slirp)
        slirp_pollfds_poll(b->slirp, r < 0, slirp_get_revents, b);
    if (r > 0 && tap_idx >= 0 && (b->pfd[tap_idx].revents & POLLIN))
        tap_read(b);
    else if (r > 0 && tap_idx >= 0 && (b->pfd[tap_idx].revents & (POLLERR | POLLHUP | POLLNVAL)))
        tap_gone(b);
    now_ms = host_ns() / 1000000;
    for (int k = 0; k < NET_MAX_TIMERS; k++) {
        struct net_timer *t = &b->timers[k];
        if (t->used && t->expire_ms <= now_ms) {
            t->expire_ms = INT64_MAX;
            t->cb(t->cb_opaque);
        }
    }
}

void net_backend_close(struct net_backend *b)
{
    if (!b)
        return;
    if (b->m && b->m->host_poll_opaque == b) {
        b->m->host_poll = NULL;
        b->m->host_poll_opaque = NULL;
    }
    if (b->slirp)
        slirp_cleanup(b->slirp);
    if (b->tap_fd >= 0)
        close(b->tap_fd);
    if (b->dump && fclose(b->dump) != 0)
        fprintf(stderr, "vmm: cannot write the network dump %s: %s\n", b->dump_path, strerror(errno));
    free(b->pfd);
    free(b);
}
