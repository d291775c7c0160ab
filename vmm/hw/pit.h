/* The 8254 programmable interval timer (0x40-0x43) and port 0x61 (channel
 * 2 gate and speaker enable, refresh toggle, channel 2 output). */
#ifndef VMM_HW_PIT_H
#define VMM_HW_PIT_H

#include <stdbool.h>
#include <stdint.h>

#define PIT_HZ 1193182u

struct pit_channel {
    uint8_t mode;               /* 0-5 */
    uint8_t rw;                 /* 1 LSB, 2 MSB, 3 LSB then MSB */
    bool bcd;
    bool gate;
    uint32_t reload;            /* 1..65536 (0 written means 65536) */
    uint64_t start_ns;          /* when counting began (after load or trigger) */
    bool counting;              /* a count was loaded (and, modes 1/5, triggered) */
    bool write_msb_next, read_msb_next;
    uint8_t write_lsb;
    bool latched;               /* counter latch: value frozen for reading */
    uint16_t latch;
    uint8_t latched_reads;      /* bytes of the latch still to read */
    bool status_latched;
    uint8_t status;
    uint16_t frozen;            /* modes 0/4 with the gate low: count held */
    uint64_t frozen_ticks;      /* ticks elapsed when the gate went low */
};

struct machine;

struct pit {
    struct pit_channel ch[3];
    struct machine *m;
    int timer;
    bool speaker_data;          /* port 0x61 bit 1 */
    bool irq_level;
};

/* Pure functions of a channel at time NOW (for the device and its tests). */
uint64_t pit_ticks(const struct pit_channel *c, uint64_t now_ns);
uint16_t pit_count(const struct pit_channel *c, uint64_t now_ns);
bool pit_output(const struct pit_channel *c, uint64_t now_ns);
/* The next time after NOW at which the output rises, or UINT64_MAX. */
uint64_t pit_next_rise(const struct pit_channel *c, uint64_t now_ns);

/* Port accesses at an explicit time (the device passes machine time). */
uint8_t pit_read_at(struct pit *p, uint16_t port, uint64_t now_ns);
void pit_write_at(struct pit *p, uint16_t port, uint8_t val, uint64_t now_ns);

#endif
