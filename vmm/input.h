/* Keyboard input from the host: key names and characters to PC scan codes
 * (set 1), and --send-keys, which types prepared keys into the guest when
 * a delay has passed or a text has appeared on the screen or a serial port. */
#ifndef VMM_INPUT_H
#define VMM_INPUT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

struct machine;

/* A key: its set-1 make code, 0xE0-prefixed when EXTENDED. */
struct pc_key {
    uint8_t code;
    bool extended;
};

enum { KEY_LSHIFT = 0x2A, KEY_LCTRL = 0x1D, KEY_LALT = 0x38 };

/* The key that types character C on a US keyboard, and whether it needs
 * shift. False when no key types C. */
bool input_char_key(unsigned char c, struct pc_key *key, bool *shift);
/* An X11/RFB keysym (as VNC sends them) to its key; false when unknown. */
bool input_keysym_key(uint32_t keysym, struct pc_key *key);
/* The make (DOWN) or break scan code bytes of KEY into OUT[4]; returns
 * their count. */
int input_key_codes(struct pc_key key, bool down, uint8_t out[4]);

struct sendkeys;
/* Adds one SPEC (see docs/vmm.md: [SEC:|/TEXT/]KEYS; @FILE reads one SPEC a
 * line). *skp is created on first use. A wrong SPEC sets *errp. */
int sendkeys_add(struct sendkeys **skp, const char *spec, struct vd_error **errp);
/* Starts typing on machine M (which must have an i8042). */
int sendkeys_attach(struct sendkeys *sk, struct machine *m, struct vd_error **errp);
/* A byte the guest wrote to serial port PORT (0 COM1, 1 COM2). */
void sendkeys_serial_byte(struct sendkeys *sk, int port, uint8_t byte);
/* What is left to type, for the exit line ("" when all was typed). */
void sendkeys_report(const struct sendkeys *sk, char *buf, size_t len);
void sendkeys_destroy(struct sendkeys *sk);

#endif
