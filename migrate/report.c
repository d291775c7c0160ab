/* The report of a run: OUTDIR/report.json (schema in docs/migrate.md) and
 * OUTDIR/report.html, one self-contained page (the boot check's screenshot
 * is inlined as a data: URI). Both are written through a temporary file
 * and renamed, so a reader never sees half a report. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "migrate/run.h"

static json_object *jstr(const char *s) { return json_object_new_string(s ? s : ""); }

static void iso_time(double t, char *buf, size_t len)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_object *vm_json(const struct mig_vm *vm)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", jstr(vm->name));
    json_object_object_add(o, "memory_mib", json_object_new_int64((int64_t)vm->memory_mib));
    json_object_object_add(o, "vcpus", json_object_new_int(vm->vcpus));
    json_object_object_add(o, "firmware", jstr(vm->uefi ? "uefi" : "bios"));
    json_object_object_add(o, "acpi", json_object_new_boolean(vm->acpi));
    json_object_object_add(o, "apic", json_object_new_boolean(vm->apic));
    json_object_object_add(o, "clock", jstr(vm->localtime ? "localtime" : "utc"));
    json_object_object_add(o, "os", jstr(vm->os));
    json_object_object_add(o, "product", jstr(vm->product));
    json_object_object_add(o, "hal", jstr(vm->hal));
    json_object *disks = json_object_new_array();
    for (int i = 0; i < vm->n_disks; i++) {
        const struct mig_disk *d = &vm->disks[i];
        json_object *j = json_object_new_object();
        char dev[8];
        snprintf(dev, sizeof(dev), "hd%c", 'a' + i);
        json_object_object_add(j, "file", jstr(d->file));
        json_object_object_add(j, "source", jstr(d->source));
        json_object_object_add(j, "format", jstr(d->format ? d->format : ""));
        json_object_object_add(j, "size", json_object_new_int64((int64_t)d->size));
        json_object_object_add(j, "bus", jstr("ide"));
        json_object_object_add(j, "device", jstr(dev));
        json_object_object_add(j, "boot_order", json_object_new_int(d->boot_order));
        json_object_object_add(j, "index", json_object_new_int((int)d->index));
        json_object_object_add(j, "system", json_object_new_boolean(d->system));
        json_object_object_add(j, "repair", jstr(d->repair));
        json_object_array_add(disks, j);
    }
    json_object_object_add(o, "disks", disks);
    json_object *nics = json_object_new_array();
    for (int i = 0; i < vm->n_nics; i++) {
        json_object *j = json_object_new_object();
        json_object_object_add(j, "mac", vm->nics[i].mac[0] ? jstr(vm->nics[i].mac) : NULL);
        json_object_object_add(j, "model", jstr(mig_nic_qemu_name(vm->nics[i].model)));
        json_object_object_add(j, "description", jstr(mig_nic_description(vm->nics[i].model)));
        json_object_object_add(j, "why", jstr(vm->nics[i].why));
        json_object_array_add(nics, j);
    }
    json_object_object_add(o, "nics", nics);
    json_object_object_add(o, "network", jstr(vm->network));
    json_object_object_add(o, "display", jstr("vga"));
    return o;
}

static int write_json(const struct mig_run *r, struct vd_error **errp)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "schema", json_object_new_int(1));
    json_object_object_add(o, "source", jstr(r->source));
    json_object_object_add(o, "target", jstr(r->target->name));
    json_object_object_add(o, "definition", r->definition[0] ? jstr(r->definition) : NULL);
    json_object_object_add(o, "finished", json_object_new_boolean(r->finished));
    json_object_object_add(o, "ready", json_object_new_boolean(r->ready));
    json_object_object_add(o, "failure", r->failure[0] ? jstr(r->failure) : NULL);
    json_object *steps = json_object_new_array();
    for (int i = 0; i < N_STEPS; i++) {
        const struct mig_step *s = &r->steps[i];
        json_object *j = json_object_new_object();
        char t[32];
        json_object_object_add(j, "name", jstr(s->name));
        json_object_object_add(j, "status", jstr(s->status));
        if (s->start > 0) {
            iso_time(s->start, t, sizeof(t));
            json_object_object_add(j, "started", jstr(t));
        }
        if (s->end > 0) {
            snprintf(t, sizeof(t), "%.1f", s->end - s->start);
            json_object_object_add(j, "seconds", json_object_new_double_s(s->end - s->start, t));
        }
        json_object_object_add(j, "detail", jstr(s->detail));
        json_object_array_add(steps, j);
    }
    json_object_object_add(o, "steps", steps);
    json_object_object_add(o, "vm", vm_json(&r->vm));
    json_object *inject = json_object_new_object();
    json_object_object_add(inject, "status", jstr(r->inject_status));
    json_object *changes = json_object_new_array();
    for (int i = 0; i < r->n_changes; i++)
        json_object_array_add(changes, jstr(r->changes[i]));
    json_object_object_add(inject, "changes", changes);
    json_object_object_add(o, "repair", inject);
    json_object *warnings = json_object_new_array();
    for (int i = 0; i < r->n_warnings; i++)
        json_object_array_add(warnings, jstr(r->warnings[i]));
    json_object_object_add(o, "warnings", warnings);
    json_object *v = json_object_new_object();
    json_object_object_add(v, "kind", jstr(r->verdict));
    json_object_object_add(v, "detail", jstr(r->verdict_detail));
    json_object_object_add(v, "booted", json_object_new_boolean(!strcmp(r->verdict, "booted")));
    char secs[32];
    snprintf(secs, sizeof(secs), "%.1f", r->verdict_seconds);
    json_object_object_add(v, "seconds", json_object_new_double_s(r->verdict_seconds, secs));
    json_object_object_add(v, "screenshot", r->screenshot[0] ? jstr(r->screenshot) : NULL);
    json_object_object_add(o, "verdict", v);

    char tmp[4400], path[4400];
    snprintf(tmp, sizeof(tmp), "%s/report.json.tmp", r->outdir);
    snprintf(path, sizeof(path), "%s/report.json", r->outdir);
    int ret = json_object_to_file_ext(tmp, o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    json_object_put(o);
    if (ret < 0)
        return vd_error_set(errp, -EIO, "cannot write %s", tmp);
    if (rename(tmp, path) != 0)
        return vd_error_set_errno(errp, -errno, "cannot rename %s to %s", tmp, path);
    return 0;
}

static void html_str(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void base64_file(FILE *out, const char *path)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    FILE *in = fopen(path, "rb");
    if (!in)
        return;
    unsigned char b[3];
    size_t n;
    while ((n = fread(b, 1, 3, in)) > 0) {
        unsigned v = (unsigned)b[0] << 16 | (n > 1 ? (unsigned)b[1] << 8 : 0) | (n > 2 ? b[2] : 0);
        fputc(b64[v >> 18 & 63], out);
        fputc(b64[v >> 12 & 63], out);
        fputc(n > 1 ? b64[v >> 6 & 63] : '=', out);
        fputc(n > 2 ? b64[v & 63] : '=', out);
    }
    fclose(in);
}

static void row(FILE *f, const char *key, const char *value)
{
    fputs("<tr><th>", f);
    html_str(f, key);
    fputs("</th><td>", f);
    html_str(f, value);
    fputs("</td></tr>\n", f);
}

static int write_html(const struct mig_run *r, struct vd_error **errp)
{
    FILE *f;
    int ret = mig_open_out(r->outdir, "report.html", &f, errp);
    if (ret < 0)
        return ret;
    const struct mig_vm *vm = &r->vm;
    bool ok = r->ready;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>p2v migrate: ", f);
    html_str(f, vm->name);
    fputs("</title>\n<style>\nbody{font-family:sans-serif;margin:2em;max-width:60em}\n"
          "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}\n"
          ".verdict{font-size:1.6em;padding:.6em;border-radius:.3em}.ok{background:#d7f5d7}.bad{background:#f7d4d4}\n"
          "img{border:1px solid #888;max-width:100%}\n</style></head><body>\n", f);
    fputs("<h1>p2v migrate: ", f);
    html_str(f, vm->name);
    fputs(" to ", f);
    html_str(f, r->target->name);
    fputs("</h1>\n", f);
    fprintf(f, "<p id=\"verdict\" class=\"verdict %s\">", ok ? "ok" : "bad");
    char line[1400];
    if (ok && !strcmp(r->verdict, "booted"))
        snprintf(line, sizeof(line), "Ready: the VM booted (%s)", r->verdict_detail);
    else if (ok)
        snprintf(line, sizeof(line), "Ready: the VM is written (boot check skipped)");
    else if (!r->finished)
        snprintf(line, sizeof(line), "Not finished: %s", r->failure[0] ? r->failure : "the run is still going or was killed");
    else
        snprintf(line, sizeof(line), "Not ready: %s", r->failure);
    html_str(f, line);
    fputs("</p>\n", f);
    if (r->screenshot[0]) {
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s", r->outdir, r->screenshot);
        fputs("<h2>The last screen of the boot check</h2>\n<img id=\"screenshot\" alt=\"last screen\" src=\"data:image/png;base64,", f);
        base64_file(f, path);
        fputs("\">\n", f);
    }
    fputs("<h2>Virtual hardware</h2>\n<table>\n", f);
    char v[600];
    row(f, "Definition", r->definition[0] ? r->definition : "(not written)");
    snprintf(v, sizeof(v), "%s%s%s", vm->product[0] ? vm->product : vm->os, vm->hal[0] ? ", HAL " : "", vm->hal);
    row(f, "Guest", v);
    snprintf(v, sizeof(v), "%llu MiB", (unsigned long long)vm->memory_mib);
    row(f, "Memory", v);
    snprintf(v, sizeof(v), "%d", vm->vcpus);
    row(f, "CPUs", v);
    snprintf(v, sizeof(v), "%s, ACPI %s, APIC %s, clock %s", vm->uefi ? "UEFI" : "BIOS", vm->acpi ? "on" : "off",
             vm->apic ? "on" : "off", vm->localtime ? "local time" : "UTC");
    row(f, "Platform", v);
    for (int i = 0; i < vm->n_disks; i++) {
        snprintf(v, sizeof(v), "IDE hd%c: %s (%s, %llu bytes, boot order %d)%s%s", 'a' + i, vm->disks[i].file,
                 vm->disks[i].format ? vm->disks[i].format : "?", (unsigned long long)vm->disks[i].size,
                 vm->disks[i].boot_order, vm->disks[i].repair[0] ? "; " : "", vm->disks[i].repair);
        row(f, "Disk", v);
    }
    for (int i = 0; i < vm->n_nics; i++) {
        snprintf(v, sizeof(v), "%s %s (%s)", mig_nic_description(vm->nics[i].model),
                 vm->nics[i].mac[0] ? vm->nics[i].mac : "(new MAC)", vm->nics[i].why);
        row(f, "NIC", v);
    }
    row(f, "Display", "VGA");
    fputs("</table>\n<h2>Steps</h2>\n<table>\n", f);
    for (int i = 0; i < N_STEPS; i++) {
        snprintf(v, sizeof(v), "%s%s%s", r->steps[i].status, r->steps[i].detail[0] ? ": " : "", r->steps[i].detail);
        row(f, r->steps[i].name, v);
    }
    fputs("</table>\n<h2>Changes made by the repair</h2>\n", f);
    if (!r->n_changes)
        fputs("<p>None.</p>\n", f);
    else {
        fputs("<ul>\n", f);
        for (int i = 0; i < r->n_changes; i++) {
            fputs("<li>", f);
            html_str(f, r->changes[i]);
            fputs("</li>\n", f);
        }
        fputs("</ul>\n", f);
    }
    fputs("<h2>Warnings</h2>\n", f);
    if (!r->n_warnings)
        fputs("<p>None.</p>\n", f);
    else {
        fputs("<ul>\n", f);
        for (int i = 0; i < r->n_warnings; i++) {
            fputs("<li>", f);
            html_str(f, r->warnings[i]);
            fputs("</li>\n", f);
        }
        fputs("</ul>\n", f);
    }
    fputs("</body></html>\n", f);
    return mig_close_out(f, r->outdir, "report.html", errp);
}

int mig_report_write(const struct mig_run *r, struct vd_error **errp)
{
    int ret = write_json(r, errp);
    if (ret == 0)
        ret = write_html(r, errp);
    return ret;
}
