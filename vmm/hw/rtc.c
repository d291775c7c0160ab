/* The CMOS RTC. Time registers are computed from the virtual clock when
 * read (the clock starts at the host's UTC time); a guest that sets the
 * clock moves an offset. Interrupt flags are evaluated lazily from the
 * clock, and a machine timer is armed only while an interrupt is enabled. */
#include "vmm/hw/rtc.h"

#include <errno.h>
#include <string.h>

#include "vmm/hw/pc.h"

#define NS_PER_S 1000000000ull
#define UIP_NS 244000u              /* UIP is set for the last 244 us of each second */

enum {
    RTC_SEC = 0, RTC_SEC_ALARM = 1, RTC_MIN = 2, RTC_MIN_ALARM = 3, RTC_HOUR = 4,
    RTC_HOUR_ALARM = 5, RTC_WDAY = 6, RTC_MDAY = 7, RTC_MONTH = 8, RTC_YEAR = 9,
    RTC_REG_A = 0x0A, RTC_REG_B = 0x0B, RTC_REG_C = 0x0C, RTC_REG_D = 0x0D,
    RTC_CENTURY = 0x32,
};
enum { B_SET = 0x80, B_PIE = 0x40, B_AIE = 0x20, B_UIE = 0x10, B_DM_BINARY = 0x04,
       B_24H = 0x02 };
enum { C_IRQF = 0x80, C_PF = 0x40, C_AF = 0x20, C_UF = 0x10 };

int64_t rtc_guest_time(const struct rtc *r, uint64_t now_ns)
{
    return r->base_time + (int64_t)(now_ns / NS_PER_S);
}

uint64_t rtc_period_ns(uint8_t reg_a)
{
    unsigned rate = reg_a & 0x0F;
    if (rate == 0)
        return 0;
    if (rate <= 2)
        rate += 7;                  /* 1 and 2 alias 8 and 9 at 32.768 kHz */
    /* 32768 Hz >> (rate - 1) */
    return (NS_PER_S << (rate - 1)) / 32768u;
}

static uint8_t encode(const struct rtc *r, int v)
{
    if (r->cmos[RTC_REG_B] & B_DM_BINARY)
        return (uint8_t)v;
    return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static int decode(const struct rtc *r, uint8_t v)
{
    if (r->cmos[RTC_REG_B] & B_DM_BINARY)
        return v;
    return ((v >> 4) & 0x0F) * 10 + (v & 0x0F);
}

static uint8_t encode_hour(const struct rtc *r, int h)
{
    if (r->cmos[RTC_REG_B] & B_24H)
        return encode(r, h);
    int h12 = h % 12 ? h % 12 : 12;
    return (uint8_t)(encode(r, h12) | (h >= 12 ? 0x80 : 0));
}

static int decode_hour(const struct rtc *r, uint8_t v)
{
    if (r->cmos[RTC_REG_B] & B_24H)
        return decode(r, v);
    int h = decode(r, v & 0x7F) % 12;
    return (v & 0x80) ? h + 12 : h;
}

/* Writes the current guest time into the time registers. */
static void store_time(struct rtc *r, uint64_t now)
{
    time_t t = (time_t)rtc_guest_time(r, now);
    struct tm tm;
    gmtime_r(&t, &tm);
    r->cmos[RTC_SEC] = encode(r, tm.tm_sec);
    r->cmos[RTC_MIN] = encode(r, tm.tm_min);
    r->cmos[RTC_HOUR] = encode_hour(r, tm.tm_hour);
    r->cmos[RTC_WDAY] = encode(r, tm.tm_wday + 1);
    r->cmos[RTC_MDAY] = encode(r, tm.tm_mday);
    r->cmos[RTC_MONTH] = encode(r, tm.tm_mon + 1);
    r->cmos[RTC_YEAR] = encode(r, tm.tm_year % 100);
    r->cmos[RTC_CENTURY] = encode(r, 19 + tm.tm_year / 100);
}

/* The time registers as the guest left them become the clock. */
static void load_time(struct rtc *r, uint64_t now)
{
    struct tm tm = {
        .tm_sec = decode(r, r->cmos[RTC_SEC]),
        .tm_min = decode(r, r->cmos[RTC_MIN]),
        .tm_hour = decode_hour(r, r->cmos[RTC_HOUR]),
        .tm_mday = decode(r, r->cmos[RTC_MDAY]),
        .tm_mon = decode(r, r->cmos[RTC_MONTH]) - 1,
        .tm_year = decode(r, r->cmos[RTC_CENTURY]) * 100 + decode(r, r->cmos[RTC_YEAR]) - 1900,
    };
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return;                     /* nonsense fields: keep the clock */
    r->base_time = (int64_t)t - (int64_t)(now / NS_PER_S);
}

static bool alarm_field_matches(const struct rtc *r, int alarm_reg, int time_reg)
{
    uint8_t a = r->cmos[alarm_reg];
    return (a & 0xC0) == 0xC0 || a == r->cmos[time_reg];   /* 0xC0-0xFF: don't care */
}

/* Brings the C flags up to date with the clock. */
static void update_flags(struct rtc *r, uint64_t now)
{
    uint8_t *c = &r->cmos[RTC_REG_C];
    uint64_t sec = now / NS_PER_S;
    if (sec != r->last_second && !(r->cmos[RTC_REG_B] & B_SET)) {
        r->last_second = sec;
        *c |= C_UF;
        store_time(r, now);
        if (alarm_field_matches(r, RTC_SEC_ALARM, RTC_SEC)
            && alarm_field_matches(r, RTC_MIN_ALARM, RTC_MIN)
            && alarm_field_matches(r, RTC_HOUR_ALARM, RTC_HOUR))
            *c |= C_AF;
    }
    uint64_t period = rtc_period_ns(r->cmos[RTC_REG_A]);
    if (period && now >= r->next_periodic_ns) {
        *c |= C_PF;
        r->next_periodic_ns = (now / period + 1) * period;
    }
    uint8_t b = r->cmos[RTC_REG_B];
    if (((*c & C_PF) && (b & B_PIE)) || ((*c & C_AF) && (b & B_AIE))
        || ((*c & C_UF) && (b & B_UIE)))
        *c |= C_IRQF;
}

static void update_irq(struct rtc *r, uint64_t now)
{
    if (!r->m)
        return;
    bool level = r->cmos[RTC_REG_C] & C_IRQF;
    if (level != r->irq_level) {
        r->irq_level = level;
        pc_set_irq(r->m, 8, level);
    }
    /* Wake up for the next event only while an interrupt is enabled. */
    uint8_t b = r->cmos[RTC_REG_B];
    uint64_t next = UINT64_MAX;
    uint64_t period = rtc_period_ns(r->cmos[RTC_REG_A]);
    if ((b & B_PIE) && period)
        next = r->next_periodic_ns > now ? r->next_periodic_ns : now + period;
    if (b & (B_UIE | B_AIE)) {
        uint64_t s = (now / NS_PER_S + 1) * NS_PER_S;
        if (s < next)
            next = s;
    }
    if (next == UINT64_MAX || level)
        machine_timer_cancel(r->m, r->timer);   /* re-armed when C is read */
    else
        machine_timer_arm(r->m, r->timer, next);
}

static void rtc_timer_cb(void *opaque, uint64_t now)
{
    struct rtc *r = opaque;
    update_flags(r, now);
    update_irq(r, now);
}

uint8_t rtc_read_at(struct rtc *r, uint8_t index, uint64_t now)
{
    index &= 0x7F;
    switch (index) {
    case RTC_SEC: case RTC_MIN: case RTC_HOUR: case RTC_WDAY:
    case RTC_MDAY: case RTC_MONTH: case RTC_YEAR: case RTC_CENTURY:
        if (!(r->cmos[RTC_REG_B] & B_SET))
            store_time(r, now);
        return r->cmos[index];
    case RTC_REG_A: {
        bool uip = !(r->cmos[RTC_REG_B] & B_SET) && now % NS_PER_S >= NS_PER_S - UIP_NS;
        return (uint8_t)((r->cmos[RTC_REG_A] & 0x7F) | (uip ? 0x80 : 0));
    }
    case RTC_REG_C: {
        update_flags(r, now);
        uint8_t v = r->cmos[RTC_REG_C];
        r->cmos[RTC_REG_C] = 0;
        update_irq(r, now);
        return v;
    }
    case RTC_REG_D:
        return 0x80;                /* valid RAM and time */
    default:
        return r->cmos[index];
    }
}

void rtc_write_at(struct rtc *r, uint8_t index, uint8_t val, uint64_t now)
{
    index &= 0x7F;
    switch (index) {
    case RTC_SEC: case RTC_MIN: case RTC_HOUR: case RTC_WDAY:
    case RTC_MDAY: case RTC_MONTH: case RTC_YEAR: case RTC_CENTURY:
        if (r->cmos[RTC_REG_B] & B_SET) {
            r->cmos[index] = val;
        } else {
            store_time(r, now);
            r->cmos[index] = val;
            load_time(r, now);
        }
        return;
    case RTC_REG_A:
        r->cmos[RTC_REG_A] = val & 0x7F;
        r->next_periodic_ns = 0;
        update_flags(r, now);
        r->cmos[RTC_REG_C] &= (uint8_t)~C_PF;
        update_irq(r, now);
        return;
    case RTC_REG_B: {
        uint8_t old = r->cmos[RTC_REG_B];
        if (!(old & B_SET) && (val & B_SET))
            store_time(r, now);     /* freeze the registers for the guest */
        if (val & B_SET)
            val &= (uint8_t)~B_UIE; /* SET clears UIE */
        r->cmos[RTC_REG_B] = val;
        if ((old & B_SET) && !(val & B_SET))
            load_time(r, now);
        if ((val & B_PIE) && !(old & B_PIE))
            r->next_periodic_ns = now;
        update_flags(r, now);
        update_irq(r, now);
        return;
    }
    case RTC_REG_C:
    case RTC_REG_D:
        return;                     /* read-only */
    default:
        r->cmos[index] = val;
        return;
    }
}

static void set_checksum(struct rtc *r)
{
    unsigned sum = 0;
    for (int k = 0x10; k <= 0x2D; k++)
        sum += r->cmos[k];
    r->cmos[0x2E] = (uint8_t)(sum >> 8);
    r->cmos[0x2F] = (uint8_t)sum;
}

void rtc_set_config(struct rtc *r, uint64_t ram_bytes, char boot, bool have_fpu)
{
    uint8_t *c = r->cmos;
    c[0x10] = 0;                            /* no floppy drives */
    c[0x14] = have_fpu ? 0x02 : 0x00;       /* equipment: VGA, no floppy */
    c[0x15] = 0x80;                         /* 640 KiB base memory */
    c[0x16] = 0x02;
    uint64_t ext_kb = ram_bytes > (1u << 20) ? (ram_bytes - (1u << 20)) / 1024 : 0;
    if (ext_kb > 0xFFFF)
        ext_kb = 0xFFFF;
    c[0x17] = c[0x30] = (uint8_t)ext_kb;
    c[0x18] = c[0x31] = (uint8_t)(ext_kb >> 8);
    uint64_t high = ram_bytes > (16u << 20) ? (ram_bytes - (16u << 20)) >> 16 : 0;
    if (high > 0xFFFF)
        high = 0xFFFF;
    c[0x34] = (uint8_t)high;
    c[0x35] = (uint8_t)(high >> 8);
    c[0x5B] = c[0x5C] = c[0x5D] = 0;        /* nothing above 4 GiB */
    c[0x5F] = 0;                            /* one CPU */
    /* Boot order: 2 hard disk, 3 CD-ROM; bit 0 of 0x38 skips the floppy
     * boot signature check. */
    c[0x3D] = boot == 'd' ? 0x23 : 0x32;
    c[0x38] = 0x01;
    set_checksum(r);
}

static uint8_t rtc_read8(void *opaque, uint16_t port)
{
    struct rtc *r = opaque;
    if (port == 0x70)
        return 0xFF;                        /* the index register is write-only */
    return rtc_read_at(r, r->index, machine_now_ns(r->m));
}

static void rtc_write8(void *opaque, uint16_t port, uint8_t val)
{
    struct rtc *r = opaque;
    if (port == 0x70)
        r->index = val & 0x7F;              /* bit 7 masks NMI */
    else
        rtc_write_at(r, r->index, val, machine_now_ns(r->m));
}

static const struct io_ops rtc_io = { .read8 = rtc_read8, .write8 = rtc_write8 };

static void rtc_reset(void *state)
{
    struct rtc *r = state;
    /* Reset leaves the CMOS RAM and the clock alone, but clears the
     * interrupt enables and flags (RESET# on the MC146818). */
    r->cmos[RTC_REG_B] &= (uint8_t)~(B_PIE | B_AIE | B_UIE);
    r->cmos[RTC_REG_C] = 0;
    if (r->m) {
        machine_timer_cancel(r->m, r->timer);
        if (r->irq_level)
            pc_set_irq(r->m, 8, false);
    }
    r->irq_level = false;
}

static int rtc_init(struct machine *m, void *state, struct vd_error **errp)
{
    struct rtc *r = state;
    r->m = m;
    r->timer = machine_timer_new(m, rtc_timer_cb, r);
    if (r->timer < 0)
        return vd_error_set(errp, -ENOSPC, "rtc: no free machine timer");
    r->base_time = (int64_t)time(NULL) - (int64_t)(machine_now_ns(m) / NS_PER_S);
    r->cmos[RTC_REG_A] = 0x26;              /* 32.768 kHz, 1024 Hz periodic rate */
    r->cmos[RTC_REG_B] = B_24H;
    r->cmos[RTC_REG_D] = 0x80;
    rtc_set_config(r, m->ram_size, pc_config_of(m)->boot, true);
    machine_register_io(m, 0x70, 2, &rtc_io, r);
    return 0;
}

const struct vmm_device_ops rtc_device = {
    .name = "rtc",
    .state_size = sizeof(struct rtc),
    .init = rtc_init,
    .reset = rtc_reset,
};
