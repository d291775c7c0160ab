/* The VM model: filled from the p2v manifest, the inspection of the image
 * (drivers-inject's JSON report) and the target's limits. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "migrate/migrate.h"

static const struct {
    const char *qemu, *what;
} nic_names[] = {
    [MIG_NIC_E1000] = { "e1000", "Intel PRO/1000 MT (82540EM)" },
    [MIG_NIC_PCNET] = { "pcnet", "AMD PCnet-PCI II (Am79C970A)" },
    [MIG_NIC_RTL8139] = { "rtl8139", "Realtek RTL8139" },
    [MIG_NIC_NE2K_PCI] = { "ne2k_pci", "NE2000 PCI (Realtek RTL8029)" },
    [MIG_NIC_DC21140] = { "tulip", "DEC 21140 (Tulip)" },
};

const char *mig_nic_qemu_name(enum mig_nic_model m) { return nic_names[m].qemu; }
const char *mig_nic_description(enum mig_nic_model m) { return nic_names[m].what; }

bool mig_nic_from_qemu_name(const char *name, enum mig_nic_model *m)
{
    for (int i = 0; i < MIG_N_NIC_MODELS; i++)
        if (name && !strcmp(name, nic_names[i].qemu)) {
            *m = (enum mig_nic_model)i;
            return true;
        }
    return false;
}

/* The source machine's NIC, as the capture agent's Linux named its driver:
 * the guest had a driver for that hardware, so the same model is the safe
 * choice when the target can present it. */
static const struct {
    const char *linux_driver;
    enum mig_nic_model model;
} nic_by_driver[] = {
    { "e1000", MIG_NIC_E1000 },     { "e1000e", MIG_NIC_E1000 },    { "pcnet32", MIG_NIC_PCNET },
    { "8139too", MIG_NIC_RTL8139 }, { "8139cp", MIG_NIC_RTL8139 },  { "ne2k-pci", MIG_NIC_NE2K_PCI },
    { "tulip", MIG_NIC_DC21140 },   { "de2104x", MIG_NIC_DC21140 }, { "dmfe", MIG_NIC_DC21140 },
};

static void copy_attr(xmlNode *n, const char *attr, char *buf, size_t len)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)attr);
    if (v) {
        snprintf(buf, len, "%s", (const char *)v);
        xmlFree(v);
    }
}

static uint64_t u64_attr(xmlNode *n, const char *attr, bool *ok)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)attr);
    *ok = false;
    if (!v)
        return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull((const char *)v, &end, 10);
    *ok = errno == 0 && end != (const char *)v && *end == 0 && ((const char *)v)[0] != '-';
    xmlFree(v);
    return *ok ? x : 0;
}

static bool valid_mac(const char *s)
{
    if (strlen(s) != 17)
        return false;
    for (int i = 0; i < 17; i++)
        if (i % 3 == 2 ? s[i] != ':' : !strchr("0123456789abcdefABCDEF", s[i]))
            return false;
    return true;
}

bool mig_name_sanitize(char *name)
{
    for (char *p = name; *p; p++)
        if (*p == '/' || (unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '_';
    return name[0] && strcmp(name, ".") && strcmp(name, "..");
}

int mig_model_from_manifest(struct mig_vm *vm, const char *manifest, const char *dir, mig_warn_fn *warn, void *wctx,
                            struct vd_error **errp)
{
    xmlDoc *doc = xmlReadFile(manifest, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        return vd_error_set(errp, -EINVAL, "%s: not a readable XML manifest", manifest);
    int ret = 0;
    xmlNode *root = xmlDocGetRootElement(doc);
    if (!root || xmlStrcmp(root->name, (const xmlChar *)"p2v-manifest")) {
        ret = vd_error_set(errp, -EINVAL, "%s: not a p2v manifest (no <p2v-manifest> root)", manifest);
        goto out;
    }
    char state[16] = "";
    copy_attr(root, "state", state, sizeof(state));
    if (strcmp(state, "final") != 0) {
        ret = vd_error_set(errp, -EINVAL, "%s: the capture is not finished (manifest state \"%s\"); resume p2v capture first",
                           manifest, state);
        goto out;
    }
    if (!vm->name[0]) {
        copy_attr(root, "name", vm->name, sizeof(vm->name));
        mig_name_sanitize(vm->name);
    }
    for (xmlNode *n = root->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        bool ok;
        if (!xmlStrcmp(n->name, (const xmlChar *)"firmware")) {
            char type[16] = "";
            copy_attr(n, "type", type, sizeof(type));
            vm->uefi = !strcmp(type, "uefi");
        } else if (!xmlStrcmp(n->name, (const xmlChar *)"cpu")) {
            uint64_t c = u64_attr(n, "count", &ok);
            if (ok && c >= 1 && c <= 64 && !vm->vcpus)
                vm->vcpus = (int)c;
        } else if (!xmlStrcmp(n->name, (const xmlChar *)"memory")) {
            uint64_t b = u64_attr(n, "bytes", &ok);
            if (ok && b && !vm->memory_mib)
                vm->memory_mib = (b + (1 << 20) - 1) >> 20;
        } else if (!xmlStrcmp(n->name, (const xmlChar *)"nic") && vm->n_nics < MIG_MAX_NICS) {
            struct mig_nic *nic = &vm->nics[vm->n_nics];
            char mac[32] = "", driver[64] = "";
            copy_attr(n, "mac", mac, sizeof(mac));
            copy_attr(n, "driver", driver, sizeof(driver));
            if (!valid_mac(mac))
                continue;       /* the schema allows a NIC without one; nothing to keep then */
            for (int i = 0; mac[i]; i++)
                nic->mac[i] = (char)(mac[i] >= 'A' && mac[i] <= 'F' ? mac[i] + 32 : mac[i]);
            nic->mac[17] = 0;
            nic->model = MIG_NIC_E1000;
            nic->why[0] = 0;
            for (size_t i = 0; i < sizeof(nic_by_driver) / sizeof(nic_by_driver[0]); i++)
                if (!strcmp(driver, nic_by_driver[i].linux_driver)) {
                    nic->model = nic_by_driver[i].model;
                    snprintf(nic->why, sizeof(nic->why), "the source machine's NIC (%s)", driver);
                }
            vm->n_nics++;
        } else if (!xmlStrcmp(n->name, (const xmlChar *)"disk")) {
            uint64_t index = u64_attr(n, "index", &ok);
            if (!ok || index >= MIG_MAX_DISKS) {
                ret = vd_error_set(errp, -EINVAL, "%s: a <disk> without a valid index (0..%d)", manifest,
                                   MIG_MAX_DISKS - 1);
                goto out;
            }
            if (vm->n_disks >= MIG_MAX_DISKS) {
                ret = vd_error_set(errp, -E2BIG, "%s: more than %d disks", manifest, MIG_MAX_DISKS);
                goto out;
            }
            /* p2v serve names each disk DIR/disk<index>.vhd (or .raw). */
            struct mig_disk *d = &vm->disks[vm->n_disks];
            snprintf(d->source, sizeof(d->source), "%s/disk%u.vhd", dir, (unsigned)index);
            FILE *f = fopen(d->source, "rb");
            if (!f) {
                snprintf(d->source, sizeof(d->source), "%s/disk%u.raw", dir, (unsigned)index);
                f = fopen(d->source, "rb");
            }
            if (!f) {
                ret = vd_error_set(errp, -ENOENT, "%s: disk %u of the manifest has no image (%s/disk%u.vhd or .raw)",
                                   manifest, (unsigned)index, dir, (unsigned)index);
                goto out;
            }
            fclose(f);
            for (int k = 0; k < vm->n_disks; k++)
                if (vm->disks[k].index == index) {
                    ret = vd_error_set(errp, -EINVAL, "%s: disk %u is listed twice", manifest, (unsigned)index);
                    goto out;
                }
            d->index = (unsigned)index;
            d->boot_order = index == 0 ? 1 : 0;
            vm->n_disks++;
            for (xmlNode *k = n->children; k; k = k->next) {
                if (k->type != XML_ELEMENT_NODE)
                    continue;
                char v[32] = "";
                if (!xmlStrcmp(k->name, (const xmlChar *)"capture")) {
                    copy_attr(k, "verified", v, sizeof(v));
                    if (strcmp(v, "true") != 0)
                        warn(wctx, "disk %u: the server did not verify the capture's digest", (unsigned)index);
                } else if (!xmlStrcmp(k->name, (const xmlChar *)"bad-sectors")) {
                    copy_attr(k, "count", v, sizeof(v));
                    warn(wctx, "disk %u: %s sector(s) could not be read on the source and are zeros", (unsigned)index, v);
                }
            }
        }
    }
    if (!vm->n_disks)
        ret = vd_error_set(errp, -EINVAL, "%s: the manifest lists no disk", manifest);
    /* The VM's IDE positions follow the capture's disk numbers, whatever
     * order the manifest lists them in. */
    for (int i = 1; i < vm->n_disks; i++)
        for (int k = i; k > 0 && vm->disks[k - 1].index > vm->disks[k].index; k--) {
            struct mig_disk t = vm->disks[k];
            vm->disks[k] = vm->disks[k - 1];
            vm->disks[k - 1] = t;
        }
out:
    xmlFreeDoc(doc);
    return ret;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static bool jbool(json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_boolean) &&
           json_object_get_boolean(v);
}

int mig_facts_from_inject_report(struct mig_guest_facts *f, char *status, size_t status_len, const char *path,
                                 struct vd_error **errp)
{
    memset(f, 0, sizeof(*f));
    json_object *root = json_object_from_file(path);
    if (!root || !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return vd_error_set(errp, -EINVAL, "%s: not a drivers-inject JSON report", path);
    }
    const char *st = jstr(root, "status");
    snprintf(status, status_len, "%s", st ? st : "");
    json_object *g;
    if (json_object_object_get_ex(root, "guest", &g) && json_object_is_type(g, json_type_object)) {
        const char *os = jstr(g, "os"), *product = jstr(g, "product"), *version = jstr(g, "version");
        f->found = true;
        snprintf(f->os, sizeof(f->os), "%s", os ? os : "unknown");
        snprintf(f->product, sizeof(f->product), "%s", product ? product : "");
        if (version && sscanf(version, "%d.%d", &f->major, &f->minor) != 2)
            f->major = f->minor = 0;
        json_object *hal;
        if (json_object_object_get_ex(g, "hal", &hal) && json_object_is_type(hal, json_type_object)) {
            const char *name = jstr(hal, "name");
            f->hal_known = name && strcmp(name, "unknown") != 0;
            snprintf(f->hal, sizeof(f->hal), "%s", name ? name : "");
            f->hal_acpi = jbool(hal, "acpi");
            f->hal_apic = jbool(hal, "apic");
            f->hal_mp = jbool(hal, "mp");
        }
        json_object *nets;
        if (json_object_object_get_ex(g, "net_drivers", &nets) && json_object_is_type(nets, json_type_array)) {
            f->nets_known = true;
            for (size_t i = 0; i < json_object_array_length(nets) && f->n_nets < MIG_MAX_NET_DRIVERS; i++) {
                json_object *e = json_object_array_get_idx(nets, i);
                const char *driver = jstr(e, "driver"), *found = jstr(e, "found");
                struct mig_net_driver *d = &f->nets[f->n_nets];
                if (!driver || !mig_nic_from_qemu_name(jstr(e, "nic"), &d->nic))
                    continue;       /* hardware this version does not know: no model to give it */
                snprintf(d->driver, sizeof(d->driver), "%s", driver);
                snprintf(d->found, sizeof(d->found), "%s", found ? found : "");
                d->installed = jbool(e, "installed");
                f->n_nets++;
            }
        }
    }
    json_object_put(root);
    return 0;
}

static void set_why(struct mig_nic *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_why(struct mig_nic *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->why, sizeof(n->why), fmt, ap);     /* a long path in "found" is cut, not an error */
    va_end(ap);
}

static bool target_offers(const struct mig_target *t, enum mig_nic_model m)
{
    for (int i = 0; i < t->n_nics; i++)
        if (t->nics[i] == m)
            return true;
    return false;
}

/* The guest's driver for M: an installed one first, else (installed
 * false) one in its driver.cab; NULL when it has neither. */
static const struct mig_net_driver *guest_driver(const struct mig_guest_facts *f, enum mig_nic_model m, bool installed)
{
    for (int i = 0; i < f->n_nets; i++)
        if (f->nets[i].nic == m && f->nets[i].installed == installed)
            return &f->nets[i];
    return NULL;
}

/* The model of NIC I: one the target emulates and the guest has a driver
 * for (the source machine's own NIC first, then the target's order; an
 * installed driver before one Plug and Play takes from driver.cab). When
 * inspection did not list the drivers (an older drivers-inject, no OS
 * found), the in-box knowledge decides, as before; when it listed them and
 * none fits, a warning says what to install. */
static void choose_nic(struct mig_vm *vm, int i, const struct mig_guest_facts *f, const struct mig_target *t,
                       bool windows, mig_warn_fn *warn, void *wctx)
{
    struct mig_nic *n = &vm->nics[i];
    bool from_source = n->why[0] != 0;      /* the manifest named the source NIC's driver */
    char source[sizeof(n->why)];
    snprintf(source, sizeof(source), "%s", n->why);
    if (f->nets_known) {
        for (int pass = 0; pass < 2; pass++) {
            bool installed = pass == 0;
            const struct mig_net_driver *d = NULL;
            enum mig_nic_model m = n->model;
            if (from_source && target_offers(t, m))
                d = guest_driver(f, m, installed);
            for (int k = 0; !d && k < t->n_nics; k++) {
                m = t->nics[k];
                d = guest_driver(f, m, installed);
            }
            if (!d)
                continue;
            bool kept = from_source && m == n->model;
            n->model = m;
            if (installed)
                set_why(n, "%s%sthe guest has its driver %s (%s)", kept ? source : "",
                         kept ? "; " : "", d->driver, d->found);
            else
                set_why(n, "%s%sPlug and Play installs %s at first boot", kept ? source : "",
                         kept ? "; " : "", d->found);
            return;
        }
    }
    /* No driver known to be in the guest: the source NIC if the target
     * has it, else what NT 4.0 to 2003 have in the box (the PCnet, or
     * the DEC 21140 where that is all there is), e1000 for Linux. */
    enum mig_nic_model m = t->nics[0];
    const char *why = "the target's first NIC";
    if (from_source && target_offers(t, n->model)) {
        m = n->model;
        why = source;
    } else if (windows && target_offers(t, MIG_NIC_PCNET)) {
        m = MIG_NIC_PCNET;
        why = "in-box driver on NT 4.0 to 2003 (pcntn4m/pcntpci5)";
    } else if (windows && target_offers(t, MIG_NIC_DC21140)) {
        m = MIG_NIC_DC21140;
        why = "the only emulated NIC the target offers; in-box driver on NT 4.0 to 2003 (dc21x4)";
    } else if (!windows && target_offers(t, MIG_NIC_E1000)) {
        m = MIG_NIC_E1000;
        why = "every Linux since 2.4 has e1000";
    }
    char chosen[sizeof(n->why)];
    snprintf(chosen, sizeof(chosen), "%s", why);
    n->model = m;
    if (!f->nets_known) {
        snprintf(n->why, sizeof(n->why), "%s", chosen);
        return;
    }
    char has[200] = "";
    for (int k = 0; k < f->n_nets; k++)
        snprintf(has + strlen(has), sizeof(has) - strlen(has), "%s%s", k ? ", " : "", f->nets[k].driver);
    set_why(n, "no driver found in the guest for any NIC %s offers; %s", t->name, chosen);
    warn(wctx, "NIC %d: the guest has no driver for any NIC %s emulates (it has %s); %s chosen: install its driver "
         "in the guest", i, t->name, has[0] ? has : "none of the known ones", mig_nic_description(m));
}

void mig_model_apply_guest(struct mig_vm *vm, const struct mig_guest_facts *f, const struct mig_target *t,
                           const char *hal_asked, int vcpus_asked, mig_warn_fn *warn, void *wctx)
{
    snprintf(vm->os, sizeof(vm->os), "%s", f->found ? f->os : "unknown");
    snprintf(vm->product, sizeof(vm->product), "%s", f->product);
    snprintf(vm->hal, sizeof(vm->hal), "%s", f->hal);
    vm->win_major = f->major;
    vm->win_minor = f->minor;
    bool windows = !strcmp(vm->os, "windows");
    vm->localtime = windows;
    vm->acpi = vm->apic = true;
    if (windows && f->hal_known) {
        /* The HAL was installed for this hardware and only runs on it: NT
         * 4.0 and the Standard PC HAL predate ACPI, the PIC HALs have no
         * APIC, and a uniprocessor HAL starts one CPU. */
        vm->acpi = f->hal_acpi;
        vm->apic = f->hal_apic;
        if (!f->hal_mp && vm->vcpus != 1) {
            if (vcpus_asked > 1)
                warn(wctx, "the %s HAL is uniprocessor: --vcpus %d lowered to 1", f->hal, vcpus_asked);
            vm->vcpus = 1;
        }
    } else if (windows) {
        warn(wctx, "the HAL is unknown: ACPI and APIC left on");
    }
    if (windows && hal_asked) {
        /* drivers-inject --hal adds a boot.ini entry with that HAL, first
         * in the menu: the VM is built for it. */
        bool acpi = !strcmp(hal_asked, "acpi-up");
        snprintf(vm->hal, sizeof(vm->hal), "%s (boot.ini /HAL=%s)", acpi ? "ACPI Uniprocessor PC" : "Standard PC",
                 acpi ? "halacpi.dll" : "halstd.dll");
        vm->acpi = acpi;
        vm->apic = false;
        if (vm->vcpus > 1 && vcpus_asked > 1)
            warn(wctx, "--hal %s is uniprocessor: --vcpus %d lowered to 1", hal_asked, vcpus_asked);
        vm->vcpus = 1;
    }
    if (!t->has_ioapic)
        vm->apic = false;       /* the target's platform has none (Virtual Server): the boot check runs without */
    if (vm->vcpus < 1)
        vm->vcpus = 1;
    if (vm->vcpus > t->max_vcpus) {
        warn(wctx, "%s runs at most %d virtual CPU(s): %d lowered", t->name, t->max_vcpus, vm->vcpus);
        vm->vcpus = t->max_vcpus;
    }
    if (windows && vm->win_major > 0 && vm->win_major <= 5 && vm->memory_mib > 4096) {
        warn(wctx, "%s addresses at most 4 GiB without PAE: memory lowered from %llu to 4096 MiB", vm->product,
             (unsigned long long)vm->memory_mib);
        vm->memory_mib = 4096;
    }
    for (int i = 0; i < vm->n_nics; i++)
        choose_nic(vm, i, f, t, windows, warn, wctx);
}

int mig_open_out(const char *outdir, const char *file, FILE **out, struct vd_error **errp)
{
    char tmp[4400];
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", outdir, file);
    *out = fopen(tmp, "wb");
    if (!*out)
        return vd_error_set_errno(errp, -errno, "cannot create %s", tmp);
    return 0;
}

int mig_close_out(FILE *f, const char *outdir, const char *file, struct vd_error **errp)
{
    char tmp[4400], path[4400];
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", outdir, file);
    snprintf(path, sizeof(path), "%s/%s", outdir, file);
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad) {
        int e = errno ? -errno : -EIO;
        unlink(tmp);
        return vd_error_set_errno(errp, e, "cannot write %s", tmp);
    }
    if (rename(tmp, path) != 0)
        return vd_error_set_errno(errp, -errno, "cannot rename %s to %s", tmp, path);
    return 0;
}
