/* Host input into the i8042's PS/2 keyboard and mouse (--send-keys, VNC). */
#ifndef VMM_HW_I8042_H
#define VMM_HW_I8042_H

#include <stdbool.h>
#include <stdint.h>

struct machine;
struct i8042;

/* The controller on machine M, or NULL when it has none. */
struct i8042 *i8042_of(struct machine *m);
/* True when the keyboard scans and nothing waits for the guest to read:
 * the moment to press the next key without overrunning its buffer. */
bool i8042_kbd_idle(const struct i8042 *k);
/* Scan code bytes (set 1, what the controller delivers with translation
 * on, as every PC BIOS leaves it) from the keyboard; dropped while the
 * keyboard does not scan. */
void i8042_kbd_input(struct i8042 *k, const uint8_t *codes, int n);
/* A relative mouse movement (DY up is positive, as PS/2 has it) with the
 * button state (bit 0 left, 1 right, 2 middle); dropped while the mouse
 * does not report or the controller's buffer is nearly full. */
void i8042_mouse_input(struct i8042 *k, int dx, int dy, unsigned buttons);

#endif
