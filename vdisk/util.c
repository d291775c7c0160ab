/* Helpers every subcommand uses: sizes, usage errors, JSON strings. */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "formats/image.h"
#include "vdisk/vdisk.h"

bool vdisk_parse_size(const char *text, uint64_t *out)
{
    char *end;
    if (!text || !*text || *text == '-')
        return false;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text)
        return false;
    int shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    case 't': case 'T': shift = 40; break;
    case 'b': case 'B': case '\0': break;
    default: return false;
    }
    if (*end && *end != 'b' && *end != 'B') {
        end++;
        if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0 || strcmp(end, "b") == 0)
            end += strlen(end);
    } else if (*end) {
        end++;
    }
    if (*end)
        return false;
    if (shift && v > (UINT64_MAX >> shift))
        return false;
    *out = (uint64_t)v << shift;
    return true;
}

int vdisk_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vdisk %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'vdisk %s --help')\n", cmd);
    va_end(ap);
    return VDISK_USAGE;
}

int vdisk_bad_option(const char *cmd, char **argv)
{
    return vdisk_usage(cmd, "unknown option or missing value: '%s'", argv[optind - 1]);
}

int vdisk_parse_output(const char *cmd, const char *arg, bool *json)
{
    if (strcmp(arg, "json") != 0 && strcmp(arg, "human") != 0)
        return vdisk_usage(cmd, "--output must be human or json, not '%s'", arg);
    *json = strcmp(arg, "json") == 0;
    return 0;
}

int vdisk_one_image(const char *cmd, int argc, const char *format)
{
    if (optind != argc - 1)
        return vdisk_usage(cmd, "expects exactly one IMAGE");
    if (format && !vd_format_known(format))
        return vdisk_usage(cmd, "unknown format '%s'", format);
    return 0;
}

int vdisk_fail(struct vd_error *err)
{
    if (err)
        vd_error_report("vdisk", err);
    else
        fprintf(stderr, "vdisk: failed\n");
    return VDISK_FAILED;
}

const char *vdisk_qemu_format(const char *format)
{
    return strcmp(format, "vhd") == 0 ? "vpc" : format;
}

int vdisk_version(void)
{
    printf("vdisk (p2vkit) %s\n", P2VKIT_VERSION);
    return VDISK_OK;
}

int vdisk_check_options(const char *cmd, const char *format, const char *options)
{
    struct vd_error *err = NULL;
    if (vd_format_check_options(format, options, &err) == 0)
        return 0;
    int rc = vdisk_usage(cmd, "%s", err->msg);
    vd_error_free(err);
    return rc;
}
