/* The machine's device table: one line per device, in init order (the PIC,
 * the PCI bus and the APICs first: other devices raise interrupts and put
 * functions on the bus; the local APIC links to the PIC and I/O APIC). */
#include "vmm/hw/device.h"

extern const struct vmm_device_ops debugcon_device;
extern const struct vmm_device_ops post_device;
extern const struct vmm_device_ops debugexit_device;
extern const struct vmm_device_ops pic_device;
extern const struct vmm_device_ops pci_device;
extern const struct vmm_device_ops ioapic_device;
extern const struct vmm_device_ops lapic_device;
extern const struct vmm_device_ops pit_device;
extern const struct vmm_device_ops rtc_device;
extern const struct vmm_device_ops i8042_device;
extern const struct vmm_device_ops dma_device;
extern const struct vmm_device_ops com1_device;
extern const struct vmm_device_ops com2_device;
extern const struct vmm_device_ops fwcfg_device;
extern const struct vmm_device_ops piix3_device;
extern const struct vmm_device_ops ide_device;
extern const struct vmm_device_ops piix4_pm_device;
extern const struct vmm_device_ops vga_device;
extern const struct vmm_device_ops pcnet_device;
extern const struct vmm_device_ops tulip_device;

const struct vmm_device_ops *const vmm_devices[] = {
    &debugcon_device,
    &post_device,
    &debugexit_device,
    &pic_device,
    &pci_device,
    &ioapic_device,
    &lapic_device,
    &pit_device,
    &rtc_device,
    &i8042_device,
    &dma_device,
    &com1_device,
    &com2_device,
    &fwcfg_device,
    &piix3_device,
    &ide_device,
    &piix4_pm_device,
    &vga_device,
    &pcnet_device,
    &tulip_device,
    NULL,
};
