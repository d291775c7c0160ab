/* Registry hives of the guest, edited through hivex on a temporary copy
 * and written back only when something changed. Key paths use '\' and are
 * matched case-insensitively, as Windows does. Every set that changes a
 * value is recorded as a change of the running fixup, so an unchanged
 * value costs nothing and a second run records nothing. */
#ifndef DRIVERS_INJECT_HIVE_H
#define DRIVERS_INJECT_HIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hivex.h>

#include "drivers-inject/inject.h"

struct hive {
    char *guest_path;       /* path in the system volume */
    char *label;            /* "SYSTEM", for reports */
    char tmp[64];           /* the hivex working copy */
    hive_h *h;
    bool dirty;
};

/* Loads GUEST_PATH from the volume; -ENOENT when absent. */
int hive_load(struct guest_vol *vol, const char *guest_path, const char *label,
              struct hive **hp, struct vd_error **errp);
void hive_free(struct hive *hv);
/* Commits a dirty hive and writes it back into the volume. */
int hive_write_back(struct hive *hv, struct guest_vol *vol, struct vd_error **errp);
/* The committed bytes of a dirty hive (for tests and staging). */
int hive_serialize(struct hive *hv, uint8_t **datap, size_t *lenp, struct vd_error **errp);

/* Node at PATH ("ControlSet001\\Services\\atapi"), or 0. */
hive_node_h hive_node(struct hive *hv, const char *path);
/* Node at PATH, creating missing keys (recorded as changes). */
int hive_mknode(struct inject *ctx, struct hive *hv, const char *path,
                hive_node_h *nodep, struct vd_error **errp);

/* Value readers; false when the value is absent or of another type. */
bool hive_get_dword(struct hive *hv, const char *path, const char *name, uint32_t *v);
/* REG_SZ / REG_EXPAND_SZ as UTF-8, malloc'd; NULL when absent. */
char *hive_get_string(struct hive *hv, const char *path, const char *name);
/* REG_MULTI_SZ as a NULL-terminated array (free with hive_free_strings). */
char **hive_get_multi(struct hive *hv, const char *path, const char *name);
void hive_free_strings(char **s);
/* Raw value bytes, malloc'd. */
uint8_t *hive_get_binary(struct hive *hv, const char *path, const char *name,
                         size_t *lenp, hive_type *typep);
/* Names of the subkeys of PATH (malloc'd array, NULL-terminated). */
char **hive_children(struct hive *hv, const char *path);

/* Setters: create the key if needed, change the value only when it differs,
 * and record the change. */
int hive_set_dword(struct inject *ctx, struct hive *hv, const char *path,
                   const char *name, uint32_t v, struct vd_error **errp);
int hive_set_string(struct inject *ctx, struct hive *hv, const char *path,
                    const char *name, hive_type type, const char *v,
                    struct vd_error **errp);
int hive_set_multi(struct inject *ctx, struct hive *hv, const char *path,
                   const char *name, const char *const *v, struct vd_error **errp);
int hive_set_binary(struct inject *ctx, struct hive *hv, const char *path,
                    const char *name, hive_type type, const uint8_t *data,
                    size_t len, struct vd_error **errp);

/* "ControlSet001", from a control set number. */
void control_set_name(int n, char *buf, size_t len);

#endif
