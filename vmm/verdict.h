/* The verdict engine of `vmm --check`: it watches the serial ports and the
 * text screen while the guest boots, recognises success (the --expect
 * pattern, a login or shell prompt, a clean power-off) and failure (a
 * STOP screen, a kernel panic, SeaBIOS finding nothing to boot, a boot
 * sector or MBR that gives up, GRUB's rescue prompt, a triple fault, a
 * hang) and stops the machine with one verdict. */
#ifndef VMM_VERDICT_H
#define VMM_VERDICT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "vmm/machine.h"

/* One value per verdict; its name, the text that gives it and where that
 * text is looked for are its row in the rule table of verdict.c. A new
 * kind is a value here, a row there and a test (docs/vmm.md lists them). */
enum verdict_kind {
    VERDICT_NONE = 0,
    VERDICT_BOOTED,
    VERDICT_BLUESCREEN,
    VERDICT_PANIC,
    VERDICT_NO_BOOTABLE_DEVICE,
    VERDICT_TRIPLE_FAULT,
    VERDICT_HANG,
    VERDICT_TIMEOUT,
    VERDICT_NTLDR_MISSING,
    VERDICT_MISSING_OS,
    VERDICT_INVALID_PARTITION_TABLE,
    VERDICT_OS_LOAD_ERROR,
    VERDICT_GRUB_RESCUE,
    VERDICT_NO_BOOT_CODE,
    VERDICT_KIND_COUNT
};

struct verdict;

/* EXPECT: an extended regular expression, or NULL for the default success
 * rules. A bad expression is a usage error (-EINVAL with *errp set); so is
 * a rule of the table that does not compile (a bug, caught by the tests). */
int verdict_create(struct verdict **out, const char *expect, struct vd_error **errp);
void verdict_destroy(struct verdict *v);
/* Starts watching M (a machine timer samples the screen and the CPU). */
int verdict_attach(struct verdict *v, struct machine *m, struct vd_error **errp);
/* Every byte a UART transmits (PORT 0 for COM1, 1 for COM2). */
void verdict_serial_byte(struct verdict *v, int port, uint8_t byte);
/* Evaluates the text screen now (the timer does this every 100 ms). */
void verdict_check_screen(struct verdict *v, const char *screen);
/* After machine_run returned WHY: settles the verdict if nothing matched. */
void verdict_finish(struct verdict *v, enum machine_stop why, const char *stop_msg);

enum verdict_kind verdict_kind(const struct verdict *v);
const char *verdict_kind_name(enum verdict_kind k);
const char *verdict_detail(const struct verdict *v);
/* `verdict: KIND detail` or a JSON object, on one line. */
void verdict_print(const struct verdict *v, FILE *f, bool json, double seconds);

#endif
