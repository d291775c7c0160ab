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
/* The current screen (text, 16- and 256-colour legacy graphics, VBE) as a
 * malloc'd RGB buffer of *W x *H pixels, or NULL when the display is in a
 * mode this does not render (or out of memory). */
uint8_t *vga_render(const struct vga *v, int *w, int *h);
/* Writes the current screen (text or VBE graphics) as a PNG. */
int vga_screenshot(struct vga *v, const char *path, struct vd_error **errp);
/* Read-only pixel access for the verdict engine, without rendering the
 * frame. vga_graphics_size: true with the size when the display is in a
 * legacy-window graphics mode (16-colour planar 0Dh-12h, 256-colour
 * chain-4 13h; not text, not VBE). vga_graphics_pixel: the DAC index of
 * pixel X,Y (0 <= X < W, 0 <= Y < H) after the attribute palette.
 * vga_dac_rgb: DAC entry INDEX as 8-bit RGB. */
bool vga_graphics_size(const struct vga *v, int *w, int *h);
uint8_t vga_graphics_pixel(const struct vga *v, int x, int y);
void vga_dac_rgb(const struct vga *v, uint8_t index, uint8_t rgb[3]);
/* The device's state on machine M, or NULL when there is no VGA. */
struct vga *vga_of(struct machine *m);

#endif
