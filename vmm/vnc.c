/* VNC server (libvncserver) and live screen files, serviced from a machine
 * timer: rfbProcessEvents with a zero timeout never blocks the guest, and
 * a halted guest sleeps until the next tick instead of spinning. */
#include "vmm/vnc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <rfb/rfb.h>

#include "vmm/hw/i8042.h"
#include "vmm/hw/vga.h"
#include "vmm/input.h"
#include "vmm/machine.h"

#define TICK_NS 20000000u               /* input: 50 times a second */
#define SCREEN_EVERY 5                  /* the frame: 10 times a second (a render costs) */
#define FILES_EVERY 50                  /* live files: once a second */
#define KEYQ 4096                       /* scan code bytes typed ahead of the guest */

struct vnc {
    struct vnc_config cfg;
    struct machine *m;
    struct vga *vga;
    struct i8042 *kbd;
    int timer;
    unsigned ticks;
    rfbScreenInfoPtr screen;            /* NULL: no server */
    int unix_fd;                        /* listening Unix socket, or -1 */
    char *unix_path;
    uint8_t *fb;                        /* what the clients see, RGBX */
    int w, h;
    /* Keys wait here for the guest to read the previous one: a client
     * sends a whole line faster than the controller's buffer takes it. */
    uint8_t keyq[KEYQ];
    uint8_t keyq_len[KEYQ];             /* bytes of the event starting here (0: not a start) */
    int kq_head, kq_len;
    int mouse_x, mouse_y;
    bool mouse_seen;
};

static void quiet(const char *fmt, ...)
{
    (void)fmt;
}

int vnc_parse(const char *listen, struct vd_error **errp)
{
    if (strncmp(listen, "unix:", 5) == 0) {
        struct sockaddr_un sa;
        if (!listen[5] || strlen(listen + 5) >= sizeof sa.sun_path)
            return vd_error_set(errp, -EINVAL, "--vnc unix:PATH wants a path of 1 to %zu bytes",
                                sizeof sa.sun_path - 1);
        return 0;
    }
    char *end;
    long n = listen[0] == ':' ? strtol(listen + 1, &end, 10) : -1;
    if (listen[0] != ':' || end == listen + 1 || *end || n < 0 || n > 99)
        return vd_error_set(errp, -EINVAL, "--vnc wants :N (display N on 127.0.0.1, port "
                            "5900+N, N up to 99) or unix:PATH, not '%s'", listen);
    return 0;
}

static void key_event(rfbBool down, rfbKeySym sym, rfbClientPtr cl)
{
    struct vnc *v = cl->screen->screenData;
    struct pc_key key;
    if (!input_keysym_key(sym, &key))
        return;
    uint8_t codes[4];
    int n = input_key_codes(key, down, codes);
    if (v->kq_len + n > KEYQ)
        return;                         /* typed too far ahead: dropped */
    int tail = (v->kq_head + v->kq_len) % KEYQ;
    for (int i = 0; i < n; i++) {
        int at = (tail + i) % KEYQ;
        v->keyq[at] = codes[i];
        v->keyq_len[at] = (uint8_t)(i == 0 ? n : 0);
    }
    v->kq_len += n;
}

static void pointer_event(int mask, int x, int y, rfbClientPtr cl)
{
    struct vnc *v = cl->screen->screenData;
    if (!v->mouse_seen) {
        v->mouse_x = x;
        v->mouse_y = y;
        v->mouse_seen = true;
    }
    /* RFB buttons: 1 left, 2 middle, 4 right; PS/2: 1 left, 2 right, 4 middle. */
    unsigned buttons = (mask & 1) | ((mask & 4) ? 2 : 0) | ((mask & 2) ? 4 : 0);
    i8042_mouse_input(v->kbd, x - v->mouse_x, v->mouse_y - y, buttons);
    v->mouse_x = x;
    v->mouse_y = y;
}

/* Moves the next queued key event into the controller when it is idle. */
static void feed_keys(struct vnc *v)
{
    if (!v->kq_len || !i8042_kbd_idle(v->kbd))
        return;
    int n = v->keyq_len[v->kq_head];
    uint8_t codes[4];
    for (int i = 0; i < n; i++)
        codes[i] = v->keyq[(v->kq_head + i) % KEYQ];
    v->kq_head = (v->kq_head + n) % KEYQ;
    v->kq_len -= n;
    i8042_kbd_input(v->kbd, codes, n);
}

/* Renders the screen into the framebuffer and tells the clients what changed. */
static void update_screen(struct vnc *v)
{
    int w, h;
    uint8_t *img = vga_render(v->vga, &w, &h);
    if (!img)
        return;                         /* a mode vmm does not render: the last frame stays */
    if (w != v->w || h != v->h) {
        uint8_t *fb = calloc((size_t)w * (size_t)h, 4);
        if (!fb) {
            free(img);
            return;
        }
        rfbNewFramebuffer(v->screen, (char *)fb, w, h, 8, 3, 4);
        free(v->fb);
        v->fb = fb;
        v->w = w;
        v->h = h;
        for (size_t i = 0; i < (size_t)w * (size_t)h; i++)
            memcpy(fb + i * 4, img + i * 3, 3);
        rfbMarkRectAsModified(v->screen, 0, 0, w, h);
        free(img);
        return;
    }
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            uint8_t *d = v->fb + ((size_t)y * (size_t)w + (size_t)x) * 4;
            const uint8_t *s = img + ((size_t)y * (size_t)w + (size_t)x) * 3;
            if (d[0] == s[0] && d[1] == s[1] && d[2] == s[2])
                continue;
            memcpy(d, s, 3);
            x0 = x < x0 ? x : x0;
            x1 = x > x1 ? x : x1;
            y0 = y < y0 ? y : y0;
            y1 = y;
        }
    }
    if (x1 >= 0)
        rfbMarkRectAsModified(v->screen, x0, y0, x1 + 1, y1 + 1);
    free(img);
}

static void accept_unix(struct vnc *v)
{
    for (;;) {
        int fd = accept4(v->unix_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            return;
        rfbNewClient(v->screen, fd);
    }
}

/* Writes PATH through PATH.part and a rename: a reader never sees half a file. */
static void write_live_files(struct vnc *v)
{
    char tmp[4096];
    const char *shot = v->cfg.screenshot, *dump = v->cfg.screen_dump;
    if (shot && snprintf(tmp, sizeof tmp, "%s.part", shot) < (int)sizeof tmp) {
        struct vd_error *err = NULL;
        if (vga_screenshot(v->vga, tmp, &err) == 0)
            rename(tmp, shot);
        else
            unlink(tmp);
        vd_error_free(err);
    }
    if (dump && snprintf(tmp, sizeof tmp, "%s.part", dump) < (int)sizeof tmp) {
        static char text[16384];
        if (vga_screen_text(v->vga, text, sizeof text) == 0)
            snprintf(text, sizeof text, "(the display is in a graphics mode)\n");
        FILE *f = fopen(tmp, "w");
        bool ok = f && fputs(text, f) != EOF;
        if (f && fclose(f) != 0)
            ok = false;
        if (ok)
            rename(tmp, dump);
        else
            unlink(tmp);
    }
}

/* A client learns the size in ServerInit and asks for size changes in
 * SetEncodings, a few messages later: a mode change in between would go
 * untold. Every client that takes DesktopSize is told the size once. */
static void tell_sizes(struct vnc *v)
{
    static char told;
    rfbClientIteratorPtr it = rfbGetClientIterator(v->screen);
    rfbClientPtr cl;
    while ((cl = rfbClientIteratorNext(it)) != NULL) {
        if (cl->useNewFBSize && cl->clientData != &told) {
            cl->newFBSizePending = TRUE;
            cl->clientData = &told;
        }
    }
    rfbReleaseClientIterator(it);
}

static void tick(void *opaque, uint64_t now)
{
    struct vnc *v = opaque;
    v->ticks++;
    if (v->screen) {
        if (v->unix_fd >= 0)
            accept_unix(v);
        rfbProcessEvents(v->screen, 0);
        feed_keys(v);
        if (v->screen->clientHead && v->ticks % SCREEN_EVERY == 0) {
            update_screen(v);
            tell_sizes(v);
        }
    }
    if (v->ticks % FILES_EVERY == 0)
        write_live_files(v);
    /* Typed-ahead keys go in as fast as the guest reads them. */
    machine_timer_arm(v->m, v->timer, now + (v->kq_len ? TICK_NS / 4 : TICK_NS));
}

static int listen_unix(struct vnc *v, const char *path, struct vd_error **errp)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    memcpy(sa.sun_path, path, strlen(path) + 1);
    struct stat st;
    /* A socket left by an earlier run goes; any other file stays. */
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return vd_error_set(errp, -EEXIST, "--vnc: %s exists and is not a socket", path);
        unlink(path);
    }
    v->unix_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (v->unix_fd < 0)
        return vd_error_set_errno(errp, -errno, "--vnc: cannot create a socket");
    if (bind(v->unix_fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(v->unix_fd, 4) < 0)
        return vd_error_set_errno(errp, -errno, "--vnc: cannot listen on %s", path);
    v->unix_path = strdup(path);
    return 0;
}

int vnc_start(struct vnc **out, const struct vnc_config *cfg, struct machine *m,
              struct vd_error **errp)
{
    *out = NULL;
    struct vnc *v = calloc(1, sizeof *v);
    if (!v)
        return vd_error_set(errp, -ENOMEM, "vnc: out of memory");
    v->cfg = *cfg;
    v->m = m;
    v->unix_fd = -1;
    v->vga = vga_of(m);
    v->kbd = i8042_of(m);
    int r = 0;
    if (!v->vga)
        r = vd_error_set(errp, -ENODEV, "%s", cfg->listen ? "--vnc: the machine has no VGA"
                         : "no live screen: the machine has no VGA");
    else if (cfg->listen && !v->kbd)
        r = vd_error_set(errp, -ENODEV, "--vnc: the machine has no keyboard controller");
    if (!r && cfg->listen) {
        rfbLog = quiet;
        rfbErr = quiet;
        /* libvncserver reads and writes a message whole, waiting for a slow
         * client: the guest stops meanwhile, so a stuck client is dropped
         * after 1 s instead of the default 20. */
        rfbMaxClientWait = 1000;
        int argc = 0;
        v->w = 720;
        v->h = 400;
        v->fb = calloc((size_t)v->w * (size_t)v->h, 4);
        v->screen = v->fb ? rfbGetScreen(&argc, NULL, v->w, v->h, 8, 3, 4) : NULL;
        if (!v->screen) {
            r = vd_error_set(errp, -ENOMEM, "vnc: out of memory");
        } else {
            v->screen->frameBuffer = (char *)v->fb;
            v->screen->desktopName = "vmm";
            v->screen->screenData = v;
            v->screen->kbdAddEvent = key_event;
            v->screen->ptrAddEvent = pointer_event;
            v->screen->alwaysShared = TRUE;
            /* No cursor drawn into the frame: the guest draws its own. */
            v->screen->cursor = NULL;
            v->screen->autoPort = FALSE;
            v->screen->ipv6port = 0;
            v->screen->httpPort = 0;
            if (strncmp(cfg->listen, "unix:", 5) == 0) {
                v->screen->port = 0;        /* no TCP at all */
                r = listen_unix(v, cfg->listen + 5, errp);
            } else {
                v->screen->port = 5900 + atoi(cfg->listen + 1);
                v->screen->listenInterface = htonl(INADDR_LOOPBACK);
            }
            if (!r) {
                rfbInitServer(v->screen);
                if (!v->unix_path && v->screen->listenSock == RFB_INVALID_SOCKET)
                    r = vd_error_set(errp, -EADDRINUSE, "--vnc: cannot listen on 127.0.0.1:%d",
                                     v->screen->port);
            }
        }
    }
    if (!r && (v->timer = machine_timer_new(m, tick, v)) < 0)
        r = vd_error_set(errp, -ENOSPC, "vnc: no free machine timer");
    if (r) {
        vnc_stop(v);
        return r;
    }
    machine_timer_arm(m, v->timer, TICK_NS);
    *out = v;
    return 0;
}

void vnc_stop(struct vnc *v)
{
    if (!v)
        return;
    if (v->screen) {
        rfbShutdownServer(v->screen, TRUE);
        rfbScreenCleanup(v->screen);
    }
    if (v->unix_fd >= 0)
        close(v->unix_fd);
    if (v->unix_path)
        unlink(v->unix_path);
    free(v->unix_path);
    free(v->fb);
    free(v);
}
