/* boot.ini: parsing, and staging a rewritten copy that later fixups see. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "drivers-inject/bootini.h"

/* Parses boot.ini's default and [operating systems] lines. */
void boot_ini_parse(struct guest *g)
{
    bool in_os = false;
    g->n_boot_entries = 0;
    g->boot_default[0] = '\0';
    const char *p = g->boot_ini;
    while (p && *p) {
        size_t n = strcspn(p, "\r\n");
        char line[256];
        size_t m = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
        memcpy(line, p, m);
        line[m] = '\0';
        p += n;
        while (*p == '\r' || *p == '\n')
            p++;
        char *t = line;
        while (*t == ' ' || *t == '\t')
            t++;
        if (*t == '[') {
            in_os = strncasecmp(t, "[operating systems]", 19) == 0;
            continue;
        }
        if (strncasecmp(t, "default", 7) == 0 && !in_os) {
            char *eq = strchr(t, '=');
            if (eq)
                snprintf(g->boot_default, sizeof(g->boot_default), "%s", eq + 1);
            continue;
        }
        if (in_os && *t && *t != ';' && g->n_boot_entries < MAX_BOOT_ENTRIES)
            snprintf(g->boot_entries[g->n_boot_entries++], sizeof(g->boot_entries[0]), "%s", t);
    }
}

int boot_ini_stage(struct inject *ctx, const char *text, struct vd_error **errp)
{
    size_t len = strlen(text);
    char *staged = strdup(text), *copy = strdup(text);
    if (!staged || !copy) {
        free(staged);
        free(copy);
        return vd_error_set(errp, -ENOMEM, "out of memory");
    }
    int ret = inject_stage_file(ctx, "boot.ini", (uint8_t *)staged, len);
    if (ret < 0) {
        free(copy);
        return vd_error_set(errp, ret, "out of memory");
    }
    free(ctx->g.boot_ini);
    ctx->g.boot_ini = copy;
    boot_ini_parse(&ctx->g);
    return 0;
}

void boot_ini_arc(const char *line, char *out, size_t len)
{
    size_t n = strcspn(line, "=");
    while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    snprintf(out, len, "%.*s", (int)n, line);
}
