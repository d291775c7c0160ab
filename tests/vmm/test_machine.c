/* vmm machine interface: port dispatch (registration, width splitting,
 * open bus), timers driving the run loop out of HLT, and an external
 * interrupt delivered through the INTR line and the intr_ack hook, the way
 * the PIC of the PC platform will use them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/cpu/cpu.h"
#include "vmm/machine.h"

/* Real-mode firmware: installs an INT 20h handler, STI, then HLT forever;
 * the handler writes 0x42 to the debug-exit port. */
static const uint8_t guest_main[] = {
    0x31, 0xC0,                         /* xor ax, ax */
    0x8E, 0xD8,                         /* mov ds, ax */
    0x8E, 0xD0,                         /* mov ss, ax */
    0xBC, 0x00, 0x70,                   /* mov sp, 0x7000 */
    0xC7, 0x06, 0x80, 0x00, 0x00, 0x01, /* mov word [0x80], 0x0100 */
    0xC7, 0x06, 0x82, 0x00, 0x00, 0xF0, /* mov word [0x82], 0xF000 */
    0xFB,                               /* sti */
    0xF4,                               /* hlt */
    0xEB, 0xFD,                         /* jmp hlt */
};
/* The same with interrupts enabled only for one NOP at a time: the
 * interrupt must be taken in that window (after the instruction that
 * follows STI), as BIOS wait loops ("sti; nop; cli") expect. */
static const uint8_t guest_window[] = {
    0x31, 0xC0, 0x8E, 0xD8, 0x8E, 0xD0, 0xBC, 0x00, 0x70,
    0xC7, 0x06, 0x80, 0x00, 0x00, 0x01,
    0xC7, 0x06, 0x82, 0x00, 0x00, 0xF0,
    0xFB,                               /* sti */
    0x90,                               /* nop */
    0xFA,                               /* cli */
    0xEB, 0xFB,                         /* jmp sti */
};
static const uint8_t guest_irq[] = {
    0xB0, 0x42,                         /* mov al, 0x42 */
    0xE6, 0xF4,                         /* out 0xF4, al */
    0xCF,                               /* iret */
};

/* NMI blocking: port 0x300 raises an NMI. The handler (at 0x200) raises a
 * second one, which must be held while it runs ([0x501] keeps the count 1
 * seen after a spin) and delivered at its IRET, before the main code's next
 * instruction: that reads the count 2. The exit code is count << 4 | held. */
static const uint8_t guest_nmi[0x21D] = {
    0x31, 0xC0, 0x8E, 0xD8, 0x8E, 0xD0, 0xBC, 0x00, 0x70,
    0xC7, 0x06, 0x08, 0x00, 0x00, 0x02, /* mov word [8], 0x0200 (vector 2) */
    0xC7, 0x06, 0x0A, 0x00, 0x00, 0xF0, /* mov word [10], 0xF000 */
    0xC7, 0x06, 0x00, 0x05, 0x00, 0x00, /* mov word [0x500], 0 */
    0xBA, 0x00, 0x03, 0xEE,             /* mov dx, 0x300; out dx, al: NMI */
    0xEB, 0x00,                         /* jmp $+2: a device's interrupt comes at a block end */
    0xA0, 0x00, 0x05,                   /* mov al, [0x500] */
    0xC0, 0xE0, 0x04,                   /* shl al, 4 */
    0x0A, 0x06, 0x01, 0x05,             /* or al, [0x501] */
    0xE6, 0xF4, 0xF4,                   /* out 0xF4, al; hlt */
    [0x200] =
    0x50,                               /* push ax */
    0xFE, 0x06, 0x00, 0x05,             /* inc byte [0x500] */
    0x80, 0x3E, 0x00, 0x05, 0x01,       /* cmp byte [0x500], 1 */
    0x75, 0x0F,                         /* jne done */
    0xBA, 0x00, 0x03, 0xEE,             /* mov dx, 0x300; out dx, al: NMI */
    0xB9, 0x64, 0x00, 0xE2, 0xFE,       /* mov cx, 100; loop $ */
    0xA0, 0x00, 0x05, 0xA2, 0x01, 0x05, /* mov al, [0x500]; mov [0x501], al */
    0x58, 0xCF,                         /* done: pop ax; iret */
};

struct fixture {
    char path[64];
    struct machine_config cfg;
    struct machine *m;
    int acks;
    int timer;
    uint8_t last_write;
    uint16_t last_port;
};

static int setup_with(void **state, const uint8_t *code, size_t len)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->path, sizeof f->path, "/tmp/vmm-test-rom.XXXXXX");
    int fd = mkstemp(f->path);
    assert_true(fd >= 0);
    static uint8_t rom[65536];
    memset(rom, 0xF4, sizeof rom);
    memcpy(rom, code, len);
    memcpy(rom + 0x100, guest_irq, sizeof guest_irq);
    static const uint8_t reset[] = { 0xEA, 0x00, 0x00, 0x00, 0xF0 };  /* jmp F000:0000 */
    memcpy(rom + 0xFFF0, reset, sizeof reset);
    assert_int_equal(write(fd, rom, sizeof rom), (ssize_t)sizeof rom);
    close(fd);
    f->cfg = (struct machine_config){
        .ram_mb = 4, .bios_path = f->path, .debugcon_path = "/dev/null",
        .cpu_model = "p6", .cpuid_max_leaf = -1, .timeout_sec = 10,
    };
    struct vd_error *err = NULL;
    assert_int_equal(machine_create(&f->m, &f->cfg, &err), 0);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, guest_main, sizeof guest_main);
}

static int setup_window(void **state)
{
    return setup_with(state, guest_window, sizeof guest_window);
}

static int setup_nmi(void **state)
{
    return setup_with(state, guest_nmi, sizeof guest_nmi);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    machine_destroy(f->m);
    unlink(f->path);
    free(f);
    return 0;
}

static uint8_t dev_read8(void *opaque, uint16_t port)
{
    return (uint8_t)(port & 0xFF);
}

static void dev_write8(void *opaque, uint16_t port, uint8_t val)
{
    struct fixture *f = opaque;
    f->last_port = port;
    f->last_write = val;
}

static const struct io_ops dev_io = { .read8 = dev_read8, .write8 = dev_write8 };

static void test_port_dispatch(void **state)
{
    struct fixture *f = *state;
    machine_register_io(f->m, 0x300, 4, &dev_io, f);
    assert_int_equal(machine_io_read(f->m, 0x301, 1), 0x01);
    /* no 16/32-bit handlers: split into byte accesses at port, port+1... */
    assert_int_equal(machine_io_read(f->m, 0x301, 2), 0x0201);
    assert_int_equal(machine_io_read(f->m, 0x300, 4), 0x03020100);
    machine_io_write(f->m, 0x302, 0xBBAA, 2);
    assert_int_equal(f->last_port, 0x303);
    assert_int_equal(f->last_write, 0xBB);
    /* open bus */
    assert_int_equal(machine_io_read(f->m, 0x1234, 2), 0xFFFF);
}

static int ack(void *opaque)
{
    struct fixture *f = opaque;
    f->acks++;
    machine_set_irq(f->m, false);
    return 0x20;
}

static void fire(void *opaque, uint64_t now)
{
    struct fixture *f = opaque;
    machine_set_irq(f->m, true);
}

static void test_timer_irq_wakes_hlt(void **state)
{
    struct fixture *f = *state;
    f->m->intr_ack = ack;
    f->m->intr_opaque = f;
    f->timer = machine_timer_new(f->m, fire, f);
    assert_true(f->timer >= 0);
    uint64_t t0 = machine_now_ns(f->m);
    machine_timer_arm(f->m, f->timer, t0 + 20000000);     /* 20 ms */
    assert_int_equal(machine_run(f->m), STOP_DEBUG_EXIT);
    assert_int_equal(f->m->exit_status, (0x42 << 1) | 1);
    assert_int_equal(f->acks, 1);
    /* the guest slept in HLT until the deadline */
    assert_true(machine_now_ns(f->m) - t0 >= 20000000);
}

static void nmi_write8(void *opaque, uint16_t port, uint8_t val)
{
    struct fixture *f = opaque;
    cpu_nmi(f->m->cpu);
}

static const struct io_ops nmi_io = { .write8 = nmi_write8 };

static void test_nmi_held_until_iret(void **state)
{
    struct fixture *f = *state;
    machine_register_io(f->m, 0x300, 1, &nmi_io, f);
    assert_int_equal(machine_run(f->m), STOP_DEBUG_EXIT);
    assert_int_equal(f->m->exit_status, (0x21 << 1) | 1);
}

/* An IRQ raised while the guest runs "sti; nop; cli" in a loop. */
static void test_irq_in_sti_window(void **state)
{
    struct fixture *f = *state;
    f->m->intr_ack = ack;
    f->m->intr_opaque = f;
    f->timer = machine_timer_new(f->m, fire, f);
    machine_timer_arm(f->m, f->timer, machine_now_ns(f->m) + 5000000);
    assert_int_equal(machine_run(f->m), STOP_DEBUG_EXIT);
    assert_int_equal(f->m->exit_status, (0x42 << 1) | 1);
    assert_int_equal(f->acks, 1);
}

/* Code decoded from RAM, then replaced by a device write (DMA): the new
 * code must run, not the blocks decoded from the old bytes. The guest
 * writes "mov al, 0x11; out 0xF4, al" at 0000:1000 and jumps there. */
static const uint8_t guest_dma[] = {
    0x31, 0xC0, 0x8E, 0xD8, 0x8E, 0xD0, 0xBC, 0x00, 0x70,
    0xC7, 0x06, 0x00, 0x10, 0xB0, 0x11, /* mov word [0x1000], 0x11B0 (mov al, 0x11) */
    0xC7, 0x06, 0x02, 0x10, 0xE6, 0xF4, /* mov word [0x1002], 0xF4E6 (out 0xF4, al) */
    0xEA, 0x00, 0x10, 0x00, 0x00,       /* jmp 0000:1000 */
};

static void test_dma_replaces_code(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(machine_run(f->m), STOP_DEBUG_EXIT);
    assert_int_equal(f->m->exit_status, (0x11 << 1) | 1);
    /* same place, new instructions: mov al, 0x22; out 0xF4, al */
    static const uint8_t code2[] = { 0xB0, 0x22, 0xE6, 0xF4 };
    assert_true(machine_dma_write(f->m, 0x1000, code2, sizeof code2));
    assert_false(machine_dma_write(f->m, f->m->ram_size - 2, code2, sizeof code2));
    struct cpu_state st;
    cpu_get_state(f->m->cpu, &st);
    st.eip = 0x1000;
    cpu_set_state(f->m->cpu, &st);
    f->m->stop = STOP_NONE;
    assert_int_equal(machine_run(f->m), STOP_DEBUG_EXIT);
    assert_int_equal(f->m->exit_status, (0x22 << 1) | 1);
}

/* A20 closed: 0x100000 aliases 0; open: it does not. The guest sets the
 * gate through port 0x92 (value from the test's port 0x93), writes
 * FFFF:0010 and reads it back through 0000:0000. */
static const uint8_t guest_a20[] = {
    0xE4, 0x93, 0xE6, 0x92,             /* in al, 0x93; out 0x92, al */
    0x31, 0xC0, 0x8E, 0xD8,             /* xor ax, ax; mov ds, ax */
    0xC6, 0x06, 0x00, 0x00, 0x00,       /* mov byte [0], 0 */
    0xB8, 0xFF, 0xFF, 0x8E, 0xE0,       /* mov ax, 0xFFFF; mov fs, ax */
    0x64, 0xC6, 0x06, 0x10, 0x00, 0x5A, /* mov byte [fs:0x10], 0x5A */
    0xA0, 0x00, 0x00,                   /* mov al, [0] */
    0xE6, 0xF4,                         /* out 0xF4, al */
};

static uint8_t a20_setting(void *opaque, uint16_t port)
{
    const struct fixture *f = opaque;
    return (uint8_t)f->last_write;
}

static void a20_gate(void *opaque, uint16_t port, uint8_t val)
{
    const struct fixture *f = opaque;
    cpu_set_a20(f->m->cpu, (val & 2) != 0);
}

static const struct io_ops a20_setting_io = { .read8 = a20_setting };
static const struct io_ops a20_gate_io = { .write8 = a20_gate };

static void run_a20(void **state, bool open, int want)
{
    struct fixture *f = *state;
    f->last_write = open ? 2 : 0;
    machine_register_io(f->m, 0x93, 1, &a20_setting_io, f);
    machine_register_io(f->m, 0x92, 1, &a20_gate_io, f);
    assert_int_equal(machine_run(f->m), STOP_DEBUG_EXIT);
    assert_int_equal(f->m->exit_status, ((want << 1) | 1) & 0xFF);
}

/* DMA into read-only RAM (shadow RAM write-protected, machine_set_ram_readonly)
 * is dropped page by page; the writable pages of the same transfer change. */
static void test_dma_readonly(void **state)
{
    struct fixture *f = *state;
    struct machine *m = f->m;
    uint8_t buf[0x20], back[0x20];
    memset(buf, 0xAB, sizeof buf);
    machine_set_ram_readonly(m, 0xE0000, 0x8000, false);
    machine_set_ram_readonly(m, 0xE4000, 0x4000, true);
    assert_true(machine_ram_readonly(m, 0xE4000) && machine_ram_readonly(m, 0xE7FFF));
    assert_false(machine_ram_readonly(m, 0xE3FFF) || machine_ram_readonly(m, 0xE0000));
    memset(m->ram + 0xE3FF0, 0, sizeof buf);
    assert_true(machine_dma_write(m, 0xE3FF0, buf, sizeof buf));
    assert_true(machine_dma_read(m, 0xE3FF0, back, sizeof back));
    for (unsigned k = 0; k < sizeof back; k++)
        assert_int_equal(back[k], k < 0x10 ? 0xAB : 0);
    machine_set_ram_readonly(m, 0xE4000, 0x4000, false);
    assert_true(machine_dma_write(m, 0xE3FF0, buf, sizeof buf));
    assert_memory_equal(m->ram + 0xE3FF0, buf, sizeof buf);
}

static void test_a20_closed(void **state) { run_a20(state, false, 0x5A); }
static void test_a20_open(void **state) { run_a20(state, true, 0); }

/* An MMIO range below the top of RAM (as the VGA window or a PCI BAR placed
 * there) takes the guest's accesses instead of the RAM behind it: the
 * guest reads D000:0010 (the device answers 0x5A), writes it back to
 * D000:0020 (the device records it) and exits with what it read. */
static const uint8_t guest_mmio[] = {
    0xB8, 0x00, 0xD0, 0x8E, 0xD8,       /* mov ax, 0xD000; mov ds, ax */
    0xA0, 0x10, 0x00,                   /* mov al, [0x10] */
    0xA2, 0x20, 0x00,                   /* mov [0x20], al */
    0xE6, 0xF4,                         /* out 0xF4, al */
};

static uint32_t mmio_read(void *opaque, uint32_t addr, unsigned size)
{
    return addr == 0x10 ? 0x5A : 0;
}

static void mmio_write(void *opaque, uint32_t addr, uint32_t val, unsigned size)
{
    struct fixture *f = opaque;
    f->last_port = (uint16_t)addr;
    f->last_write = (uint8_t)val;
}

static const struct mmio_ops test_mmio = { .read = mmio_read, .write = mmio_write };

static void test_mmio_below_ram_top(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(machine_register_mmio(f->m, 0xD0000, 0x1000, &test_mmio, f), 0);
    assert_int_equal(machine_run(f->m), STOP_DEBUG_EXIT);
    assert_int_equal(f->m->exit_status, ((0x5A << 1) | 1) & 0xFF);
    assert_int_equal(f->last_port, 0x20);
    assert_int_equal(f->last_write, 0x5A);
    assert_int_equal(f->m->ram[0xD0020], 0);    /* the RAM behind it is untouched */
}

static int setup_mmio(void **state)
{
    return setup_with(state, guest_mmio, sizeof guest_mmio);
}

static int setup_a20(void **state)
{
    return setup_with(state, guest_a20, sizeof guest_a20);
}

static int setup_dma(void **state)
{
    return setup_with(state, guest_dma, sizeof guest_dma);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_port_dispatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timer_irq_wakes_hlt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_irq_in_sti_window, setup_window, teardown),
        cmocka_unit_test_setup_teardown(test_nmi_held_until_iret, setup_nmi, teardown),
        cmocka_unit_test_setup_teardown(test_dma_replaces_code, setup_dma, teardown),
        cmocka_unit_test_setup_teardown(test_dma_readonly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a20_closed, setup_a20, teardown),
        cmocka_unit_test_setup_teardown(test_a20_open, setup_a20, teardown),
        cmocka_unit_test_setup_teardown(test_mmio_below_ram_top, setup_mmio, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
