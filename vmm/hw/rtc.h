/* The MC146818 CMOS RTC at 0x70/0x71: 128 bytes of CMOS with the BIOS
 * configuration (memory size, boot order, equipment), a clock that starts
 * at host time and runs on the virtual clock, update-in-progress, and
 * periodic, alarm and update-ended interrupts on IRQ 8. */
#ifndef VMM_HW_RTC_H
#define VMM_HW_RTC_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct machine;

struct rtc {
    uint8_t cmos[128];
    uint8_t index;
    struct machine *m;
    int timer;
    int64_t base_time;          /* guest seconds at virtual time 0 */
    uint64_t last_second;       /* last whole second seen by update_flags */
    uint64_t next_periodic_ns;
    bool irq_level;
};

/* Guest wall-clock seconds at virtual time NOW. */
int64_t rtc_guest_time(const struct rtc *r, uint64_t now_ns);
uint8_t rtc_read_at(struct rtc *r, uint8_t index, uint64_t now_ns);
void rtc_write_at(struct rtc *r, uint8_t index, uint8_t val, uint64_t now_ns);
/* Fills the configuration bytes for RAM_BYTES of memory and boot order BOOT. */
void rtc_set_config(struct rtc *r, uint64_t ram_bytes, char boot, bool have_fpu);
/* Periodic interrupt interval for REG_A rate bits, 0 when off. */
uint64_t rtc_period_ns(uint8_t reg_a);

#endif
