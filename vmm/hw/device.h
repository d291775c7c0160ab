/* Emulated devices: each vmm/hw/<device>.c exports one vmm_device_ops,
 * listed in devices.c. The machine allocates state_size bytes (zeroed) for
 * each device and hands that pointer to every hook. */
#ifndef VMM_HW_DEVICE_H
#define VMM_HW_DEVICE_H

#include <stddef.h>
#include <stdio.h>

#include "common/error.h"
#include "vmm/machine.h"

struct vmm_device_ops {
    const char *name;
    size_t state_size;
    /* Registers ports/MMIO/timers and opens files named in the config.
     * Returns 0 or a negative errno with *errp set. */
    int (*init)(struct machine *m, void *state, struct vd_error **errp);
    /* Puts the device in its power-on state (may be NULL). */
    void (*reset)(void *state);
    /* A short summary for the exit line, e.g. "last POST code 0x42";
     * writes nothing when there is nothing to say (may be NULL). */
    void (*report)(void *state, char *buf, size_t len);
    /* Releases what init acquired (may be NULL). */
    void (*fini)(void *state);
};

/* NULL-terminated, in initialisation order. */
extern const struct vmm_device_ops *const vmm_devices[];

#endif
