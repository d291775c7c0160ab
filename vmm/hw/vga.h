/* Standard VGA (registers at 0x3B0-0x3DF, the VGA BIOS from the seabios
 * package on a PCI ROM BAR of a 1234:1111 device) with the Bochs VBE
 * interface (0x1CE/0x1CF) and a 16 MiB linear framebuffer on BAR 0. */
#ifndef VMM_HW_VGA_H
#define VMM_HW_VGA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct vga;
struct machine;

/* The text screen as lines of characters (code page 437 bytes, spaces for
 * NULs, '\n' after each row), NUL-terminated. Returns the number of rows,
 * or 0 when the display is not in a text mode. */
int vga_screen_text(struct vga *v, char *buf, size_t len);
/* Writes the current screen (text or VBE graphics) as a PNG. */
int vga_screenshot(struct vga *v, const char *path, struct vd_error **errp);
/* The device's state on machine M, or NULL when there is no VGA. */
struct vga *vga_of(struct machine *m);

#endif
