/* vmm: runs a firmware image on the software x86 CPU in a bare machine
 * (debug console, POST port, debug-exit port, COM1 transmitter). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "vmm/cpu/cpu.h"
#include "vmm/hw/device.h"
#include "vmm/machine.h"

static const char usage[] =
    "Usage: vmm --bios FILE [options]\n"
    "Runs FILE as the firmware of a bare PC (loaded at the top of 4 GiB and of\n"
    "the first megabyte; the CPU starts at F000:FFF0).\n"
    "\n"
    "  --bios FILE              firmware image (multiple of 4 KiB, up to 16 MiB)\n"
    "  -m, --memory MB          guest RAM in MiB (default 32, 2..3072)\n"
    "  --debugcon FILE          bytes written to ports 0x402/0xE9 (default stderr)\n"
    "  --serial FILE|stdio      COM1 output (default discarded)\n"
    "  --cpu 486|pentium|p6     CPU model and CPUID profile (default p6)\n"
    "  --cpuid-max-leaf N       cap the CPUID maximum leaf (NT 4.0 needs 2)\n"
    "  --max-instructions N     stop after N instructions (exit 1)\n"
    "  --timeout SEC            stop after SEC seconds of wall time (exit 1)\n"
    "  --stats                  print instructions executed and MIPS on exit\n"
    "  -h, --help               this text\n"
    "\n"
    "Exit status: the guest's isa-debug-exit value (V<<1)|1 when it wrote port\n"
    "0xF4; 0 when it halted with interrupts disabled; 1 on triple fault,\n"
    "timeout or instruction limit; 2 on wrong usage.\n"
    "Environment: VMM_TRACE=1 logs every interrupt and exception to stderr.\n";

__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vmm: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see vmm --help)\n");
    return 2;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-')
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    enum { OPT_BIOS = 256, OPT_DEBUGCON, OPT_SERIAL, OPT_CPU, OPT_LEAF, OPT_MAXI, OPT_TIMEOUT,
           OPT_STATS };
    static const struct option opts[] = {
        { "bios", required_argument, NULL, OPT_BIOS },
        { "memory", required_argument, NULL, 'm' },
        { "debugcon", required_argument, NULL, OPT_DEBUGCON },
        { "serial", required_argument, NULL, OPT_SERIAL },
        { "cpu", required_argument, NULL, OPT_CPU },
        { "cpuid-max-leaf", required_argument, NULL, OPT_LEAF },
        { "max-instructions", required_argument, NULL, OPT_MAXI },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "stats", no_argument, NULL, OPT_STATS },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct machine_config cfg = {
        .ram_mb = 32, .cpu_model = "p6", .cpuid_max_leaf = -1,
    };
    bool stats = false;
    uint64_t v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_BIOS: cfg.bios_path = optarg; break;
        case 'm':
            if (!parse_u64(optarg, &v) || v < 2 || v > 3072)
                return usage_error("-m wants a RAM size in MiB from 2 to 3072, not '%s'", optarg);
            cfg.ram_mb = (uint32_t)v;
            break;
        case OPT_DEBUGCON: cfg.debugcon_path = optarg; break;
        case OPT_SERIAL: cfg.serial_path = optarg; break;
        case OPT_CPU:
            if (cpu_model_parse(optarg) < 0)
                return usage_error("--cpu wants 486, pentium or p6, not '%s'", optarg);
            cfg.cpu_model = optarg;
            break;
        case OPT_LEAF:
            if (!parse_u64(optarg, &v) || v > 0xFFFF)
                return usage_error("--cpuid-max-leaf wants a number, not '%s'", optarg);
            cfg.cpuid_max_leaf = (int)v;
            break;
        case OPT_MAXI:
            if (!parse_u64(optarg, &v) || v == 0)
                return usage_error("--max-instructions wants a positive number, not '%s'", optarg);
            cfg.max_instructions = v;
            break;
        case OPT_TIMEOUT: {
            char *end;
            double t = strtod(optarg, &end);
            if (end == optarg || *end || !(t > 0))
                return usage_error("--timeout wants a positive number of seconds, not '%s'", optarg);
            cfg.timeout_sec = t;
            break;
        }
        case OPT_STATS: stats = true; break;
        case 'h': fputs(usage, stdout); return 0;
        case ':': return usage_error("option '%s' needs an argument", argv[optind - 1]);
        default: return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (!cfg.bios_path)
        return usage_error("%s", "--bios FILE is required");

    struct vd_error *err = NULL;
    struct machine *m;
    if (machine_create(&m, &cfg, &err) < 0) {
        vd_error_report("vmm", err);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    enum machine_stop why = machine_run(m);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int status = m->exit_status;
    /* One line: why the run stopped, with what the devices report. */
    char reports[256] = "";
    for (int k = 0; k < m->n_devs; k++) {
        char one[96] = "";
        if (vmm_devices[k]->report)
            vmm_devices[k]->report(m->dev_state[k], one, sizeof one);
        if (one[0]) {
            size_t used = strlen(reports);
            snprintf(reports + used, sizeof reports - used, "%s%s", used ? "; " : "", one);
        }
    }
    if (why != STOP_DEBUG_EXIT)
        fprintf(stderr, "vmm: %s%s%s\n", m->stop_msg, reports[0] ? "; " : "", reports);
    else if (reports[0])
        fprintf(stderr, "vmm: %s\n", reports);
    if (stats) {
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        fprintf(stderr, "vmm: %llu instructions in %.3f s, %.1f MIPS\n",
                (unsigned long long)m->insns, secs, secs > 0 ? (double)m->insns / secs / 1e6 : 0.0);
    }
    machine_destroy(m);
    return status;
}
