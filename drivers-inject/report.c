/* Writes the report as JSON and as a summary for people. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/endian.h"
#include "common/json.h"
#include "drivers-inject/linux-guest.h"
#include "drivers-inject/report.h"

static void json_str_array(FILE *out, char *const *items, int n)
{
    fputc('[', out);
    for (int i = 0; i < n; i++) {
        if (i)
            fputs(", ", out);
        vd_json_string(out, items[i]);
    }
    fputc(']', out);
}

static void mounted_text(const struct mounted_device *m, char *buf, size_t len)
{
    if (m->len == 12) {
        snprintf(buf, len, "signature 0x%08X offset %llu", get_le32(m->data),
                 (unsigned long long)get_le64(m->data + 4));
        return;
    }
    if (m->len >= 8 && memcmp(m->data, "DMIO:ID:", 8) == 0) {
        snprintf(buf, len, "GPT partition");
        return;
    }
    snprintf(buf, len, "%zu bytes", m->len);
}

/* The guest's NIC drivers (net-drivers.c), for p2v migrate's NIC model. */
static void json_net_drivers(FILE *out, const struct guest *g)
{
    fputs(",\n    \"net_drivers\": [", out);
    for (int i = 0; i < g->n_net_drivers; i++) {
        const struct net_driver *d = &g->net_drivers[i];
        fputs(i ? ",\n      {\"driver\": " : "\n      {\"driver\": ", out);
        vd_json_string(out, d->driver);
        fputs(", \"nic\": ", out);
        vd_json_string(out, d->nic);
        fprintf(out, ", \"installed\": %s, \"found\": ", d->installed ? "true" : "false");
        vd_json_string(out, d->found);
        fputc('}', out);
    }
    fputc(']', out);
}

void report_json(FILE *out, const struct inject *ctx, const struct report_meta *m)
{
    const struct guest *g = &ctx->g;
    fputs("{\n  \"image\": ", out);
    vd_json_string(out, m->image);
    if (m->into) {
        fputs(",\n  \"into\": ", out);
        vd_json_string(out, m->into);
    }
    if (m->output) {
        fputs(",\n  \"output\": ", out);
        vd_json_string(out, m->output);
    }
    fprintf(out, ",\n  \"target\": ");
    vd_json_string(out, ctx->opts.target->name);
    fprintf(out, ",\n  \"dry_run\": %s,\n  \"status\": ", ctx->opts.dry_run ? "true" : "false");
    vd_json_string(out, m->status);
    fprintf(out, ",\n  \"ready\": %s", ctx->n_missing == 0 && m->ran && strcmp(m->status, "error") != 0
                                           ? "true" : "false");
    fprintf(out, ",\n  \"written\": %s", m->written ? "true" : "false");
    if (m->ran && g->kind == OS_LINUX) {
        const struct linux_guest *lx = ctx->lx;
        fputs(",\n  \"guest\": {\n    \"os\": \"linux\",\n    \"product\": ", out);
        vd_json_string(out, lx->distro);
        fputs(",\n    \"root\": ", out);
        vd_json_string(out, lx->root_dev);
        fputs(",\n    \"kernels\": [", out);
        for (int i = 0; i < lx->n_kernels; i++) {
            fputs(i ? ", " : "", out);
            vd_json_string(out, lx->kernels[i]);
        }
        fprintf(out, "],\n    \"disk_names\": \"%s\"", lx->libata ? "sdX (libata)" : "hdX (IDE)");
        json_net_drivers(out, g);
        fputs("\n  }", out);
    }
    if (m->ran) {
        fputs(",\n  \"fixups\": [", out);
        for (int i = 0; fixups[i]; i++) {
            fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", out);
            vd_json_string(out, fixups[i]->name);
            fprintf(out, ", \"applies\": %s, \"does\": ", fixups[i]->applies(ctx) ? "true" : "false");
            vd_json_string(out, fixups[i]->describe(ctx));
            fputc('}', out);
        }
        fputs("\n  ]", out);
    }
    if (m->ran && g->kind == OS_WINDOWS) {
        fputs(",\n  \"guest\": {\n    \"os\": \"windows\",\n    \"product\": ", out);
        vd_json_string(out, g->product);
        fprintf(out, ",\n    \"version\": \"%d.%d\",\n    \"build\": ", g->major, g->minor);
        vd_json_string(out, g->build);
        fputs(",\n    \"service_pack\": ", out);
        vd_json_string(out, g->service_pack);
        fputs(",\n    \"system_root\": ", out);
        char root[80];
        snprintf(root, sizeof(root), "\\%s", g->systemroot);
        vd_json_string(out, root);
        fprintf(out, ",\n    \"system_partition\": %d", ctx->pt.parts[g->system_part].number);
        fprintf(out, ",\n    \"current_control_set\": \"ControlSet%03d\"", g->current_set);
        if (g->lkg_set)
            fprintf(out, ",\n    \"last_known_good_control_set\": \"ControlSet%03d\"", g->lkg_set);
        else
            fputs(",\n    \"last_known_good_control_set\": null", out);
        fputs(",\n    \"hal\": {\"id\": ", out);
        vd_json_string(out, g->hal.id);
        fputs(", \"file\": ", out);
        vd_json_string(out, g->hal.file);
        fputs(", \"name\": ", out);
        vd_json_string(out, g->hal.known ? g->hal.name : "unknown");
        fprintf(out, ", \"acpi\": %s, \"apic\": %s, \"mp\": %s}", g->hal.acpi ? "true" : "false",
                g->hal.apic ? "true" : "false", g->hal.mp ? "true" : "false");
        fputs(",\n    \"boot_controller_services\": ", out);
        char *svc[MAX_NAMES], *dev[MAX_NAMES], *ent[MAX_BOOT_ENTRIES];
        for (int i = 0; i < g->n_boot_services; i++)
            svc[i] = (char *)(uintptr_t)g->boot_services[i];
        for (int i = 0; i < g->n_boot_devices; i++)
            dev[i] = (char *)(uintptr_t)g->boot_devices[i];
        for (int i = 0; i < g->n_boot_entries; i++)
            ent[i] = (char *)(uintptr_t)g->boot_entries[i];
        json_str_array(out, svc, g->n_boot_services);
        fputs(",\n    \"boot_controller_devices\": ", out);
        json_str_array(out, dev, g->n_boot_devices);
        fputs(",\n    \"boot_ini\": {\"default\": ", out);
        vd_json_string(out, g->boot_default);
        fputs(", \"entries\": ", out);
        json_str_array(out, ent, g->n_boot_entries);
        fprintf(out, "},\n    \"disk_signature\": \"0x%08X\",\n    \"mounted_devices\": [", g->disk_signature);
        for (int i = 0; i < g->n_mounted; i++) {
            char text[96];
            mounted_text(&g->mounted[i], text, sizeof(text));
            fputs(i ? ",\n      {\"name\": " : "\n      {\"name\": ", out);
            vd_json_string(out, g->mounted[i].name);
            fputs(", \"value\": ", out);
            vd_json_string(out, text);
            fputc('}', out);
        }
        fputs("],\n    \"disk_registry\": [", out);
        const struct disk_registry *dr = &g->disk_reg;
        for (int i = 0; i < dr->n_parts; i++) {
            const struct disk_reg_partition *p = &dr->parts[i];
            fprintf(out, "%s{\"signature\": \"0x%08X\", \"offset\": %llu, \"length\": %llu, \"letter\": ",
                    i ? ",\n      " : "\n      ", dr->disks[p->disk].signature, (unsigned long long)p->offset,
                    (unsigned long long)p->length);
            char letter[2] = { p->letter, 0 };
            vd_json_string(out, letter);
            fprintf(out, ", \"ft_type\": %u}", p->ft_type);
        }
        fputc(']', out);
        json_net_drivers(out, g);
        fputs("\n  }", out);
    }
    fputs(",\n  \"changes\": [", out);
    for (int i = 0; i < ctx->n_changes; i++) {
        fputs(i ? ",\n    {\"fixup\": " : "\n    {\"fixup\": ", out);
        vd_json_string(out, ctx->changes[i].fixup);
        fputs(", \"change\": ", out);
        vd_json_string(out, ctx->changes[i].text);
        fputc('}', out);
    }
    fputs(ctx->n_changes ? "\n  ],\n  \"missing\": " : "],\n  \"missing\": ", out);
    json_str_array(out, ctx->missing, ctx->n_missing);
    fputs(",\n  \"notes\": ", out);
    json_str_array(out, ctx->notes, ctx->n_notes);
    fputs("\n}\n", out);
}

void report_summary(FILE *out, const struct inject *ctx, const struct report_meta *m)
{
    const struct guest *g = &ctx->g;
    const char *dest = m->into ? m->into : m->output;
    fprintf(out, "Image:            %s%s%s\n", m->image, dest ? " -> " : "", dest ? dest : "");
    if (m->ran && g->kind == OS_LINUX) {
        fprintf(out, "Guest:            %s (Linux), root %s\n", ctx->lx->distro, ctx->lx->root_dev);
        for (int i = 0; i < ctx->lx->n_kernels; i++)
            fprintf(out, "  kernel:         %s\n", ctx->lx->kernels[i]);
        fprintf(out, "Target:           %s (%s IDE, disk named %s)\n", ctx->opts.target->name,
                ctx->opts.target->ide_name, ctx->lx->libata ? "sda" : "hda");
    }
    if (m->ran && g->kind == OS_WINDOWS) {
        fprintf(out, "Guest:            %s (%d.%d build %s)%s%s\n", g->product, g->major, g->minor, g->build,
                g->service_pack[0] ? ", " : "", g->service_pack);
        fprintf(out, "System root:      partition %d, \\%s\n", ctx->pt.parts[g->system_part].number, g->systemroot);
        fprintf(out, "Control sets:     current ControlSet%03d, last known good ", g->current_set);
        if (g->lkg_set)
            fprintf(out, "ControlSet%03d\n", g->lkg_set);
        else
            fprintf(out, "none\n");
        fprintf(out, "HAL:              %s%s%s%s\n", g->hal.known ? g->hal.name : "unknown",
                g->hal.known ? " (" : "", g->hal.file, g->hal.known ? ")" : "");
        fprintf(out, "Boot controller:  ");
        for (int i = 0; i < g->n_boot_services; i++)
            fprintf(out, "%s%s", i ? ", " : "", g->boot_services[i]);
        for (int i = 0; i < g->n_boot_devices; i++)
            fprintf(out, "%s%s", i || g->n_boot_services ? "; " : "", g->boot_devices[i]);
        fprintf(out, "%s\n", g->n_boot_services || g->n_boot_devices ? "" : "none found");
        fprintf(out, "boot.ini default: %s\n", g->boot_default[0] ? g->boot_default : "(none)");
        for (int i = 0; i < g->n_boot_entries; i++)
            fprintf(out, "  entry:          %s\n", g->boot_entries[i]);
        fprintf(out, "Disk signature:   0x%08X\n", g->disk_signature);
        for (int i = 0; i < g->n_mounted; i++) {
            char text[96];
            mounted_text(&g->mounted[i], text, sizeof(text));
            fprintf(out, "  mounted:        %s = %s\n", g->mounted[i].name, text);
        }
        for (int i = 0; i < g->disk_reg.n_parts; i++) {
            const struct disk_reg_partition *p = &g->disk_reg.parts[i];
            fprintf(out, "  DISK key:       %c%s disk 0x%08X, offset %llu, length %llu\n", p->letter ? p->letter : '-',
                    p->letter ? ":" : " ", g->disk_reg.disks[p->disk].signature, (unsigned long long)p->offset,
                    (unsigned long long)p->length);
        }
        fprintf(out, "Target:           %s (%s IDE)\n", ctx->opts.target->name, ctx->opts.target->ide_name);
    }
    /* "made" only for changes that are in the image: a run that cannot
     * make the image ready, or that failed, wrote none of them. */
    if (ctx->opts.dry_run)
        fprintf(out, "\nChanges that would be made (%d):\n", ctx->n_changes);
    else if (m->written || ctx->n_changes == 0)
        fprintf(out, "\nChanges made (%d):\n", ctx->n_changes);
    else if (m->write_failed)
        fprintf(out, "\nChanges (%d), writing them into the image failed part way:\n", ctx->n_changes);
    else
        fprintf(out, "\nChanges needed (%d), none made:\n", ctx->n_changes);
    /* Keys created on the way to a value are in the JSON report; the
     * values set under them say the same for people. */
    int created = 0;
    for (int i = 0; i < ctx->n_changes; i++) {
        if (strncmp(ctx->changes[i].text, "created key ", 12) == 0) {
            created++;
            continue;
        }
        fprintf(out, "  [%s] %s\n", ctx->changes[i].fixup, ctx->changes[i].text);
    }
    if (created)
        fprintf(out, "  (and %d registry keys created for these values)\n", created);
    for (int i = 0; i < ctx->n_notes; i++)
        fprintf(out, "Note: %s\n", ctx->notes[i]);
    for (int i = 0; i < ctx->n_missing; i++)
        fprintf(out, "Missing: %s\n", ctx->missing[i]);
    fprintf(out, "Result: %s\n", m->status);
}
