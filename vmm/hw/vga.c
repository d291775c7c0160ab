/* VGA and Bochs VBE. The VGA BIOS (vgabios-stdvga) programs the standard
 * registers and the VBE ports; this device keeps them, decodes the LFB and
 * ROM BARs, and renders the screen for --screen-dump, --screenshot and the
 * verdict engine.
 *
 * The legacy window 0xA0000-0xBFFFF is MMIO onto video RAM, as the VGA's
 * memory map select decodes it: four planes kept interleaved (byte P of
 * dword N is plane P at offset N, QEMU's layout, so that chain-4 is a
 * linear byte view), written through the sequencer map mask and the
 * graphics controller's write modes 0-3 (rotate, set/reset, logical
 * operation, bit mask, latches) and read in read mode 0 or 1 (colour
 * compare); odd/even addressing for text modes (characters in plane 0,
 * attributes in plane 1, the font in plane 2); the Bochs VBE bank when
 * VBE is enabled. Rendered: text modes, 16-colour planar graphics (modes
 * 0x0D-0x12), 256-colour chain-4 (mode 0x13) and VBE LFB modes. Not
 * modelled: CGA-compatible modes 4-6 (shift-register interleave), split
 * screen, horizontal panning, the cursor. */
#include "vmm/hw/vga.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/firmware.h"
#include "vmm/hw/pc.h"

#define VRAM_SIZE (16u << 20)
#define VGA_WINDOW 0xA0000u
#define VGA_WINDOW_SIZE 0x20000u
#define ROM_BAR_SIZE (64u << 10)
#define VBE_MAX_XRES 1920
#define VBE_MAX_YRES 1200

enum { VBE_ID, VBE_XRES, VBE_YRES, VBE_BPP, VBE_ENABLE, VBE_BANK, VBE_VIRT_WIDTH,
       VBE_VIRT_HEIGHT, VBE_X_OFFSET, VBE_Y_OFFSET, VBE_VIDEO_MEMORY_64K, VBE_REGS };
enum { VBE_ENABLED = 0x01, VBE_GETCAPS = 0x02, VBE_LFB = 0x40, VBE_NOCLEAR = 0x80 };

struct vga {
    struct pci_func f;
    struct machine *m;
    uint8_t *vram;
    uint8_t *rom;
    size_t rom_len;
    int lfb_mmio, rom_mmio;
    uint32_t latch;                 /* the four planes at the last read */
    uint8_t misc, seq_index, seq[8], gc_index, gc[16], crtc_index, crtc[32];
    uint8_t attr_index, attr[32];
    bool attr_flip;                 /* false: next 0x3C0 write is an index */
    uint8_t dac[256][3], dac_mask, dac_read_index, dac_write_index, dac_comp;
    bool dac_reading;
    uint8_t feature;
    uint16_t vbe_index, vbe[VBE_REGS];
    unsigned status_reads;          /* toggles the retrace bits for pollers */
};

extern const struct vmm_device_ops vga_device;

struct vga *vga_of(struct machine *m)
{
    return pc_device(m, &vga_device);
}

/* ---- legacy registers ---- */

static bool mono(const struct vga *v)
{
    return !(v->misc & 1);
}

static uint8_t vga_read8(void *opaque, uint16_t port)
{
    struct vga *v = opaque;
    /* The CRTC and status ports move with the colour/mono select. */
    if ((port >= 0x3B0 && port <= 0x3BF && !mono(v)) || (port >= 0x3D0 && port <= 0x3DF && mono(v)))
        return 0xFF;
    switch (port) {
    case 0x3C0: return v->attr_index;
    case 0x3C1: return v->attr[v->attr_index & 0x1F];
    case 0x3C2: return 0x10;                       /* input status 0: switch sense */
    case 0x3C4: return v->seq_index;
    case 0x3C5: return v->seq[v->seq_index & 7];
    case 0x3C6: return v->dac_mask;
    case 0x3C7: return v->dac_reading ? 0x03 : 0x00;
    case 0x3C8: return v->dac_write_index;
    case 0x3C9: {
        uint8_t val = v->dac[v->dac_read_index][v->dac_comp];
        if (++v->dac_comp == 3) {
            v->dac_comp = 0;
            v->dac_read_index++;
        }
        return val;
    }
    case 0x3CA: return v->feature;
    case 0x3CC: return v->misc;
    case 0x3CE: return v->gc_index;
    case 0x3CF: return v->gc[v->gc_index & 15];
    case 0x3B4: case 0x3D4: return v->crtc_index;
    case 0x3B5: case 0x3D5: return v->crtc[v->crtc_index & 31];
    case 0x3BA: case 0x3DA:
        /* Input status 1: resets the attribute flip-flop; the retrace bits
         * (0: display disabled, 3: vertical retrace) toggle so that code
         * waiting for a retrace edge moves on. */
        v->attr_flip = false;
        v->status_reads++;
        return (v->status_reads & 1) ? 0x09 : 0x00;
    default: return 0xFF;
    }
}

static void vga_write8(void *opaque, uint16_t port, uint8_t val)
{
    struct vga *v = opaque;
    if ((port >= 0x3B0 && port <= 0x3BF && !mono(v)) || (port >= 0x3D0 && port <= 0x3DF && mono(v)))
        return;
    switch (port) {
    case 0x3C0:
        if (!v->attr_flip)
            v->attr_index = val & 0x3F;
        else if ((v->attr_index & 0x1F) < 21)
            v->attr[v->attr_index & 0x1F] = val;
        v->attr_flip = !v->attr_flip;
        break;
    case 0x3C2: v->misc = val; break;
    case 0x3C4: v->seq_index = val; break;
    case 0x3C5: v->seq[v->seq_index & 7] = val; break;
    case 0x3C6: v->dac_mask = val; break;
    case 0x3C7: v->dac_read_index = val; v->dac_comp = 0; v->dac_reading = true; break;
    case 0x3C8: v->dac_write_index = val; v->dac_comp = 0; v->dac_reading = false; break;
    case 0x3C9:
        v->dac[v->dac_write_index][v->dac_comp] = val & 0x3F;
        if (++v->dac_comp == 3) {
            v->dac_comp = 0;
            v->dac_write_index++;
        }
        break;
    case 0x3CE: v->gc_index = val; break;
    case 0x3CF: v->gc[v->gc_index & 15] = val; break;
    case 0x3B4: case 0x3D4: v->crtc_index = val; break;
    case 0x3B5: case 0x3D5:
        /* CR0-CR7 are locked while CR11 bit 7 is set (except CR7 bit 4). */
        if ((v->crtc_index & 31) <= 7 && (v->crtc[0x11] & 0x80)) {
            if ((v->crtc_index & 31) == 7)
                v->crtc[7] = (uint8_t)((v->crtc[7] & ~0x10) | (val & 0x10));
            break;
        }
        v->crtc[v->crtc_index & 31] = val;
        break;
    case 0x3BA: case 0x3DA: v->feature = val; break;
    default: break;
    }
}

static void vga_write16(void *opaque, uint16_t port, uint16_t val)
{
    vga_write8(opaque, port, (uint8_t)val);
    vga_write8(opaque, (uint16_t)(port + 1), (uint8_t)(val >> 8));
}

static const struct io_ops vga_io = { .read8 = vga_read8, .write8 = vga_write8,
                                      .write16 = vga_write16 };

/* ---- Bochs VBE ---- */

static uint16_t vbe_read16(void *opaque, uint16_t port)
{
    struct vga *v = opaque;
    if (port == 0x1CE)
        return v->vbe_index;
    unsigned i = v->vbe_index;
    if (i >= VBE_REGS)
        return 0;
    if (v->vbe[VBE_ENABLE] & VBE_GETCAPS) {
        if (i == VBE_XRES) return VBE_MAX_XRES;
        if (i == VBE_YRES) return VBE_MAX_YRES;
        if (i == VBE_BPP) return 32;
    }
    return v->vbe[i];
}

static bool valid_bpp(uint16_t bpp)
{
    return bpp == 8 || bpp == 15 || bpp == 16 || bpp == 24 || bpp == 32;
}

static void vbe_write16(void *opaque, uint16_t port, uint16_t val)
{
    struct vga *v = opaque;
    if (port == 0x1CE) {
        v->vbe_index = val;
        return;
    }
    unsigned i = v->vbe_index;
    switch (i) {
    case VBE_ID:
        if (val >= 0xB0C0 && val <= 0xB0C5)
            v->vbe[VBE_ID] = val;
        break;
    case VBE_XRES: case VBE_YRES: case VBE_BPP:
        if (v->vbe[VBE_ENABLE] & VBE_ENABLED)
            break;                      /* only while disabled */
        if (i == VBE_XRES && (val > VBE_MAX_XRES || (val & 7)))
            break;
        if (i == VBE_YRES && val > VBE_MAX_YRES)
            break;
        if (i == VBE_BPP && !valid_bpp(val ? val : 8))
            break;
        v->vbe[i] = (i == VBE_BPP && !val) ? 8 : val;
        break;
    case VBE_ENABLE: {
        bool on = val & VBE_ENABLED;
        if (on && !(v->vbe[VBE_ENABLE] & VBE_ENABLED)) {
            uint32_t bytes = (uint32_t)v->vbe[VBE_XRES] * v->vbe[VBE_YRES]
                             * ((v->vbe[VBE_BPP] + 7) / 8);
            if (!v->vbe[VBE_XRES] || !v->vbe[VBE_YRES] || bytes > VRAM_SIZE) {
                val &= (uint16_t)~VBE_ENABLED;      /* a mode that does not fit */
                on = false;
            } else {
                v->vbe[VBE_VIRT_WIDTH] = v->vbe[VBE_XRES];
                v->vbe[VBE_VIRT_HEIGHT] = v->vbe[VBE_YRES];
                v->vbe[VBE_X_OFFSET] = v->vbe[VBE_Y_OFFSET] = 0;
                if (!(val & VBE_NOCLEAR))
                    memset(v->vram, 0, bytes);
            }
        }
        v->vbe[VBE_ENABLE] = val & (VBE_ENABLED | VBE_GETCAPS | VBE_LFB | VBE_NOCLEAR);
        break;
    }
    case VBE_BANK:
        v->vbe[VBE_BANK] = val & 0xFF;
        break;
    case VBE_VIRT_WIDTH: case VBE_X_OFFSET: case VBE_Y_OFFSET:
        v->vbe[i] = val;
        break;
    default:
        break;                          /* VIRT_HEIGHT, VIDEO_MEMORY: read-only */
    }
}

static uint8_t vbe_read8(void *opaque, uint16_t port)
{
    uint16_t w = vbe_read16(opaque, (uint16_t)(port & ~1u));
    return (port & 1) ? (uint8_t)(w >> 8) : (uint8_t)w;
}

static const struct io_ops vbe_io = { .read8 = vbe_read8, .read16 = vbe_read16,
                                      .write16 = vbe_write16 };

/* ---- the legacy window (0xA0000-0xBFFFF) ---- */

/* 0xFF in byte k of the result for each bit k of the 4-bit mask M. */
static uint32_t plane_mask(unsigned m)
{
    return (m & 1 ? 0xFFu : 0) | (m & 2 ? 0xFF00u : 0) | (m & 4 ? 0xFF0000u : 0)
           | (m & 8 ? 0xFF000000u : 0);
}

static bool chain4(const struct vga *v)
{
    return v->seq[4] & 0x08;
}

/* Odd/even: sequencer memory mode bit 2 clear (host addressing). */
static bool odd_even(const struct vga *v)
{
    return !(v->seq[4] & 0x04);
}

static uint32_t vram32(const struct vga *v, uint32_t idx)
{
    uint32_t w;
    memcpy(&w, v->vram + 4 * (size_t)idx, 4);
    return w;
}

/* The offset into the selected memory map of physical ADDR, or -1 when
 * the map does not decode it (reads float, writes are dropped). */
static int64_t window_offset(const struct vga *v, uint32_t addr)
{
    static const uint32_t base[4] = { 0xA0000, 0xA0000, 0xB0000, 0xB8000 };
    static const uint32_t size[4] = { 0x20000, 0x10000, 0x8000, 0x8000 };
    unsigned map = (v->gc[6] >> 2) & 3;
    uint32_t off = addr - base[map];
    return addr >= base[map] && off < size[map] ? (int64_t)off : -1;
}

static uint8_t window_read8(struct vga *v, uint32_t addr)
{
    if (v->vbe[VBE_ENABLE] & VBE_ENABLED) {
        uint32_t off = addr - VGA_WINDOW;
        return off < 0x10000 ? v->vram[((uint32_t)v->vbe[VBE_BANK] << 16) + off] : 0xFF;
    }
    int64_t o = window_offset(v, addr);
    if (o < 0)
        return 0xFF;
    uint32_t off = (uint32_t)o;
    if (chain4(v))
        return v->vram[off];
    if (odd_even(v)) {
        unsigned plane = (v->gc[4] & 2) | (off & 1);
        return v->vram[((off & ~1u) << 1) | plane];
    }
    v->latch = vram32(v, off);
    if (!(v->gc[5] & 0x08))             /* read mode 0: the read map select plane */
        return (uint8_t)(v->latch >> (8 * (v->gc[4] & 3)));
    /* Read mode 1: 1 bits where the pixel's colour matches the colour
     * compare register, in the planes colour don't care selects. */
    uint32_t diff = (v->latch ^ plane_mask(v->gc[2])) & plane_mask(v->gc[7]);
    diff |= diff >> 16;
    diff |= diff >> 8;
    return (uint8_t)~diff;
}

static void window_write8(struct vga *v, uint32_t addr, uint8_t byte)
{
    if (v->vbe[VBE_ENABLE] & VBE_ENABLED) {
        uint32_t off = addr - VGA_WINDOW;
        if (off < 0x10000)
            v->vram[((uint32_t)v->vbe[VBE_BANK] << 16) + off] = byte;
        return;
    }
    int64_t o = window_offset(v, addr);
    if (o < 0)
        return;
    uint32_t off = (uint32_t)o;
    uint8_t map_mask = v->seq[2] & 0x0F;
    if (chain4(v)) {
        if (map_mask & (1u << (off & 3)))
            v->vram[off] = byte;
        return;
    }
    if (odd_even(v)) {
        unsigned plane = (v->gc[4] & 2) | (off & 1);
        if (map_mask & (1u << plane))
            v->vram[((off & ~1u) << 1) | plane] = byte;
        return;
    }
    unsigned rot = v->gc[3] & 7;
    uint32_t val, bit_mask = v->gc[8];
    uint8_t r = (uint8_t)((byte >> rot) | (byte << ((8 - rot) & 7)));
    switch (v->gc[5] & 3) {
    case 0:                             /* rotated byte, set/reset where enabled */
        val = r * 0x01010101u;
        val = (val & ~plane_mask(v->gc[1])) | (plane_mask(v->gc[0]) & plane_mask(v->gc[1]));
        break;
    case 1:                             /* the latches, as read */
        val = v->latch;
        bit_mask = 0xFF;
        break;
    case 2:                             /* the byte's low 4 bits are a colour */
        val = plane_mask(byte & 0x0F);
        break;
    default:                            /* 3: set/reset colour through rotated byte & bit mask */
        bit_mask &= r;
        val = plane_mask(v->gc[0]);
        break;
    }
    if ((v->gc[5] & 3) != 1) {
        switch ((v->gc[3] >> 3) & 3) {  /* logical operation with the latches */
        case 1: val &= v->latch; break;
        case 2: val |= v->latch; break;
        case 3: val ^= v->latch; break;
        default: break;
        }
    }
    bit_mask *= 0x01010101u;
    val = (val & bit_mask) | (v->latch & ~bit_mask);
    uint32_t keep = ~plane_mask(map_mask), w = vram32(v, off);
    w = (w & keep) | (val & ~keep);
    memcpy(v->vram + 4 * (size_t)off, &w, 4);
}

static uint32_t window_read(void *opaque, uint32_t addr, unsigned size)
{
    struct vga *v = opaque;
    uint32_t val = 0;
    for (unsigned k = 0; k < size; k++)
        val |= (uint32_t)window_read8(v, VGA_WINDOW + addr + k) << (8 * k);
    return val;
}

static void window_write(void *opaque, uint32_t addr, uint32_t val, unsigned size)
{
    struct vga *v = opaque;
    for (unsigned k = 0; k < size; k++)
        window_write8(v, VGA_WINDOW + addr + k, (uint8_t)(val >> (8 * k)));
}

static const struct mmio_ops window_ops = { .read = window_read, .write = window_write };

/* ---- LFB and ROM BARs ---- */

static uint32_t lfb_read(void *opaque, uint32_t addr, unsigned size)
{
    const struct vga *v = opaque;
    uint32_t val = 0;
    for (unsigned k = 0; k < size; k++)
        if (addr + k < VRAM_SIZE)
            val |= (uint32_t)v->vram[addr + k] << (8 * k);
    return val;
}

static void lfb_write(void *opaque, uint32_t addr, uint32_t val, unsigned size)
{
    struct vga *v = opaque;
    for (unsigned k = 0; k < size; k++)
        if (addr + k < VRAM_SIZE)
            v->vram[addr + k] = (uint8_t)(val >> (8 * k));
}

static const struct mmio_ops lfb_ops = { .read = lfb_read, .write = lfb_write };

static uint32_t rom_read(void *opaque, uint32_t addr, unsigned size)
{
    const struct vga *v = opaque;
    uint32_t val = 0;
    for (unsigned k = 0; k < size; k++)
        val |= (uint32_t)(addr + k < v->rom_len ? v->rom[addr + k] : 0xFF) << (8 * k);
    return val;
}

static const struct mmio_ops rom_ops = { .read = rom_read };

static void bar_changed(struct pci_func *f, int bar, uint32_t addr, bool enabled)
{
    struct vga *v = f->opaque;
    if (bar == 0)
        pc_mmio_move(v->m, v->lfb_mmio, addr, enabled ? VRAM_SIZE : 0);
    else if (bar == PCI_ROM_BAR)
        pc_mmio_move(v->m, v->rom_mmio, addr, enabled ? ROM_BAR_SIZE : 0);
}

/* ---- rendering ---- */

static bool text_mode(const struct vga *v)
{
    return !(v->vbe[VBE_ENABLE] & VBE_ENABLED) && !(v->gc[6] & 1);
}

struct text_geometry {
    uint32_t base;                      /* cell index of the top left character */
    int rows, cols, char_height;
};

/* Byte B (0 character, 1 attribute, 2 font) of video RAM dword IDX. */
static uint8_t plane_byte(const struct vga *v, uint32_t idx, unsigned b)
{
    return idx < VRAM_SIZE / 4 ? v->vram[4 * (size_t)idx + b] : 0;
}

static uint32_t start_address(const struct vga *v)
{
    return (uint32_t)(v->crtc[0x0C] << 8 | v->crtc[0x0D]);
}

/* Scan lines shown: vertical display end with its overflow bits. */
static int display_lines(const struct vga *v)
{
    return (v->crtc[0x12] | ((v->crtc[7] & 0x02) << 7) | ((v->crtc[7] & 0x40) << 3)) + 1;
}

static struct text_geometry text_geometry(const struct vga *v)
{
    struct text_geometry g;
    g.base = start_address(v);
    g.cols = v->crtc[1] + 1;
    g.char_height = (v->crtc[9] & 0x1F) + 1;
    g.rows = display_lines(v) / g.char_height;
    if (g.cols < 40 || g.cols > 132 || g.rows < 1 || g.rows > 60) {
        g.cols = 80;                    /* not programmed yet: the power-on screen */
        g.rows = 25;
        g.char_height = 16;
    }
    return g;
}

int vga_screen_text(struct vga *v, char *buf, size_t len)
{
    if (!v->vram || !text_mode(v) || len == 0)
        return 0;                       /* headless (--vga none), or graphics */
    struct text_geometry g = text_geometry(v);
    size_t n = 0;
    for (int r = 0; r < g.rows; r++) {
        int last = -1;
        char line[133];
        for (int c = 0; c < g.cols; c++) {
            uint8_t ch = plane_byte(v, g.base + (uint32_t)(r * g.cols + c), 0);
            line[c] = ch ? (char)ch : ' ';
            if (line[c] != ' ')
                last = c;
        }
        /* Trailing blanks are dropped, as a terminal would show them. */
        for (int c = 0; c <= last && n + 2 < len; c++)
            buf[n++] = line[c];
        if (n + 1 < len)
            buf[n++] = '\n';
    }
    buf[n] = 0;
    return g.rows;
}

static void dac_rgb(const struct vga *v, uint8_t index, uint8_t *rgb)
{
    for (int k = 0; k < 3; k++)
        rgb[k] = (uint8_t)(v->dac[index][k] << 2 | v->dac[index][k] >> 4);
}

/* The DAC index of attribute-controller palette entry C (0-15). */
static uint8_t palette_index(const struct vga *v, unsigned c)
{
    uint8_t p = v->attr[c & 15];
    uint8_t hi = (uint8_t)((v->attr[0x14] & 0x0C) << 4);
    if (v->attr[0x10] & 0x80)           /* P5/P4 from the colour select register */
        return (uint8_t)(hi | (v->attr[0x14] & 0x03) << 4 | (p & 0x0F));
    return (uint8_t)(hi | (p & 0x3F));
}

/* The size of the legacy-window graphics mode (16-colour planar or
 * 256-colour chain-4, from the CRTC), false when it is not one this
 * renders (text, VBE, or registers not programmed yet). */
static bool graphics_size(const struct vga *v, int *w, int *h)
{
    if (!v->vram || (v->vbe[VBE_ENABLE] & VBE_ENABLED) || text_mode(v))
        return false;
    bool shift256 = v->gc[5] & 0x40;
    int width = (v->crtc[1] + 1) * (shift256 ? 4 : 8);
    int height = display_lines(v) / ((v->crtc[9] & 0x1F) + 1) / (v->crtc[9] & 0x80 ? 2 : 1);
    if (width < 8 || width > 2048 || height < 1 || height > 2048)
        return false;
    *w = width;
    *h = height;
    return true;
}

/* The DAC index of pixel X,Y of the graphics mode graphics_size accepted:
 * in planar modes one bit from each plane through the colour plane enable
 * and the attribute palette, in chain-4 one byte. */
static uint8_t graphics_pixel(const struct vga *v, int x, int y)
{
    uint32_t start = start_address(v);
    if (v->gc[5] & 0x40) {
        uint32_t b = 4 * start + (uint32_t)y * v->crtc[0x13] * 8u + (uint32_t)x;
        return plane_byte(v, b / 4, b % 4);
    }
    uint32_t d = start + (uint32_t)y * v->crtc[0x13] * 2u + (uint32_t)x / 8;
    unsigned bit = 7 - ((unsigned)x & 7), c = 0;
    for (unsigned p = 0; p < 4; p++)
        c |= ((plane_byte(v, d, p) >> bit) & 1u) << p;
    return palette_index(v, c & v->attr[0x12] & 0x0F);
}

bool vga_graphics_size(const struct vga *v, int *w, int *h)
{
    return graphics_size(v, w, h);
}

uint8_t vga_graphics_pixel(const struct vga *v, int x, int y)
{
    return graphics_pixel(v, x, y);
}

void vga_dac_rgb(const struct vga *v, uint8_t index, uint8_t rgb[3])
{
    dac_rgb(v, index, rgb);
}

/* Graphics modes through the legacy window, rendered pixel by pixel. */
static uint8_t *render_graphics(const struct vga *v, int *w, int *h)
{
    int width, height;
    if (!graphics_size(v, &width, &height))
        return NULL;                    /* not a mode this renders */
    uint8_t *img = malloc((size_t)width * (size_t)height * 3);
    if (!img)
        return NULL;
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            dac_rgb(v, graphics_pixel(v, x, y), img + ((size_t)y * (size_t)width + (size_t)x) * 3);
    *w = width;
    *h = height;
    return img;
}

uint8_t *vga_render(const struct vga *v, int *w, int *h)
{
    if (!v->vram)
        return NULL;
    if (v->vbe[VBE_ENABLE] & VBE_ENABLED) {
        int xres = v->vbe[VBE_XRES], yres = v->vbe[VBE_YRES], bpp = v->vbe[VBE_BPP];
        int stride_px = v->vbe[VBE_VIRT_WIDTH] ? v->vbe[VBE_VIRT_WIDTH] : xres;
        int bytes_pp = (bpp + 7) / 8;
        uint8_t *img = malloc((size_t)xres * (size_t)yres * 3);
        if (!img)
            return NULL;
        for (int y = 0; y < yres; y++) {
            for (int x = 0; x < xres; x++) {
                uint64_t off = ((uint64_t)(y + v->vbe[VBE_Y_OFFSET]) * (uint64_t)stride_px
                                + (uint64_t)(x + v->vbe[VBE_X_OFFSET])) * (uint64_t)bytes_pp;
                uint8_t *px = img + ((size_t)y * (size_t)xres + (size_t)x) * 3;
                if (off + (uint64_t)bytes_pp > VRAM_SIZE) {
                    px[0] = px[1] = px[2] = 0;
                    continue;
                }
                const uint8_t *s = v->vram + off;
                uint32_t p = s[0] | (bytes_pp > 1 ? s[1] << 8 : 0)
                             | (bytes_pp > 2 ? s[2] << 16 : 0);
                switch (bpp) {
                case 8: dac_rgb(v, s[0], px); break;
                case 15:
                    px[0] = (uint8_t)(((p >> 10) & 31) << 3);
                    px[1] = (uint8_t)(((p >> 5) & 31) << 3);
                    px[2] = (uint8_t)((p & 31) << 3);
                    break;
                case 16:
                    px[0] = (uint8_t)(((p >> 11) & 31) << 3);
                    px[1] = (uint8_t)(((p >> 5) & 63) << 2);
                    px[2] = (uint8_t)((p & 31) << 3);
                    break;
                default:                /* 24, 32: BGR(X) */
                    px[0] = s[2];
                    px[1] = s[1];
                    px[2] = s[0];
                    break;
                }
            }
        }
        *w = xres;
        *h = yres;
        return img;
    }
    if (!text_mode(v))
        return render_graphics(v, w, h);
    struct text_geometry g = text_geometry(v);
    int cw = 8, chh = g.char_height > 32 ? 32 : g.char_height;
    *w = g.cols * cw;
    *h = g.rows * chh;
    uint8_t *img = malloc((size_t)*w * (size_t)*h * 3);
    if (!img)
        return NULL;
    for (int r = 0; r < g.rows; r++) {
        for (int c = 0; c < g.cols; c++) {
            uint32_t cell = g.base + (uint32_t)(r * g.cols + c);
            uint8_t ch = plane_byte(v, cell, 0), at = plane_byte(v, cell, 1);
            uint8_t fg[3], bg[3];
            dac_rgb(v, v->attr[at & 0x0F] & 0x3F, fg);
            dac_rgb(v, v->attr[(at >> 4) & 0x07] & 0x3F, bg);
            for (int y = 0; y < chh; y++) {
                uint8_t bits = plane_byte(v, ch * 32u + (unsigned)y, 2);
                for (int x = 0; x < cw; x++) {
                    const uint8_t *col = (bits & (0x80 >> x)) ? fg : bg;
                    memcpy(img + (((size_t)(r * chh + y) * (size_t)*w) + (size_t)(c * cw + x)) * 3,
                           col, 3);
                }
            }
        }
    }
    return img;
}

/* libpng reports errors by longjmp: kept apart from everything that
 * owns resources. Returns 0 or -1. */
__attribute__((noinline))
static int write_png(FILE *f, const uint8_t *img, png_uint_32 w, png_uint_32 h)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (!png)
        return -1;
    png_infop info = png_create_info_struct(png);
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (png_uint_32 y = 0; y < h; y++)
        png_write_row(png, img + (size_t)y * w * 3);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int vga_screenshot(struct vga *v, const char *path, struct vd_error **errp)
{
    int w = 0, h = 0;
    uint8_t *img = vga_render(v, &w, &h);
    if (!img)
        return vd_error_set(errp, -ENOTSUP, "cannot take a screenshot: the display is in a "
                            "VGA mode that vmm does not render");
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(img);
        return vd_error_set_errno(errp, -errno, "cannot create %s", path);
    }
    int rc = 0;
    if (write_png(f, img, (png_uint_32)w, (png_uint_32)h) < 0)
        rc = vd_error_set(errp, -EIO, "cannot write PNG %s", path);
    if (fclose(f) != 0 && rc == 0)
        rc = vd_error_set_errno(errp, -errno, "cannot write %s", path);
    free(img);
    return rc;
}

/* ---- device ---- */

static void vga_reset(void *state)
{
    struct vga *v = state;
    if (!v->vram)
        return;                         /* no VGA on this machine */
    v->misc = 0x01;                     /* colour: CRTC at 0x3D4 */
    memset(v->seq, 0, sizeof v->seq);
    memset(v->gc, 0, sizeof v->gc);
    memset(v->crtc, 0, sizeof v->crtc);
    memset(v->attr, 0, sizeof v->attr);
    v->attr_flip = false;
    v->latch = 0;
    v->dac_mask = 0xFF;
    memset(v->vbe, 0, sizeof v->vbe);
    v->vbe[VBE_ID] = 0xB0C5;
    v->vbe[VBE_BPP] = 8;
    v->vbe[VBE_VIDEO_MEMORY_64K] = (uint16_t)(VRAM_SIZE >> 16);
    struct pci_func *f = &v->f;
    f->config[0x04] = 0;
    memset(f->config + 0x10, 0, 4);
    f->config[0x10] = 0x08;             /* prefetchable memory */
    memset(f->config + 0x30, 0, 4);
    f->bar_enabled[0] = f->bar_enabled[PCI_ROM_BAR] = false;
    f->bar_mapped[0] = f->bar_mapped[PCI_ROM_BAR] = 0;
    bar_changed(f, 0, 0, false);
    bar_changed(f, PCI_ROM_BAR, 0, false);
}

static void vga_fini(void *state)
{
    struct vga *v = state;
    free(v->vram);
    free(v->rom);
}

static int vga_init(struct machine *m, void *state, struct vd_error **errp)
{
    struct vga *v = state;
    const struct pc_config *pc = pc_config_of(m);
    v->m = m;
    v->lfb_mmio = v->rom_mmio = -1;
    if (pc->no_vga || !m->cfg->pc)
        return 0;                       /* headless, or the bare CPU-test machine */
    const char *rom = pc->vga_rom_path ? pc->vga_rom_path : FIRMWARE_VGA_DEFAULT;
    int rc = firmware_load(rom, "VGA BIOS", ROM_BAR_SIZE, &v->rom, &v->rom_len, errp);
    if (rc < 0)
        return rc;
    v->vram = calloc(1, VRAM_SIZE);
    if (!v->vram)
        return vd_error_set(errp, -ENOMEM, "out of memory for video RAM");
    if (machine_register_mmio(m, VGA_WINDOW, VGA_WINDOW_SIZE, &window_ops, v) < 0)
        return vd_error_set(errp, -ENOSPC, "vga: no free MMIO slot");
    v->lfb_mmio = pc_mmio_add(m, &lfb_ops, v);
    v->rom_mmio = pc_mmio_add(m, &rom_ops, v);
    if (v->lfb_mmio < 0 || v->rom_mmio < 0)
        return vd_error_set(errp, -ENOSPC, "vga: no free MMIO slot");
    struct pci_func *f = &v->f;
    pci_func_init(f, 0x10, 0x1234, 0x1111, 0x03000002, v);
    pci_func_add_bar(f, 0, VRAM_SIZE, false);
    pci_func_add_bar(f, PCI_ROM_BAR, ROM_BAR_SIZE, false);
    f->bar_changed = bar_changed;
    vga_reset(v);
    machine_register_io(m, 0x3B0, 0x30, &vga_io, v);
    machine_register_io(m, 0x1CE, 2, &vbe_io, v);
    return pci_register(m, f, errp);
}

const struct vmm_device_ops vga_device = {
    .name = "vga",
    .state_size = sizeof(struct vga),
    .init = vga_init,
    .reset = vga_reset,
    .fini = vga_fini,
};
