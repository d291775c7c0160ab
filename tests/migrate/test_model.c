/* migrate/model.c: the VM model from the installed HAL, the OS and the
 * target (ACPI, APIC, CPUs, clock, memory, NIC model). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate/migrate.h"

static int n_warnings;
static char last_warning[512];

static void warn(void *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(void *ctx, const char *fmt, ...)
{
    (void)ctx;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_warning, sizeof(last_warning), fmt, ap);
    va_end(ap);
    n_warnings++;
}

static struct mig_guest_facts windows(const char *hal, bool acpi, bool apic, bool mp, int major, int minor)
{
    struct mig_guest_facts f = { .found = true, .hal_known = true, .hal_acpi = acpi, .hal_apic = apic,
                                 .hal_mp = mp, .major = major, .minor = minor };
    snprintf(f.os, sizeof(f.os), "windows");
    snprintf(f.product, sizeof(f.product), "Windows %d.%d", major, minor);
    snprintf(f.hal, sizeof(f.hal), "%s", hal);
    return f;
}

static void vm_init(struct mig_vm *vm, int vcpus, uint64_t mem, const char *nic_why, enum mig_nic_model model)
{
    memset(vm, 0, sizeof(*vm));
    vm->vcpus = vcpus;
    vm->memory_mib = mem;
    vm->n_nics = 1;
    vm->nics[0].model = model;
    snprintf(vm->nics[0].why, sizeof(vm->nics[0].why), "%s", nic_why);
    n_warnings = 0;
}

static void test_standard_pc_hal(void **state)
{
    (void)state;
    struct mig_vm vm;
    vm_init(&vm, 4, 1024, "", MIG_NIC_E1000);
    struct mig_guest_facts f = windows("Standard PC", false, false, false, 5, 0);
    mig_model_apply_guest(&vm, &f, mig_target_find("libvirt"), NULL, 4, warn, NULL);
    assert_false(vm.acpi);
    assert_false(vm.apic);
    assert_int_equal(vm.vcpus, 1);
    assert_true(vm.localtime);
    assert_int_equal(n_warnings, 1);    /* --vcpus 4 lowered */
    assert_int_equal(vm.nics[0].model, MIG_NIC_PCNET);
}

static void test_nt4_mps_hal(void **state)
{
    (void)state;
    struct mig_vm vm;
    vm_init(&vm, 2, 8192, "", MIG_NIC_E1000);
    struct mig_guest_facts f = windows("MPS Multiprocessor PC", false, true, true, 4, 0);
    mig_model_apply_guest(&vm, &f, mig_target_find("proxmox"), NULL, 0, warn, NULL);
    assert_false(vm.acpi);
    assert_true(vm.apic);
    assert_int_equal(vm.vcpus, 2);
    assert_int_equal(vm.memory_mib, 4096);  /* NT without PAE */
    assert_int_equal(n_warnings, 1);
}

static void test_acpi_up_hal_without_asking(void **state)
{
    (void)state;
    struct mig_vm vm;
    vm_init(&vm, 2, 512, "", MIG_NIC_E1000);
    struct mig_guest_facts f = windows("ACPI Uniprocessor PC", true, true, false, 5, 2);
    mig_model_apply_guest(&vm, &f, mig_target_find("hyperv"), NULL, 0, warn, NULL);
    assert_true(vm.acpi);
    assert_true(vm.apic);
    assert_int_equal(vm.vcpus, 1);
    assert_int_equal(n_warnings, 0);    /* the manifest's count, not an option: no warning */
    assert_int_equal(vm.nics[0].model, MIG_NIC_DC21140);
}

static void test_hal_asked(void **state)
{
    (void)state;
    struct mig_vm vm;
    vm_init(&vm, 2, 512, "", MIG_NIC_E1000);
    struct mig_guest_facts f = windows("ACPI Multiprocessor PC", true, true, true, 5, 2);
    mig_model_apply_guest(&vm, &f, mig_target_find("virtualserver"), "acpi-up", 2, warn, NULL);
    assert_true(vm.acpi);
    assert_false(vm.apic);
    assert_int_equal(vm.vcpus, 1);
    assert_non_null(strstr(vm.hal, "halacpi.dll"));
    vm_init(&vm, 1, 512, "", MIG_NIC_E1000);
    mig_model_apply_guest(&vm, &f, mig_target_find("libvirt"), "standard", 0, warn, NULL);
    assert_false(vm.acpi);
    assert_false(vm.apic);
}

static void test_target_cpu_limit(void **state)
{
    (void)state;
    struct mig_vm vm;
    vm_init(&vm, 2, 512, "", MIG_NIC_E1000);
    struct mig_guest_facts f = windows("ACPI Multiprocessor PC", true, true, true, 5, 2);
    mig_model_apply_guest(&vm, &f, mig_target_find("virtualserver"), NULL, 0, warn, NULL);
    assert_int_equal(vm.vcpus, 1);
    assert_false(vm.apic);      /* Virtual Server has no I/O APIC */
    assert_int_equal(n_warnings, 1);
    assert_non_null(strstr(last_warning, "virtualserver runs at most 1"));
}

static void test_unknown_guest(void **state)
{
    (void)state;
    struct mig_vm vm;
    vm_init(&vm, 2, 65536, "", MIG_NIC_E1000);
    struct mig_guest_facts f = { 0 };
    mig_model_apply_guest(&vm, &f, mig_target_find("libvirt"), NULL, 0, warn, NULL);
    assert_string_equal(vm.os, "unknown");
    assert_true(vm.acpi);
    assert_true(vm.apic);
    assert_false(vm.localtime);
    assert_int_equal(vm.vcpus, 2);
    assert_int_equal(vm.memory_mib, 65536);     /* only NT-era Windows is capped */
    assert_int_equal(vm.nics[0].model, MIG_NIC_E1000);
}

static void test_source_nic_kept(void **state)
{
    (void)state;
    struct mig_vm vm;
    vm_init(&vm, 1, 512, "the source machine's NIC (8139too)", MIG_NIC_RTL8139);
    struct mig_guest_facts f = windows("ACPI Uniprocessor PC", true, false, false, 5, 0);
    mig_model_apply_guest(&vm, &f, mig_target_find("libvirt"), NULL, 0, warn, NULL);
    assert_int_equal(vm.nics[0].model, MIG_NIC_RTL8139);
    assert_string_equal(mig_nic_qemu_name(vm.nics[0].model), "rtl8139");
}

static void add_net(struct mig_guest_facts *f, const char *driver, enum mig_nic_model nic, bool installed)
{
    f->nets_known = true;
    struct mig_net_driver *d = &f->nets[f->n_nets++];
    snprintf(d->driver, sizeof(d->driver), "%s", driver);
    snprintf(d->found, sizeof(d->found), "%s", installed ? "system32\\drivers" : "driver.cab");
    d->nic = nic;
    d->installed = installed;
}

/* The NIC model comes from the drivers the guest has, among the target's. */
static void test_nic_from_guest_drivers(void **state)
{
    (void)state;
    struct mig_vm vm;
    struct mig_guest_facts f = windows("ACPI Uniprocessor PC", true, true, false, 5, 2);
    add_net(&f, "dc21x4", MIG_NIC_DC21140, true);
    vm_init(&vm, 1, 512, "", MIG_NIC_E1000);
    mig_model_apply_guest(&vm, &f, mig_target_find("libvirt"), NULL, 0, warn, NULL);
    assert_int_equal(vm.nics[0].model, MIG_NIC_DC21140);
    assert_non_null(strstr(vm.nics[0].why, "the guest has its driver dc21x4"));
    assert_int_equal(n_warnings, 0);
    /* Proxmox has no DEC 21140: the in-box PCnet, with a warning. */
    vm_init(&vm, 1, 512, "", MIG_NIC_E1000);
    mig_model_apply_guest(&vm, &f, mig_target_find("proxmox"), NULL, 0, warn, NULL);
    assert_int_equal(vm.nics[0].model, MIG_NIC_PCNET);
    assert_int_equal(n_warnings, 1);
    assert_non_null(strstr(last_warning, "(it has dc21x4)"));
    /* VMware: neither; OVA the same. */
    vm_init(&vm, 1, 512, "", MIG_NIC_E1000);
    mig_model_apply_guest(&vm, &f, mig_target_find("ova"), NULL, 0, warn, NULL);
    assert_int_equal(vm.nics[0].model, MIG_NIC_PCNET);
    assert_int_equal(n_warnings, 1);
    /* An installed driver before one in driver.cab; the cabinet's when
     * that is all the target can use. */
    f.n_nets = 0;
    add_net(&f, "dc21x4", MIG_NIC_DC21140, false);
    add_net(&f, "pcntpci5", MIG_NIC_PCNET, true);
    vm_init(&vm, 1, 512, "", MIG_NIC_E1000);
    mig_model_apply_guest(&vm, &f, mig_target_find("libvirt"), NULL, 0, warn, NULL);
    assert_int_equal(vm.nics[0].model, MIG_NIC_PCNET);
    vm_init(&vm, 1, 512, "", MIG_NIC_E1000);
    mig_model_apply_guest(&vm, &f, mig_target_find("hyperv"), NULL, 0, warn, NULL);
    assert_int_equal(vm.nics[0].model, MIG_NIC_DC21140);
    assert_non_null(strstr(vm.nics[0].why, "Plug and Play installs"));
    assert_int_equal(n_warnings, 0);
}

static void test_nic_source_and_guest(void **state)
{
    (void)state;
    struct mig_vm vm;
    /* The source machine's NIC is kept when the guest has its driver... */
    struct mig_guest_facts f = windows("ACPI Uniprocessor PC", true, false, false, 5, 0);
    add_net(&f, "e1000nt5", MIG_NIC_E1000, true);
    add_net(&f, "rtl8139", MIG_NIC_RTL8139, true);
    vm_init(&vm, 1, 512, "the source machine's NIC (8139too)", MIG_NIC_RTL8139);
    mig_model_apply_guest(&vm, &f, mig_target_find("libvirt"), NULL, 0, warn, NULL);
    assert_int_equal(vm.nics[0].model, MIG_NIC_RTL8139);
    assert_non_null(strstr(vm.nics[0].why, "the source machine's NIC (8139too); the guest has its driver rtl8139"));
    /* ... and not when it lacks one. */
    vm_init(&vm, 1, 512, "the source machine's NIC (tulip)", MIG_NIC_DC21140);
    mig_model_apply_guest(&vm, &f, mig_target_find("libvirt"), NULL, 0, warn, NULL);
    assert_int_equal(vm.nics[0].model, MIG_NIC_E1000);
    assert_int_equal(n_warnings, 0);
    /* Linux with pcnet32 only. */
    struct mig_guest_facts l = { .found = true };
    snprintf(l.os, sizeof(l.os), "linux");
    add_net(&l, "pcnet32", MIG_NIC_PCNET, true);
    vm_init(&vm, 1, 512, "", MIG_NIC_E1000);
    mig_model_apply_guest(&vm, &l, mig_target_find("libvirt"), NULL, 0, warn, NULL);
    assert_int_equal(vm.nics[0].model, MIG_NIC_PCNET);
    /* No driver listed at all: a warning, and the Linux default. */
    l.n_nets = 0;
    vm_init(&vm, 1, 512, "", MIG_NIC_E1000);
    mig_model_apply_guest(&vm, &l, mig_target_find("libvirt"), NULL, 0, warn, NULL);
    assert_int_equal(vm.nics[0].model, MIG_NIC_E1000);
    assert_int_equal(n_warnings, 1);
    assert_non_null(strstr(last_warning, "none of the known ones"));
}

/* drivers-inject's guest.net_drivers, read back; an unknown NIC is skipped. */
static void test_net_drivers_from_report(void **state)
{
    (void)state;
    char path[] = "/tmp/test_migrate_model.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("{\"status\": \"ready\", \"guest\": {\"os\": \"windows\", \"version\": \"5.2\", \"net_drivers\": ["
          "{\"driver\": \"dc21x4\", \"nic\": \"tulip\", \"installed\": false, \"found\": \"dc21x4.sys in cab\"},"
          "{\"driver\": \"x\", \"nic\": \"virtio\", \"installed\": true},"
          "{\"nic\": \"pcnet\"}, 7]}}", f);
    fclose(f);
    struct mig_guest_facts facts;
    char status[32];
    assert_int_equal(mig_facts_from_inject_report(&facts, status, sizeof(status), path, NULL), 0);
    unlink(path);
    assert_true(facts.nets_known);
    assert_int_equal(facts.n_nets, 1);
    assert_string_equal(facts.nets[0].driver, "dc21x4");
    assert_int_equal(facts.nets[0].nic, MIG_NIC_DC21140);
    assert_false(facts.nets[0].installed);
    assert_string_equal(facts.nets[0].found, "dc21x4.sys in cab");
}

static void test_names(void **state)
{
    (void)state;
    char a[32] = "web/01\n", b[8] = "..", c[8] = "";
    assert_true(mig_name_sanitize(a));
    assert_string_equal(a, "web_01_");
    assert_false(mig_name_sanitize(b));
    assert_false(mig_name_sanitize(c));
    assert_null(mig_target_find("esx"));
    assert_string_equal(mig_target_find("ova")->vmdk_subformat, "streamOptimized");
    assert_true(mig_target_find("ova")->packs_disks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standard_pc_hal),  cmocka_unit_test(test_nt4_mps_hal),
        cmocka_unit_test(test_acpi_up_hal_without_asking), cmocka_unit_test(test_hal_asked),
        cmocka_unit_test(test_target_cpu_limit), cmocka_unit_test(test_unknown_guest),
        cmocka_unit_test(test_source_nic_kept),  cmocka_unit_test(test_names),
        cmocka_unit_test(test_nic_from_guest_drivers), cmocka_unit_test(test_nic_source_and_guest),
        cmocka_unit_test(test_net_drivers_from_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
