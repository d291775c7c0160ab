/* 16550A UARTs on COM1 (0x3F8, IRQ 4) and COM2 (0x2F8, IRQ 3): divisor
 * latch, 16-byte receive FIFO with trigger levels and character timeout,
 * transmit holding register interrupts, line and modem status, loopback. */
#ifndef VMM_HW_UART_H
#define VMM_HW_UART_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct machine;

#define UART_FIFO 16

struct uart {
    struct machine *m;
    int index;                  /* 0 COM1, 1 COM2 */
    uint16_t base;
    int irq;
    FILE *out;                  /* transmitted bytes, NULL: discarded */
    bool own_out;
    int in_fd;                  /* received bytes (stdin for COM1 on stdio), -1: none */
    int in_fd_flags;            /* its flags before O_NONBLOCK, -1: untouched */
    int poll_timer;
    uint8_t rx[UART_FIFO];
    int rx_head, rx_len;
    uint8_t ier, lcr, mcr, lsr_errors, scr, dll, dlm, fcr;
    bool thr_int;               /* THR-empty interrupt pending (cleared by IIR read or THR write) */
    bool rx_timeout;            /* character timeout pending */
    uint8_t msr_delta;          /* MSR bits 0-3 */
    bool irq_level;
};

uint8_t uart_read(struct uart *u, unsigned reg);
void uart_write(struct uart *u, unsigned reg, uint8_t val);
/* A byte arriving on the line (from the host, or looped back). */
void uart_receive(struct uart *u, uint8_t byte);

#endif
