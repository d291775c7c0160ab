/* Host keyboard input: US key map (set 1 scan codes) and --send-keys. */
#include "vmm/input.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vmm/hw/i8042.h"
#include "vmm/hw/vga.h"
#include "vmm/machine.h"

/* Rows of the US layout: characters unshifted and shifted, from code. */
static const struct {
    uint8_t first;
    const char *plain, *shifted;
} rows[] = {
    { 0x02, "1234567890-=", "!@#$%^&*()_+" },
    { 0x10, "qwertyuiop[]", "QWERTYUIOP{}" },
    { 0x1E, "asdfghjkl;'`", "ASDFGHJKL:\"~" },
    { 0x2B, "\\zxcvbnm,./", "|ZXCVBNM<>?" },
};

static const struct {
    const char *name;
    uint8_t code;
    bool extended;
} named[] = {
    { "enter", 0x1C, false }, { "ret", 0x1C, false }, { "esc", 0x01, false },
    { "tab", 0x0F, false }, { "bs", 0x0E, false }, { "backspace", 0x0E, false },
    { "space", 0x39, false }, { "spc", 0x39, false },
    { "f1", 0x3B, false }, { "f2", 0x3C, false }, { "f3", 0x3D, false }, { "f4", 0x3E, false },
    { "f5", 0x3F, false }, { "f6", 0x40, false }, { "f7", 0x41, false }, { "f8", 0x42, false },
    { "f9", 0x43, false }, { "f10", 0x44, false }, { "f11", 0x57, false }, { "f12", 0x58, false },
    { "up", 0x48, true }, { "down", 0x50, true }, { "left", 0x4B, true }, { "right", 0x4D, true },
    { "home", 0x47, true }, { "end", 0x4F, true }, { "pgup", 0x49, true }, { "pgdn", 0x51, true },
    { "ins", 0x52, true }, { "insert", 0x52, true },
    { "del", 0x53, true }, { "delete", 0x53, true },
    { "shift", KEY_LSHIFT, false }, { "ctrl", KEY_LCTRL, false }, { "alt", KEY_LALT, false },
};

bool input_char_key(unsigned char c, struct pc_key *key, bool *shift)
{
    key->extended = false;
    *shift = false;
    switch (c) {
    case ' ': key->code = 0x39; return true;
    case '\n': case '\r': key->code = 0x1C; return true;
    case '\t': key->code = 0x0F; return true;
    case '\b': key->code = 0x0E; return true;
    case 0x1B: key->code = 0x01; return true;
    default: break;
    }
    if (!c)
        return false;
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        const char *p = strchr(rows[r].plain, c);
        if (!p && (p = strchr(rows[r].shifted, c)) != NULL)
            *shift = true;
        if (p) {
            const char *base = *shift ? rows[r].shifted : rows[r].plain;
            key->code = (uint8_t)(rows[r].first + (p - base));
            return true;
        }
    }
    return false;
}

bool input_keysym_key(uint32_t keysym, struct pc_key *key)
{
    bool shift;
    if (keysym >= 0x20 && keysym < 0x7F)
        return input_char_key((unsigned char)keysym, key, &shift);
    static const struct { uint32_t sym; uint8_t code; bool ext; } syms[] = {
        { 0xFF08, 0x0E, false }, { 0xFF09, 0x0F, false }, { 0xFF0D, 0x1C, false },
        { 0xFF1B, 0x01, false }, { 0xFF50, 0x47, true }, { 0xFF51, 0x4B, true },
        { 0xFF52, 0x48, true }, { 0xFF53, 0x4D, true }, { 0xFF54, 0x50, true },
        { 0xFF55, 0x49, true }, { 0xFF56, 0x51, true }, { 0xFF57, 0x4F, true },
        { 0xFF63, 0x52, true }, { 0xFFFF, 0x53, true }, { 0xFF8D, 0x1C, true },
        { 0xFFE1, 0x2A, false }, { 0xFFE2, 0x36, false }, { 0xFFE3, 0x1D, false },
        { 0xFFE4, 0x1D, true }, { 0xFFE9, 0x38, false }, { 0xFFEA, 0x38, true },
        { 0xFFE7, 0x38, false }, { 0xFFE8, 0x38, true }, { 0xFFE5, 0x3A, false },
        { 0xFFEB, 0x5B, true }, { 0xFFEC, 0x5C, true },
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        if (syms[i].sym == keysym) {
            key->code = syms[i].code;
            key->extended = syms[i].ext;
            return true;
        }
    }
    if (keysym >= 0xFFBE && keysym <= 0xFFC9) {         /* F1-F12 */
        unsigned f = keysym - 0xFFBE;
        key->code = (uint8_t)(f < 10 ? 0x3B + f : 0x57 + (f - 10));
        key->extended = false;
        return true;
    }
    return false;
}

int input_key_codes(struct pc_key key, bool down, uint8_t out[4])
{
    int n = 0;
    if (key.extended)
        out[n++] = 0xE0;
    out[n++] = (uint8_t)(down ? key.code : key.code | 0x80);
    return n;
}

/* ---- --send-keys ---- */

#define TEXT_MAX 200
#define TICK_NS 10000000u               /* one scan code event per 10 ms */
#define SCREEN_EVERY 10                 /* look at the screen every 10 ticks */

struct sk_event {
    struct pc_key key;
    bool down;
};

struct sk_step {
    double delay;                       /* seconds after the previous step */
    char *text;                         /* NULL, or wait for it */
    struct sk_event *ev;
    int n_ev;
    char *spec;                         /* for the report */
};

struct sendkeys {
    struct sk_step *steps;
    int n_steps;
    struct machine *m;
    struct i8042 *kbd;
    int timer;
    int cur, cur_ev;                    /* step and event typing now */
    bool waiting;                       /* cur's trigger has not happened */
    uint64_t step_start_ns;
    unsigned ticks;
    char tail[2][TEXT_MAX];             /* last bytes of each serial port */
    size_t tail_len[2];
};

static int add_event(struct sk_step *st, struct pc_key key, bool down)
{
    struct sk_event *ev = realloc(st->ev, (size_t)(st->n_ev + 1) * sizeof *ev);
    if (!ev)
        return -ENOMEM;
    st->ev = ev;
    ev[st->n_ev++] = (struct sk_event){ key, down };
    return 0;
}

static int add_tap(struct sk_step *st, const struct pc_key *mods, int n_mods, struct pc_key key)
{
    int r = 0;
    for (int i = 0; i < n_mods && !r; i++)
        r = add_event(st, mods[i], true);
    if (!r)
        r = add_event(st, key, true);
    if (!r)
        r = add_event(st, key, false);
    for (int i = n_mods - 1; i >= 0 && !r; i--)
        r = add_event(st, mods[i], false);
    return r;
}

/* <name> or <mod-mod-name>; NAME is the text between the brackets. */
static int parse_named(struct sk_step *st, const char *name, size_t len, struct vd_error **errp)
{
    struct pc_key mods[3];
    int n_mods = 0;
    char buf[40];
    if (len == 0 || len >= sizeof buf)
        return vd_error_set(errp, -EINVAL, "--send-keys: no key named <%.*s>", (int)len, name);
    memcpy(buf, name, len);
    buf[len] = 0;
    if (strcmp(buf, "lt") == 0) {
        struct pc_key k;
        bool shift;
        input_char_key('<', &k, &shift);
        struct pc_key sh = { KEY_LSHIFT, false };
        return add_tap(st, &sh, 1, k);
    }
    char *part = buf;
    for (;;) {
        char *dash = strchr(part, '-');
        if (dash && dash[1])
            *dash = 0;
        else
            dash = NULL;
        struct pc_key k;
        bool found = false, shift = false;
        for (size_t i = 0; i < sizeof named / sizeof named[0] && !found; i++) {
            if (strcasecmp(part, named[i].name) == 0) {
                k = (struct pc_key){ named[i].code, named[i].extended };
                found = true;
            }
        }
        if (!found && part[0] && !part[1])
            found = input_char_key((unsigned char)part[0], &k, &shift);
        if (!found)
            return vd_error_set(errp, -EINVAL, "--send-keys: no key named <%.*s>", (int)len, name);
        if (!dash) {
            if (shift && n_mods < 3)
                mods[n_mods++] = (struct pc_key){ KEY_LSHIFT, false };
            int r = add_tap(st, mods, n_mods, k);
            return r ? vd_error_set(errp, r, "--send-keys: out of memory") : 0;
        }
        if (n_mods == 3)
            return vd_error_set(errp, -EINVAL, "--send-keys: too many modifiers in <%.*s>",
                                (int)len, name);
        mods[n_mods++] = k;
        part = dash + 1;
    }
}

static int parse_spec(struct sendkeys *sk, const char *spec, struct vd_error **errp)
{
    struct sk_step st = { 0 };
    const char *p = spec;
    int r = 0;
    char *end;
    if (p[0] == '/') {
        const char *close = strchr(p + 1, '/');
        if (!close || close == p + 1 || close - p - 1 >= TEXT_MAX)
            return vd_error_set(errp, -EINVAL, "--send-keys '%s': /TEXT/ wants a closing '/' "
                                "and 1 to %d characters", spec, TEXT_MAX - 1);
        st.text = strndup(p + 1, (size_t)(close - p - 1));
        if (!st.text)
            return vd_error_set(errp, -ENOMEM, "--send-keys: out of memory");
        p = close + 1;
    } else if (p[0] >= '0' && p[0] <= '9' && (st.delay = strtod(p, &end), *end == ':')) {
        if (!(st.delay >= 0) || st.delay > 1e6)
            return vd_error_set(errp, -EINVAL, "--send-keys '%s': a wrong delay", spec);
        p = end + 1;
    } else {
        st.delay = 0;
    }
    for (; *p && !r; p++) {
        if (*p == '<') {
            const char *close = strchr(p, '>');
            if (!close) {
                r = vd_error_set(errp, -EINVAL, "--send-keys '%s': '<' without '>' (<lt> types "
                                 "a '<')", spec);
                break;
            }
            r = parse_named(&st, p + 1, (size_t)(close - p - 1), errp);
            p = close;
            continue;
        }
        struct pc_key k;
        bool shift;
        if (!input_char_key((unsigned char)*p, &k, &shift)) {
            r = vd_error_set(errp, -EINVAL, "--send-keys '%s': no key types the byte 0x%02X",
                             spec, (unsigned char)*p);
            break;
        }
        struct pc_key sh = { KEY_LSHIFT, false };
        r = add_tap(&st, &sh, shift ? 1 : 0, k);
        if (r)
            vd_error_set(errp, r, "--send-keys: out of memory");
    }
    if (!r) {
        struct sk_step *steps = realloc(sk->steps, (size_t)(sk->n_steps + 1) * sizeof *steps);
        if (steps)
            sk->steps = steps;
        st.spec = strdup(spec);
        if (!steps || !st.spec)
            r = vd_error_set(errp, -ENOMEM, "--send-keys: out of memory");
    }
    if (r) {
        free(st.text);
        free(st.ev);
        free(st.spec);
        return r;
    }
    sk->steps[sk->n_steps++] = st;
    return 0;
}

static int add_file(struct sendkeys *sk, const char *path, struct vd_error **errp)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return vd_error_set_errno(errp, -errno, "--send-keys: cannot open %s", path);
    char line[1024];
    int r = 0, n = 0;
    while (!r && fgets(line, sizeof line, f)) {
        n++;
        size_t len = strlen(line);
        if (len && line[len - 1] != '\n' && !feof(f)) {
            r = vd_error_set(errp, -EINVAL, "--send-keys: %s line %d is too long", path, n);
            break;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (len == 0 || line[0] == '#')
            continue;
        r = parse_spec(sk, line, errp);
    }
    if (!r && ferror(f))
        r = vd_error_set_errno(errp, -EIO, "--send-keys: cannot read %s", path);
    fclose(f);
    return r;
}

int sendkeys_add(struct sendkeys **skp, const char *spec, struct vd_error **errp)
{
    if (!*skp) {
        *skp = calloc(1, sizeof **skp);
        if (!*skp)
            return vd_error_set(errp, -ENOMEM, "--send-keys: out of memory");
        (*skp)->timer = -1;
    }
    if (spec[0] == '@')
        return add_file(*skp, spec + 1, errp);
    return parse_spec(*skp, spec, errp);
}

static void start_step(struct sendkeys *sk, uint64_t now)
{
    sk->cur_ev = 0;
    sk->waiting = true;
    sk->step_start_ns = now;
    sk->tail_len[0] = sk->tail_len[1] = 0;
}

/* The screen's rows lose their trailing blanks: so does TEXT here (a
 * prompt "login: " is on the screen as "login:" at the end of its row). */
static bool screen_has(struct sendkeys *sk, const char *text)
{
    static char screen[16384];
    struct vga *vga = vga_of(sk->m);
    if (!vga || vga_screen_text(vga, screen, sizeof screen) == 0)
        return false;
    size_t n = strlen(text);
    while (n > 1 && text[n - 1] == ' ')
        n--;
    for (const char *p = screen; (p = strchr(p, text[0])) != NULL; p++)
        if (strncmp(p, text, n) == 0)
            return true;
    return false;
}

static void tick(void *opaque, uint64_t now)
{
    struct sendkeys *sk = opaque;
    sk->ticks++;
    while (sk->cur < sk->n_steps) {
        struct sk_step *st = &sk->steps[sk->cur];
        if (sk->waiting) {
            if (st->text) {
                if (sk->ticks % SCREEN_EVERY == 0 && screen_has(sk, st->text))
                    sk->waiting = false;
            } else if (now - sk->step_start_ns >= (uint64_t)(st->delay * 1e9)) {
                sk->waiting = false;
            }
            if (sk->waiting)
                break;
        }
        if (sk->cur_ev < st->n_ev) {
            if (!i8042_kbd_idle(sk->kbd))
                break;
            uint8_t codes[4];
            const struct sk_event *ev = &st->ev[sk->cur_ev++];
            i8042_kbd_input(sk->kbd, codes, input_key_codes(ev->key, ev->down, codes));
            break;
        }
        sk->cur++;
        start_step(sk, now);
    }
    if (sk->cur < sk->n_steps)
        machine_timer_arm(sk->m, sk->timer, now + TICK_NS);
}

int sendkeys_attach(struct sendkeys *sk, struct machine *m, struct vd_error **errp)
{
    sk->m = m;
    sk->kbd = i8042_of(m);
    if (!sk->kbd)
        return vd_error_set(errp, -ENODEV, "--send-keys: the machine has no keyboard controller");
    sk->timer = machine_timer_new(m, tick, sk);
    if (sk->timer < 0)
        return vd_error_set(errp, -ENOSPC, "--send-keys: no free machine timer");
    start_step(sk, 0);
    machine_timer_arm(m, sk->timer, TICK_NS);
    return 0;
}

void sendkeys_serial_byte(struct sendkeys *sk, int port, uint8_t byte)
{
    if (!sk || port < 0 || port > 1 || sk->cur >= sk->n_steps || !sk->waiting)
        return;
    const char *text = sk->steps[sk->cur].text;
    if (!text)
        return;
    char *t = sk->tail[port];
    size_t *len = &sk->tail_len[port];
    if (*len == TEXT_MAX) {
        memmove(t, t + 1, TEXT_MAX - 1);
        (*len)--;
    }
    t[(*len)++] = (char)byte;
    size_t n = strlen(text);
    if (*len >= n && memcmp(t + *len - n, text, n) == 0)
        sk->waiting = false;
}

void sendkeys_report(const struct sendkeys *sk, char *buf, size_t len)
{
    if (!sk || sk->cur >= sk->n_steps)
        snprintf(buf, len, "%s", "");
    else
        snprintf(buf, len, "--send-keys '%s' was %s", sk->steps[sk->cur].spec,
                 sk->waiting ? "still waiting" : "being typed");
}

void sendkeys_destroy(struct sendkeys *sk)
{
    if (!sk)
        return;
    for (int i = 0; i < sk->n_steps; i++) {
        free(sk->steps[i].text);
        free(sk->steps[i].ev);
        free(sk->steps[i].spec);
    }
    free(sk->steps);
    free(sk);
}
