/* libFuzzer harness for p2v migrate's readers: the first byte chooses the
 * p2v manifest (XML from the captured machine, through libxml2) or a
 * drivers-inject JSON report (through json-c); a manifest that reads is
 * then written by every target's writer, so names, MACs and paths from the
 * machine go through the escaping of each format. Links migrate_core. */
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate/migrate.h"
#include "tests/fuzz/fuzz_memfd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void quiet(void *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void quiet(void *ctx, const char *fmt, ...)
{
    (void)ctx;
    (void)fmt;
}

static void cleanup(void)
{
    for (int i = 0; i < MIG_MAX_DISKS; i++) {
        char path[128];
        snprintf(path, sizeof(path), "%s/disk%d.vhd", dir, i);
        unlink(path);
    }
    rmdir(dir);
}

/* A folder with the disk images a manifest may name, and room for the
 * definitions. */
static bool setup(void)
{
    if (dir[0])
        return true;
    snprintf(dir, sizeof(dir), "/tmp/fuzz_migrate.XXXXXX");
    if (!mkdtemp(dir))
        return false;
    atexit(cleanup);
    for (int i = 0; i < MIG_MAX_DISKS; i++) {
        char path[128];
        snprintf(path, sizeof(path), "%s/disk%d.vhd", dir, i);
        FILE *f = fopen(path, "w");
        if (f)
            fclose(f);
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || !setup())
        return 0;
    char path[64];
    int fd = fuzz_memfd("migrate", data + 1, size - 1, path);
    if (fd < 0)
        return 0;
    struct vd_error *err = NULL;
    if (data[0] & 1) {
        struct mig_guest_facts facts;
        char status[64];
        if (mig_facts_from_inject_report(&facts, status, sizeof(status), path, &err) == 0) {
            /* The NIC choice from the guest's drivers, for every target. */
            struct mig_vm *vm = calloc(1, sizeof(*vm));
            for (int t = 0; vm && mig_targets[t]; t++) {
                vm->n_nics = 2;
                vm->nics[0].model = MIG_NIC_RTL8139;
                snprintf(vm->nics[0].why, sizeof(vm->nics[0].why), "the source machine's NIC (8139too)");
                vm->nics[1].model = MIG_NIC_E1000;
                vm->nics[1].why[0] = 0;
                mig_model_apply_guest(vm, &facts, mig_targets[t], NULL, 0, quiet, NULL);
            }
            free(vm);
        }
    } else {
        struct mig_vm *vm = calloc(1, sizeof(*vm));
        if (vm && mig_model_from_manifest(vm, path, dir, quiet, NULL, &err) == 0 && mig_name_sanitize(vm->name)) {
            struct mig_guest_facts facts = { .found = true, .os = "windows", .hal_known = true, .major = 5 };
            snprintf(vm->network, sizeof(vm->network), "default");
            for (int i = 0; i < vm->n_disks; i++) {
                vm->disks[i].format = "vhd";
                snprintf(vm->disks[i].file, sizeof(vm->disks[i].file), "%s-disk%d.vhd", vm->name, i);
                snprintf(vm->disks[i].path, sizeof(vm->disks[i].path), "%s/%s", dir, vm->disks[i].file);
                /* An empty disk, so that the OVA writer packs its descriptor too. */
                int dfd = open(vm->disks[i].path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (dfd >= 0)
                    close(dfd);
            }
            for (int t = 0; mig_targets[t]; t++) {
                if (!mig_targets[t]->write)
                    continue;
                mig_model_apply_guest(vm, &facts, mig_targets[t], NULL, 0, quiet, NULL);
                char def[300];
                vd_error_clear(&err);
                if (mig_targets[t]->write(vm, dir, def, sizeof(def), &err) == 0) {
                    char out[400];
                    snprintf(out, sizeof(out), "%s/%s", dir, def);
                    unlink(out);
                }
            }
            for (int i = 0; i < vm->n_disks; i++)
                unlink(vm->disks[i].path);
        }
        free(vm);
    }
    vd_error_free(err);
    close(fd);
    return 0;
}
