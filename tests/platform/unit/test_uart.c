/* 16550A: divisor latch, transmit to the output file, FIFO trigger
 * levels and overrun, interrupt identification priorities, loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/hw/uart.h"

static struct uart fresh(FILE *out)
{
    struct uart u = { 0 };
    u.in_fd = -1;
    u.out = out;
    u.irq = 4;
    return u;
}

static void divisor_latch_and_transmit(void **state)
{
    (void)state;
    FILE *out = tmpfile();
    assert_non_null(out);
    struct uart u = fresh(out);
    uart_write(&u, 3, 0x83);                    /* DLAB */
    uart_write(&u, 0, 0x01);
    uart_write(&u, 1, 0x00);
    assert_int_equal(uart_read(&u, 0), 0x01);
    uart_write(&u, 3, 0x03);
    uart_write(&u, 0, 'h');
    uart_write(&u, 0, 'i');
    assert_int_equal(uart_read(&u, 5) & 0x60, 0x60);   /* THRE, TEMT */
    rewind(out);
    char buf[8] = { 0 };
    assert_int_equal(fread(buf, 1, sizeof buf, out), 2);
    assert_string_equal(buf, "hi");
    fclose(out);
}

static void fifo_trigger_and_overrun(void **state)
{
    (void)state;
    struct uart u = fresh(NULL);
    uart_write(&u, 2, 0x81);                    /* FIFO on, trigger 8 */
    uart_write(&u, 1, 0x05);                    /* RDA + line status */
    for (int k = 0; k < 7; k++)
        uart_receive(&u, (uint8_t)('a' + k));
    assert_int_equal(uart_read(&u, 2), 0xCC);   /* character timeout, FIFO bits */
    uart_receive(&u, 'h');
    assert_int_equal(uart_read(&u, 2), 0xC4);   /* trigger level reached */
    for (int k = 0; k < 9; k++)
        uart_receive(&u, 'x');                  /* 16 + 1: one overrun */
    assert_int_equal(uart_read(&u, 2), 0xC6);   /* line status first */
    assert_int_equal(uart_read(&u, 5) & 0x03, 0x03);   /* DR | OE, reading clears OE */
    assert_int_equal(uart_read(&u, 0), 'a');
    assert_int_equal(uart_read(&u, 5) & 0x02, 0);
    uart_write(&u, 2, 0x83);                    /* clear the receive FIFO */
    assert_int_equal(uart_read(&u, 5) & 0x01, 0);
}

static void thre_interrupt_and_priorities(void **state)
{
    (void)state;
    struct uart u = fresh(NULL);
    assert_int_equal(uart_read(&u, 2), 0x01);   /* nothing pending */
    uart_write(&u, 1, 0x02);                    /* enable THRE: raised at once */
    assert_int_equal(uart_read(&u, 2), 0x02);
    assert_int_equal(uart_read(&u, 2), 0x01);   /* reading IIR acknowledged it */
    uart_write(&u, 0, 'x');
    uart_write(&u, 1, 0x03);
    uart_receive(&u, 'y');
    assert_int_equal(uart_read(&u, 2), 0x04);   /* received data beats THRE */
    assert_int_equal(uart_read(&u, 0), 'y');
    assert_int_equal(uart_read(&u, 2), 0x02);
}

static void loopback(void **state)
{
    (void)state;
    struct uart u = fresh(NULL);
    uart_write(&u, 4, 0x1F);                    /* loop, DTR, RTS, OUT1, OUT2 */
    assert_int_equal(uart_read(&u, 6) & 0xF0, 0xF0);
    uart_write(&u, 0, 0x5A);
    assert_int_equal(uart_read(&u, 5) & 0x01, 0x01);
    assert_int_equal(uart_read(&u, 0), 0x5A);
    uart_write(&u, 4, 0x10);
    assert_int_equal(uart_read(&u, 6) & 0xF0, 0x00);
    uart_write(&u, 7, 0xA5);
    assert_int_equal(uart_read(&u, 7), 0xA5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(divisor_latch_and_transmit),
        cmocka_unit_test(fifo_trigger_and_overrun),
        cmocka_unit_test(thre_interrupt_and_priorities),
        cmocka_unit_test(loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
