/* The verdict engine (see verdict.h). Serial output is cut into lines with
 * ANSI escape sequences removed; each complete line, the line in progress
 * (prompts have no newline) and each screen row are matched against the
 * patterns of the rule table. Hang detection samples the CPU: halted with
 * interrupts off is a hang at once; still spinning in the same few hundred
 * bytes of code with interrupts off and no output when the timeout comes
 * (for at least HANG_NS) is a hang too.
 *
 * Windows 2000, XP and 2003 draw their STOP screen through bootvid.dll in
 * VGA mode 12h, not as text: a graphics screen mostly filled with one
 * blue colour (judged from the DAC, since bootvid loads its own palette in
 * which index 4 is blue) with light text on it is a graphical STOP screen.
 * bootvid's font is Microsoft's, so the text is not read off the pixels:
 * KeBugCheckEx formats "*** STOP: 0x%08X (0x%08X,...)" into a buffer
 * before handing it to InbvDisplayString, and a machine sitting on the
 * blue screen leaves that buffer in RAM, so guest RAM is searched for the
 * line (ANSI and UTF-16LE) and parsed with the text-screen pattern; the
 * unformatted format string itself does not match it. NOT VERIFIED
 * against a real Windows guest (none can be booted here: no install
 * media); the tests use synthetic mode 12h screens. */
#include "vmm/verdict.h"

#include <errno.h>
#include <stdarg.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "vmm/cpu/cpu.h"
#include "vmm/hw/vga.h"

#define LINE_MAX_LEN 512
#define SAMPLE_NS 100000000u            /* screen and CPU every 100 ms */
#define PROMPT_IDLE_NS 1000000000u      /* a prompt waits for input: 1 s without output */
#define HANG_NS 5000000000ull           /* a spin this long when the timeout comes is a hang */
#define SPIN_WINDOW 256u                /* EIP within this many bytes: the same loop */
#define SCREEN_BYTES 16384
#define BLUE_GRID_X 40                  /* coarse sample for the blue fill */
#define BLUE_GRID_Y 30
#define BLUE_SHARE_PCT 60               /* of the coarse sample in one blue colour */
#define LIGHT_MIN 64                    /* light pixels (on every other line) that make text */
#define BLUE_STABLE_NS 1000000000ull    /* a STOP screen stays: unchanged this long before RAM is searched */
#define BLUE_IDLE_INSNS 20000u          /* fewer between samples at one EIP: the CPU waits in HLT */
#define BLUE_BUSY_INSNS 20000000u       /* or this many since the change: a loop that draws nothing */
#define BLUE_SETTLE_NS 10000000000ull   /* no STOP line in RAM: the screen must stay this long */
#define STOP_LINE_MAX 200
#define BOOT_SECTOR 0x7C00u             /* where the BIOS loads the boot sector */
#define BOOT_CODE_BYTES 440u            /* its code, before the disk signature and partition table */

struct serial_line {
    char buf[LINE_MAX_LEN];
    size_t len;
    int esc;                            /* 0 none, 1 after ESC, 2 inside CSI */
    uint64_t last_byte_ns;
};

struct verdict {
    regex_t expect;
    bool have_expect;
    regex_t rule_re[VERDICT_KIND_COUNT];     /* the table's patterns, compiled */
    bool boot_handed_over;              /* the BIOS said "Booting from ..." */
    struct machine *m;
    int timer;
    struct serial_line line[2];
    enum verdict_kind kind;
    char detail[320];
    uint64_t last_output_ns;
    /* Spin detection. */
    bool spinning;
    uint32_t spin_eip, spin_cs, spin_base;
    uint64_t spin_since_ns;
    /* Graphical STOP screen: shown on the last sample, since when
     * unchanged (a hash of its pixels), RAM searched for this one; the
     * CPU since then: instructions and EIP at the last sample, idle on
     * every sample. */
    bool blue_shown, blue_searched, blue_idle;
    uint64_t blue_hash, blue_since_ns, blue_since_insns, blue_insns;
    uint32_t blue_eip;
    char screen[SCREEN_BYTES];
};

/* Where a rule's pattern is looked for. */
enum {
    ON_SERIAL = 1,      /* each line on COM1/COM2, and the line in progress once quiet */
    ON_SCREEN = 2,      /* each row of the text screen */
    ON_PROMPT = 4,      /* a serial line in progress that waits for input (1 s quiet) */
    ON_TEXT = ON_SERIAL | ON_SCREEN,
};

/* The verdict rules, one row per kind: its name, the text that gives it (a
 * POSIX extended regular expression, compiled and checked by
 * verdict_create), where that text is looked for, and who prints it (the
 * detail says "WHO: 'line'"). After --expect, the failure rules are tried
 * in this order, the prompt last; a kind without a pattern is decided by
 * code (the CPU, the machine, the graphical screen, the boot sector in
 * RAM). A new kind is a value in enum verdict_kind, one row here and a
 * test with a disk that gives it (tests/vmm/verdicts.sh). */
struct verdict_rule {
    const char *name;
    const char *pattern;
    unsigned where;
    const char *who;
};

static const struct verdict_rule rules[VERDICT_KIND_COUNT] = {
    [VERDICT_NONE] = { "none", NULL, 0, NULL },
    /* Without --expect: a login or shell prompt ("login:", "# ", "$ ",
     * "> " ending the line) waiting for input. */
    [VERDICT_BOOTED] = { "booted", "(login: ?$)|(^[^ ]{0,64}[#$>] ?$)|([@:~][^ ]{0,64}[#$] ?$)",
                         ON_PROMPT, NULL },
    /* NT 4.0's text STOP screen (the graphical one is found by code). */
    [VERDICT_BLUESCREEN] = { "bluescreen", "\\*\\*\\* STOP: (0x[0-9A-Fa-f]{8}) *(\\([^)]*\\))?",
                             ON_TEXT, NULL },
    [VERDICT_PANIC] = { "panic", "Kernel panic - not syncing", ON_TEXT, NULL },
    [VERDICT_NO_BOOTABLE_DEVICE] = { "no-bootable-device", "No bootable device", ON_TEXT, "SeaBIOS" },
    [VERDICT_TRIPLE_FAULT] = { "triple-fault", NULL, 0, NULL },
    [VERDICT_HANG] = { "hang", NULL, 0, NULL },
    [VERDICT_TIMEOUT] = { "timeout", NULL, 0, NULL },
    /* The FAT and NTFS boot sectors of NT 4.0-2003 without their loader. */
    [VERDICT_NTLDR_MISSING] = { "ntldr-missing", "NTLDR is missing", ON_TEXT, "boot sector" },
    /* The MBR's own errors: Microsoft's wording, then syslinux's mbr.bin's. */
    [VERDICT_MISSING_OS] = { "missing-os", "Missing operating system", ON_TEXT, "MBR" },
    [VERDICT_INVALID_PARTITION_TABLE] = { "invalid-partition-table",
                                          "Invalid partition table|Multiple active partitions",
                                          ON_TEXT, "MBR" },
    [VERDICT_OS_LOAD_ERROR] = { "os-load-error",
                                "Error loading operating system|Operating system load error",
                                ON_TEXT, "MBR" },
    /* GRUB 2 without its modules or its /boot (it waits at this prompt). */
    [VERDICT_GRUB_RESCUE] = { "grub-rescue", "^grub rescue>", ON_TEXT, "GRUB" },
    /* A boot sector whose code is all zero (see check_boot_sector). */
    [VERDICT_NO_BOOT_CODE] = { "no-boot-code", NULL, 0, NULL },
};

const char *verdict_kind_name(enum verdict_kind k)
{
    return (unsigned)k < VERDICT_KIND_COUNT ? rules[k].name : "?";
}

enum verdict_kind verdict_kind(const struct verdict *v)
{
    return v->kind;
}

const char *verdict_detail(const struct verdict *v)
{
    return v->detail;
}

int verdict_create(struct verdict **out, const char *expect, struct vd_error **errp)
{
    struct verdict *v = calloc(1, sizeof *v);
    if (!v)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    v->timer = -1;
    if (expect) {
        int rc = regcomp(&v->expect, expect, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char msg[128];
            regerror(rc, &v->expect, msg, sizeof msg);
            free(v);
            return vd_error_set(errp, -EINVAL, "--expect '%s': %s", expect, msg);
        }
        v->have_expect = true;
    }
    for (int k = 0; k < VERDICT_KIND_COUNT; k++) {
        if (!rules[k].pattern)
            continue;
        int rc = regcomp(&v->rule_re[k], rules[k].pattern, REG_EXTENDED);
        if (rc != 0) {
            char msg[128];
            regerror(rc, &v->rule_re[k], msg, sizeof msg);
            for (int j = 0; j < k; j++)
                if (rules[j].pattern)
                    regfree(&v->rule_re[j]);
            if (v->have_expect)
                regfree(&v->expect);
            free(v);
            return vd_error_set(errp, -EINVAL, "verdict rule %s: '%s': %s", rules[k].name,
                                rules[k].pattern, msg);
        }
    }
    *out = v;
    return 0;
}

void verdict_destroy(struct verdict *v)
{
    if (!v)
        return;
    if (v->have_expect)
        regfree(&v->expect);
    for (int k = 0; k < VERDICT_KIND_COUNT; k++)
        if (rules[k].pattern)
            regfree(&v->rule_re[k]);
    free(v);
}

__attribute__((format(printf, 4, 5)))
static void decide(struct verdict *v, enum verdict_kind kind, const char *where,
                   const char *fmt, ...)
{
    if (v->kind != VERDICT_NONE)
        return;
    v->kind = kind;
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(v->detail, sizeof v->detail, "%s%s%s", what, where ? " on " : "", where ? where : "");
    if (v->m)
        machine_request_stop(v->m, STOP_VERDICT, kind == VERDICT_BOOTED ? 0 : 1, v->detail);
}

static bool matches(const regex_t *re, const char *s)
{
    return regexec(re, s, 0, NULL, 0) == 0;
}

/* "STOP 0x0000007B (0x...,...)" from TEXT when it holds a STOP line. */
static bool parse_stop(const struct verdict *v, const char *text, char *out, size_t len)
{
    regmatch_t mt[3];
    if (regexec(&v->rule_re[VERDICT_BLUESCREEN], text, 3, mt, 0) != 0)
        return false;
    int n = snprintf(out, len, "STOP %.*s", (int)(mt[1].rm_eo - mt[1].rm_so), text + mt[1].rm_so);
    if (mt[2].rm_so >= 0 && n > 0 && (size_t)n < len)
        snprintf(out + n, len - (size_t)n, " %.*s", (int)(mt[2].rm_eo - mt[2].rm_so),
                 text + mt[2].rm_so);
    return true;
}

/* The rules applied to TEXT, a serial line or a screen row (WHERE: ON_SERIAL
 * or ON_SCREEN, plus ON_PROMPT for a serial line waiting for input). */
static void check_text(struct verdict *v, const char *text, const char *where, unsigned on)
{
    if (v->kind != VERDICT_NONE)
        return;
    char quoted[96];
    snprintf(quoted, sizeof quoted, "%.80s", text);
    if (v->have_expect && matches(&v->expect, text)) {
        decide(v, VERDICT_BOOTED, where, "expected output '%s'", quoted);
        return;
    }
    if (strstr(text, "Booting from "))
        v->boot_handed_over = true;
    /* Failures first: a prompt after an error message is no success. */
    for (int k = 0; k < VERDICT_KIND_COUNT; k++) {
        if (k == VERDICT_BOOTED || !rules[k].pattern || !(rules[k].where & on) ||
            !matches(&v->rule_re[k], text))
            continue;
        char stop[120];
        if (k == VERDICT_BLUESCREEN && parse_stop(v, text, stop, sizeof stop))
            decide(v, VERDICT_BLUESCREEN, where, "%s", stop);
        else
            decide(v, (enum verdict_kind)k, where, "%s%s'%s'", rules[k].who ? rules[k].who : "",
                   rules[k].who ? ": " : "", quoted);
        return;
    }
    /* --expect alone says what success is. */
    if (!v->have_expect && (on & rules[VERDICT_BOOTED].where) &&
        matches(&v->rule_re[VERDICT_BOOTED], text))
        decide(v, VERDICT_BOOTED, where, "prompt '%s'", quoted);
}

void verdict_serial_byte(struct verdict *v, int port, uint8_t byte)
{
    static const char *const names[2] = { "COM1", "COM2" };
    struct serial_line *l = &v->line[port & 1];
    uint64_t now = v->m ? machine_now_ns(v->m) : 0;
    l->last_byte_ns = now;
    v->last_output_ns = now;
    v->spinning = false;
    /* Drop ANSI escape sequences (memtest86+ draws its screen with them). */
    if (l->esc == 1) {
        l->esc = byte == '[' ? 2 : 0;
        return;
    }
    if (l->esc == 2) {
        if (byte >= 0x40 && byte <= 0x7E)
            l->esc = 0;
        return;
    }
    if (byte == 0x1B) {
        l->esc = 1;
        return;
    }
    if (byte == '\n' || byte == '\r') {
        if (l->len) {
            l->buf[l->len] = 0;
            check_text(v, l->buf, names[port & 1], ON_SERIAL);
        }
        l->len = 0;
        return;
    }
    if (byte < 0x20 && byte != '\t')
        return;
    if (l->len + 1 < LINE_MAX_LEN)
        l->buf[l->len++] = (char)byte;
    /* Patterns that must not wait for a newline (a marker printed without
     * one) are tried on the line in progress when the guest goes quiet. */
}

void verdict_check_screen(struct verdict *v, const char *screen)
{
    char row[256];
    const char *p = screen;
    while (*p && v->kind == VERDICT_NONE) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n >= sizeof row)
            n = sizeof row - 1;
        memcpy(row, p, n);
        row[n] = 0;
        if (n)
            check_text(v, row, "the screen", ON_SCREEN);
        if (!nl)
            break;
        p = nl + 1;
    }
}

static bool blue_dominant(const uint8_t *rgb)
{
    return rgb[2] >= 0x50 && rgb[0] * 2 <= rgb[2] && rgb[1] * 2 <= rgb[2];
}

static bool light(const uint8_t *rgb)
{
    return rgb[0] >= 0xA0 && rgb[1] >= 0xA0 && rgb[2] >= 0xA0;
}

/* Whether the VGA shows a graphical STOP screen: at least BLUE_SHARE_PCT
 * of a coarse grid in one blue-dominant colour, then (only then) every
 * other line scanned for light text pixels. *HASH: of the pixels scanned,
 * to tell a screen that stays from one that changes. */
static bool graphical_bluescreen(const struct vga *vga, uint64_t *hash)
{
    int w, h;
    if (!vga_graphics_size(vga, &w, &h))
        return false;
    unsigned count[256] = { 0 }, best = 0;
    for (int j = 0; j < BLUE_GRID_Y; j++)
        for (int i = 0; i < BLUE_GRID_X; i++)
            count[vga_graphics_pixel(vga, (2 * i + 1) * w / (2 * BLUE_GRID_X),
                                     (2 * j + 1) * h / (2 * BLUE_GRID_Y))]++;
    for (unsigned k = 1; k < 256; k++)
        if (count[k] > count[best])
            best = k;
    uint8_t rgb[256][3];
    for (unsigned k = 0; k < 256; k++)
        vga_dac_rgb(vga, (uint8_t)k, rgb[k]);
    if (!blue_dominant(rgb[best]) || count[best] * 100 < BLUE_SHARE_PCT * BLUE_GRID_X * BLUE_GRID_Y)
        return false;
    unsigned lights = 0;
    uint64_t fnv = 0xcbf29ce484222325ull;
    for (int y = 0; y < h; y += 2) {
        for (int x = 0; x < w; x++) {
            uint8_t idx = vga_graphics_pixel(vga, x, y);
            fnv = (fnv ^ idx) * 0x100000001b3ull;
            lights += light(rgb[idx]);
        }
    }
    *hash = fnv;
    return lights >= LIGHT_MIN;
}

/* Copies the printable text at P (STEP 1: ANSI, 2: UTF-16LE) into LINE;
 * true when it starts with "*** STOP: 0x". */
static bool stop_line_at(const uint8_t *p, const uint8_t *end, size_t step, char *line)
{
    static const char pat[] = "*** STOP: 0x";
    size_t n = 0;
    for (const uint8_t *q = p; n < STOP_LINE_MAX && q + step <= end; q += step) {
        if (*q < 0x20 || *q >= 0x7F || (step == 2 && q[1] != 0))
            break;
        line[n++] = (char)*q;
    }
    line[n] = 0;
    return n >= sizeof pat - 1 && memcmp(line, pat, sizeof pat - 1) == 0;
}

/* The first parseable STOP line in guest RAM, ANSI or UTF-16LE, as
 * "STOP 0x... (...)". Skips the format string ("0x%08lX" does not parse).
 * memchr finds the candidates: one pass at memory speed for both forms. */
static bool stop_line_in_ram(const struct verdict *v, char *out, size_t len)
{
    const uint8_t *p = v->m->ram, *end = p + v->m->ram_size;
    char line[STOP_LINE_MAX + 1];
    while ((p = memchr(p, '*', (size_t)(end - p))) != NULL) {
        for (size_t step = 1; step <= 2; step++)
            if (stop_line_at(p, end, step, line) && parse_stop(v, line, out, len))
                return true;
        p++;
    }
    return false;
}

/* The graphical STOP screen rule (see the top of this file). A screen
 * still being drawn may yet be followed by a success marker, so RAM is
 * searched for the STOP line only when the machine sits on the screen:
 * unchanged for BLUE_STABLE_NS while the CPU either waited in HLT on
 * every sample or ran BLUE_BUSY_INSNS instructions (time alone is not
 * enough: the clock is the host's, and a starved host process sees a
 * second pass between two glyphs). Without a STOP line the verdict waits
 * until the screen has stayed for BLUE_SETTLE_NS (bootvid's other blue
 * screen, autochk's, moves on), or for the end of the run (FINAL). */
static void check_graphics(struct verdict *v, const struct vga *vga, uint64_t now, bool final)
{
    uint64_t hash = 0;
    if (!graphical_bluescreen(vga, &hash)) {
        v->blue_shown = false;
        return;
    }
    struct cpu_state st;
    cpu_get_state(v->m->cpu, &st);
    uint32_t eip = st.seg[SEG_CS].base + st.eip;
    uint64_t insns = v->m->insns;
    if (!v->blue_shown || hash != v->blue_hash) {
        v->blue_shown = true;
        v->blue_searched = false;
        v->blue_idle = true;
        v->blue_hash = hash;
        v->blue_since_ns = now;
        v->blue_since_insns = insns;
    } else if (eip != v->blue_eip || insns - v->blue_insns >= BLUE_IDLE_INSNS) {
        v->blue_idle = false;
    }
    v->blue_eip = eip;
    v->blue_insns = insns;
    uint64_t stayed = now - v->blue_since_ns;
    bool sitting = stayed >= BLUE_STABLE_NS
                   && (v->blue_idle || insns - v->blue_since_insns >= BLUE_BUSY_INSNS);
    bool settled = sitting && stayed >= BLUE_SETTLE_NS;
    if (!final && !settled && (v->blue_searched || !sitting))
        return;
    v->blue_searched = true;
    char stop[STOP_LINE_MAX + 8];
    if (stop_line_in_ram(v, stop, sizeof stop))
        decide(v, VERDICT_BLUESCREEN, "the graphical screen (code found in guest RAM)", "%s", stop);
    else if (final || settled)
        decide(v, VERDICT_BLUESCREEN, NULL, "%s", "(graphical STOP screen; code not found in memory)");
}

static void sample_cpu(struct verdict *v, uint64_t now)
{
    struct cpu_state st;
    cpu_get_state(v->m->cpu, &st);
    uint32_t eip = st.seg[SEG_CS].base + st.eip;
    bool irq_off = !(st.eflags & 0x200);
    bool same_loop = v->spinning && irq_off
                     && eip - v->spin_eip + SPIN_WINDOW / 2 <= SPIN_WINDOW;
    if (!same_loop) {
        /* (Re)start watching from here; serial output also restarts it. */
        v->spinning = irq_off;
        v->spin_eip = eip;
        v->spin_cs = st.seg[SEG_CS].sel;
        v->spin_base = st.seg[SEG_CS].base;
        v->spin_since_ns = now;
        return;
    }
    /* A spin is only called a hang when the timeout ends it (see
     * verdict_finish): a kernel decompressor also runs for seconds with
     * interrupts off in a few hundred bytes of code, silently. */
}

/* A boot sector with no code: the BIOS loaded a sector that ends in 55 AA
 * but whose first 440 bytes (all before the disk signature and the
 * partition table) are zero, as partitioning tools leave a blank disk's
 * MBR, and jumped into it. The CPU then slides through zeros (00 00 is
 * add [bx+si],al) into whatever follows and never prints anything, so
 * without this rule the run lasts until the timeout. Looked at once the
 * BIOS said "Booting from ...", while the CPU is in real mode, wherever it
 * runs: the slide can end anywhere, in the BIOS too (an interrupt handler
 * spinning with interrupts off). The sector stays at 0000:7C00 until the
 * guest reuses that memory, which a guest that got further does in
 * protected mode. */
static void check_boot_sector(struct verdict *v)
{
    if (!v->boot_handed_over || v->m->ram_size < BOOT_SECTOR + 512)
        return;
    struct cpu_state st;
    cpu_get_state(v->m->cpu, &st);
    if (st.cr0 & 1)
        return;
    const uint8_t *b = v->m->ram + BOOT_SECTOR;
    if (b[510] != 0x55 || b[511] != 0xAA)
        return;
    for (unsigned i = 0; i < BOOT_CODE_BYTES; i++)
        if (b[i])
            return;
    decide(v, VERDICT_NO_BOOT_CODE, NULL, "%s",
           "the boot sector at 0000:7C00 holds no code (its 440 bytes before the partition "
           "table are zero)");
}

static void sample(void *opaque, uint64_t now)
{
    struct verdict *v = opaque;
    struct vga *vga = vga_of(v->m);
    if (vga && vga_screen_text(vga, v->screen, sizeof v->screen) > 0)
        verdict_check_screen(v, v->screen);
    else if (vga)
        check_graphics(v, vga, now, false);
    static const char *const names[2] = { "COM1", "COM2" };
    for (int k = 0; k < 2 && v->kind == VERDICT_NONE; k++) {
        struct serial_line *l = &v->line[k];
        if (l->len && now - l->last_byte_ns >= PROMPT_IDLE_NS / 10) {
            l->buf[l->len] = 0;
            check_text(v, l->buf, names[k],
                       ON_SERIAL | (now - l->last_byte_ns >= PROMPT_IDLE_NS ? ON_PROMPT : 0));
        }
    }
    if (v->kind == VERDICT_NONE)
        check_boot_sector(v);
    if (v->kind == VERDICT_NONE)
        sample_cpu(v, now);
    if (v->kind == VERDICT_NONE)
        machine_timer_arm(v->m, v->timer, now + SAMPLE_NS);
}

int verdict_attach(struct verdict *v, struct machine *m, struct vd_error **errp)
{
    v->m = m;
    v->timer = machine_timer_new(m, sample, v);
    if (v->timer < 0)
        return vd_error_set(errp, -ENOSPC, "verdict: no free machine timer");
    machine_timer_arm(m, v->timer, machine_now_ns(m) + SAMPLE_NS);
    return 0;
}

void verdict_finish(struct verdict *v, enum machine_stop why, const char *stop_msg)
{
    if (v->kind != VERDICT_NONE)
        return;
    /* A last look: the screen as it was left, and unfinished serial lines. */
    struct vga *vga = v->m ? vga_of(v->m) : NULL;
    if (vga && vga_screen_text(vga, v->screen, sizeof v->screen) > 0)
        verdict_check_screen(v, v->screen);
    else if (vga)
        check_graphics(v, vga, machine_now_ns(v->m), true);
    static const char *const names[2] = { "COM1", "COM2" };
    for (int k = 0; k < 2 && v->kind == VERDICT_NONE; k++) {
        struct serial_line *l = &v->line[k];
        if (l->len) {
            l->buf[l->len] = 0;
            check_text(v, l->buf, names[k], ON_SERIAL | (why == STOP_TIMEOUT ? ON_PROMPT : 0));
        }
    }
    if (v->kind == VERDICT_NONE && v->m && v->m->cpu)
        check_boot_sector(v);
    if (v->kind != VERDICT_NONE)
        return;
    char pc[32] = "?";
    if (v->m && v->m->cpu)
        cpu_describe_pc(v->m->cpu, pc, sizeof pc);
    switch (why) {
    case STOP_POWEROFF:
        decide(v, VERDICT_BOOTED, NULL, "%s", "guest powered off cleanly (ACPI S5)");
        break;
    case STOP_TRIPLE_FAULT:
        decide(v, VERDICT_TRIPLE_FAULT, NULL, "%s", stop_msg);
        break;
    case STOP_HALTED:
        decide(v, VERDICT_HANG, NULL, "%s", stop_msg);
        break;
    case STOP_TIMEOUT:
        if (v->spinning && v->m && machine_now_ns(v->m) - v->spin_since_ns >= HANG_NS) {
            char since[64];
            snprintf(since, sizeof since, "%04X:%08X for the last %.0f s", v->spin_cs,
                     v->spin_eip - v->spin_base,
                     (double)(machine_now_ns(v->m) - v->spin_since_ns) / 1e9);
            decide(v, VERDICT_HANG, NULL, "spinning with interrupts disabled at %s", since);
        }
        else
            decide(v, VERDICT_TIMEOUT, NULL, "no verdict before the timeout (CPU at %s)", pc);
        break;
    case STOP_DEBUG_EXIT:
        decide(v, VERDICT_TIMEOUT, NULL, "%s", "guest left through the debug-exit port without a verdict");
        break;
    default:
        decide(v, VERDICT_TIMEOUT, NULL, "%s", stop_msg[0] ? stop_msg : "stopped without a verdict");
        break;
    }
}

void verdict_print(const struct verdict *v, FILE *f, bool json, double seconds)
{
    if (json) {
        fprintf(f, "{\"verdict\": ");
        vd_json_string(f, verdict_kind_name(v->kind));
        fprintf(f, ", \"detail\": ");
        vd_json_string(f, v->detail);
        fprintf(f, ", \"booted\": %s, \"seconds\": %.3f}\n",
                v->kind == VERDICT_BOOTED ? "true" : "false", seconds);
    } else {
        fprintf(f, "verdict: %s %s\n", verdict_kind_name(v->kind), v->detail);
    }
    fflush(f);
}
