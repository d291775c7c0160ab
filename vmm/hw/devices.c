/* The machine's device table: one line per device, in init order. */
#include "vmm/hw/device.h"

extern const struct vmm_device_ops debugcon_device;
extern const struct vmm_device_ops post_device;
extern const struct vmm_device_ops debugexit_device;
extern const struct vmm_device_ops serial_tx_device;

const struct vmm_device_ops *const vmm_devices[] = {
    &debugcon_device,
    &post_device,
    &debugexit_device,
    &serial_tx_device,
    NULL,
};
