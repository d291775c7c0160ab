/* vmm: boots disk images on an emulated i440FX PC through SeaBIOS
 * (`vmm DISK...`, `vmm --check DISK...` for a boot verdict), or runs a
 * firmware image on the bare machine (`vmm --bios FILE`, the CPU tests). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "formats/image.h"
#include "vmm/cpu/cpu.h"
#include "vmm/firmware.h"
#include "vmm/hw/device.h"
#include "vmm/hw/pc.h"
#include "vmm/hw/vga.h"
#include "vmm/input.h"
#include "vmm/machine.h"
#include "vmm/net.h"
#include "vmm/verdict.h"
#include "vmm/vnc.h"

static const char usage[] =
    "Usage: vmm [options] DISK...\n"
    "       vmm --check [--timeout SEC] [--expect REGEX] [--output=json] DISK...\n"
    "       vmm --bios FILE [options]\n"
    "Boots disk images (raw or VHD fixed/dynamic/differencing, probed) on an\n"
    "emulated i440FX/PIIX PC through SeaBIOS. The first DISK is the primary\n"
    "master, the second the primary slave, the next ones the secondary channel.\n"
    "With --bios and no disk, runs FILE as the firmware of the machine.\n"
    "\n"
    "  --check                  boot, watch, and end with one line\n"
    "                           'verdict: KIND detail' (disks get a copy-on-write\n"
    "                           overlay: the images are never written)\n"
    "  --expect REGEX           success is REGEX (extended) on a serial port or the\n"
    "                           text screen; default: a login or shell prompt, or a\n"
    "                           clean power-off\n"
    "  --timeout SEC            stop after SEC seconds (--check default 300)\n"
    "  --output=json            print the verdict as JSON\n"
    "  --cdrom ISO              an ATAPI CD-ROM on the secondary master\n"
    "  --boot c|d               boot from the hard disk (default) or the CD-ROM\n"
    "  --snapshot               copy-on-write overlay in memory outside --check too\n"
    "  --bios FILE              firmware (default " FIRMWARE_BIOS_DEFAULT ")\n"
    "  --vga-bios FILE          VGA BIOS (default " FIRMWARE_VGA_DEFAULT ")\n"
    "  --vga std|none           VGA card, or none: headless, SeaBIOS prints to COM1\n"
    "  --no-apic                no local APIC and I/O APIC: an 8259-only PC for\n"
    "                           Standard-PC HAL guests (default: both, as the\n"
    "                           ACPI/APIC HALs of physical machines need)\n"
    "  -m, --memory MB          guest RAM in MiB (default 128 with disks, 32 without;\n"
    "                           2..3072)\n"
    "  --serial FILE|stdio      COM1 (default: stdio when running a disk without\n"
    "                           --check, else discarded)\n"
    "  --serial2 FILE           COM2 output\n"
    "  --screen-dump FILE       the text screen in FILE, every second and at the end\n"
    "  --screenshot FILE.png    the screen in FILE.png, every second and at the end\n"
    "  --vnc :N|unix:PATH|none  a VNC server showing the screen and taking keyboard\n"
    "                           and mouse input: display N on 127.0.0.1 (port\n"
    "                           5900+N) or a Unix socket\n"
    "  --debugcon FILE          bytes written to ports 0x402/0xE9 (default: stderr,\n"
    "                           discarded with disks)\n"
    "  --cpu 486|pentium|p6     CPU model and CPUID profile (default p6)\n"
    "  --cpuid-max-leaf N       cap the CPUID maximum leaf (NT 4.0 needs 2)\n"
    "  --max-instructions N     stop after N instructions\n"
    "  --nic user|tap|none[,model=pcnet|tulip][,hostfwd=tcp:[HADDR]:HPORT-[GADDR]:GPORT]\n"
    "        [,mac=52:54:00:12:34:56][,bootfile=NAME][,ifname=TAP]\n"
    "                           a PCnet-PCI II (or DEC 21140) card on user-mode\n"
    "                           networking (DHCP from 10.0.2.2, the host's\n"
    "                           127.0.0.1 is 10.0.2.2, DNS 10.0.2.3) or on a TAP\n"
    "                           device (default: none)\n"
    "  --netdev user|tap,id=ID[,hostfwd=...][,bootfile=...][,ifname=...]\n"
    "  --device pcnet|tulip,netdev=ID[,mac=...]\n"
    "                           the same as --nic in QEMU's other spelling\n"
    "  --net-dump FILE.pcap     every frame the card sends and receives\n"
    "  --stats                  print instructions executed and MIPS on exit\n"
    "  --send-keys SPEC         type into the guest (see below); @FILE reads one SPEC\n"
    "                           a line; may be repeated\n"
    "  -h, --help               this text\n"
    "  --version                the version\n"
    "\n"
    "qemu's spellings work with one dash: -hda -hdb -hdc -hdd FILE, -cdrom ISO,\n"
    "-boot c|d|order=c|order=d, -m MB, -snapshot, -serial stdio|file:F|none,\n"
    "-display none and -nographic (vmm never opens a window), -smp 1, -vnc; every\n"
    "option above also takes one dash. qemu options vmm does not have (-smp N,\n"
    "-monitor, -qmp, -enable-kvm, -accel, -drive, -device) are one clear error.\n"
    "\n"
    "Exit status with --check: 0 when the guest booted, 1 when it did not, 2 on\n"
    "wrong usage. Otherwise: the guest's isa-debug-exit value (V<<1)|1 when it\n"
    "wrote port 0xF4; 0 when it powered off or halted with interrupts disabled;\n"
    "1 on triple fault, timeout or instruction limit; 2 on wrong usage.\n"
    "A host I/O error on a disk image ends any run with one line naming the\n"
    "image and the offset, and exit status 1 (no verdict). No output file may\n"
    "be a disk (or in its backing chain), the CD-ROM or the firmware.\n"
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

static void write_screen_dump(struct machine *m, const char *path)
{
    struct vga *vga = vga_of(m);
    static char text[16384];
    text[0] = 0;
    if (vga && vga_screen_text(vga, text, sizeof text) == 0)
        snprintf(text, sizeof text, "(the display is in a graphics mode)\n");
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) == EOF || fclose(f) != 0)
        fprintf(stderr, "vmm: cannot write the screen dump %s: %s\n", path, strerror(errno));
}

static int run(int argc, char **argv, struct pc_config *pc)
{
    enum { OPT_BIOS = 256, OPT_DEBUGCON, OPT_SERIAL, OPT_CPU, OPT_LEAF, OPT_MAXI, OPT_TIMEOUT,
           OPT_STATS, OPT_CHECK, OPT_EXPECT, OPT_OUTPUT, OPT_CDROM, OPT_BOOT, OPT_SNAPSHOT,
           OPT_NO_APIC, OPT_SERIAL2, OPT_SCREEN_DUMP, OPT_SCREENSHOT, OPT_VGA, OPT_VGA_BIOS,
           OPT_VERSION, OPT_HDA, OPT_HDB, OPT_HDC, OPT_HDD, OPT_DISPLAY, OPT_SMP, OPT_MONITOR,
           OPT_NO_SUCH, OPT_SEND_KEYS, OPT_VNC, OPT_NOGRAPHIC, OPT_NIC, OPT_NETDEV,
           OPT_DEVICE, OPT_NET_DUMP };
    static const struct option opts[] = {
        { "bios", required_argument, NULL, OPT_BIOS },
        { "memory", required_argument, NULL, 'm' },
        { "debugcon", required_argument, NULL, OPT_DEBUGCON },
        { "serial", required_argument, NULL, OPT_SERIAL },
        { "serial2", required_argument, NULL, OPT_SERIAL2 },
        { "cpu", required_argument, NULL, OPT_CPU },
        { "cpuid-max-leaf", required_argument, NULL, OPT_LEAF },
        { "max-instructions", required_argument, NULL, OPT_MAXI },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "stats", no_argument, NULL, OPT_STATS },
        { "check", no_argument, NULL, OPT_CHECK },
        { "expect", required_argument, NULL, OPT_EXPECT },
        { "output", required_argument, NULL, OPT_OUTPUT },
        { "cdrom", required_argument, NULL, OPT_CDROM },
        { "boot", required_argument, NULL, OPT_BOOT },
        { "snapshot", no_argument, NULL, OPT_SNAPSHOT },
        { "no-apic", no_argument, NULL, OPT_NO_APIC },
        { "screen-dump", required_argument, NULL, OPT_SCREEN_DUMP },
        { "screenshot", required_argument, NULL, OPT_SCREENSHOT },
        { "vga", required_argument, NULL, OPT_VGA },
        { "vga-bios", required_argument, NULL, OPT_VGA_BIOS },
        { "send-keys", required_argument, NULL, OPT_SEND_KEYS },
        { "vnc", required_argument, NULL, OPT_VNC },
        { "nic", required_argument, NULL, OPT_NIC },
        { "netdev", required_argument, NULL, OPT_NETDEV },
        { "device", required_argument, NULL, OPT_DEVICE },
        { "net-dump", required_argument, NULL, OPT_NET_DUMP },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, OPT_VERSION },
        /* qemu's spellings of the same things (getopt_long_only also takes
         * every option above with one dash, as qemu does). "m" and "h" are
         * here so that -m and -h match exactly, not as prefixes. */
        { "m", required_argument, NULL, 'm' },
        { "h", no_argument, NULL, 'h' },
        { "hda", required_argument, NULL, OPT_HDA },
        { "hdb", required_argument, NULL, OPT_HDB },
        { "hdc", required_argument, NULL, OPT_HDC },
        { "hdd", required_argument, NULL, OPT_HDD },
        { "display", required_argument, NULL, OPT_DISPLAY },
        { "nographic", no_argument, NULL, OPT_NOGRAPHIC },
        /* qemu options vmm does not have: one clear error each. */
        { "smp", required_argument, NULL, OPT_SMP },
        { "monitor", required_argument, NULL, OPT_MONITOR },
        { "qmp", required_argument, NULL, OPT_NO_SUCH },
        { "enable-kvm", no_argument, NULL, OPT_NO_SUCH },
        { "accel", required_argument, NULL, OPT_NO_SUCH },
        { "daemonize", no_argument, NULL, OPT_NO_SUCH },
        { "drive", required_argument, NULL, OPT_NO_SUCH },
        { "device", required_argument, NULL, OPT_NO_SUCH },
        { NULL, 0, NULL, 0 },
    };
    if (argc == 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
        printf("vmm (p2vkit) %s\n", P2VKIT_VERSION);
        return 0;
    }
    struct machine_config cfg = { .ram_mb = 0, .cpu_model = "p6", .cpuid_max_leaf = -1 };
    struct net_config net = { .kind = NET_NONE };
    bool stats = false, check = false, json = false, serial_set = false, debugcon_set = false;
    const char *expect = NULL, *cdrom = NULL, *screen_dump = NULL, *screenshot = NULL;
    const char *vnc_listen = NULL;
    uint64_t v;
    int c;
    opterr = 0;
    const char *hd[PC_MAX_DRIVES] = { NULL };
    struct vd_error *err = NULL;
    int li = 0;
    while ((c = getopt_long_only(argc, argv, ":m:h", opts, &li)) != -1) {
        switch (c) {
        case OPT_VERSION: printf("vmm (p2vkit) %s\n", P2VKIT_VERSION); return 0;
        case OPT_HDA: case OPT_HDB: case OPT_HDC: case OPT_HDD:
            hd[c - OPT_HDA] = optarg;
            break;
        case OPT_DISPLAY:
            /* vmm never opens a window: "none" is what it always does. */
            if (strcmp(optarg, "none") != 0)
                return usage_error("-display wants none (vmm has no window; see --vnc), not '%s'",
                                   optarg);
            break;
        case OPT_NOGRAPHIC:
            break;          /* no window and COM1 on stdio: what vmm does anyway */
        case OPT_SMP:
            if (strcmp(optarg, "1") != 0 && strcmp(optarg, "cpus=1") != 0)
                return usage_error("-smp %s: vmm emulates one CPU only", optarg);
            break;
        case OPT_MONITOR:
            return usage_error("-monitor %s: vmm has no monitor (stop it with a signal or "
                               "--timeout; --screenshot and --serial show the guest)", optarg);
        case OPT_NO_SUCH:
            return usage_error("-%s%s%s: a qemu option vmm does not have", opts[li].name,
                               optarg ? " " : "", optarg ? optarg : "");
        case OPT_BIOS: cfg.bios_path = optarg; break;
        case 'm':
            if (!parse_u64(optarg, &v) || v < 2 || v > 3072)
                return usage_error("-m wants a RAM size in MiB from 2 to 3072, not '%s'", optarg);
            cfg.ram_mb = (uint32_t)v;
            break;
        case OPT_DEBUGCON: cfg.debugcon_path = optarg; debugcon_set = true; break;
        case OPT_SERIAL:
            /* qemu's forms too: file:PATH, none and null (discarded). */
            if (strncmp(optarg, "file:", 5) == 0)
                optarg += 5;
            cfg.serial_path = strcmp(optarg, "none") == 0 || strcmp(optarg, "null") == 0
                ? NULL : optarg;
            if (cfg.serial_path && !cfg.serial_path[0])
                return usage_error("%s", "--serial wants a FILE, stdio or none");
            serial_set = true;
            break;
        case OPT_SERIAL2: pc->serial2_path = optarg; break;
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
            if (end == optarg || *end || !(t > 0) || t > 1e6)
                return usage_error("--timeout wants a positive number of seconds, not '%s'", optarg);
            cfg.timeout_sec = t;
            break;
        }
        case OPT_STATS: stats = true; break;
        case OPT_CHECK: check = true; break;
        case OPT_EXPECT: expect = optarg; break;
        case OPT_OUTPUT:
            if (strcmp(optarg, "json") == 0)
                json = true;
            else if (strcmp(optarg, "text") != 0)
                return usage_error("--output wants json or text, not '%s'", optarg);
            break;
        case OPT_CDROM: cdrom = optarg; break;
        case OPT_BOOT:
            /* qemu's -boot order=X and once=X name the first device too. */
            if (strncmp(optarg, "order=", 6) == 0)
                optarg += 6;
            else if (strncmp(optarg, "once=", 5) == 0)
                optarg += 5;
            if (strcmp(optarg, "c") != 0 && strcmp(optarg, "d") != 0)
                return usage_error("--boot wants c (hard disk) or d (CD-ROM), not '%s'", optarg);
            pc->boot = optarg[0];
            break;
        case OPT_SNAPSHOT: pc->snapshot = true; break;
        case OPT_NO_APIC: pc->no_apic = true; break;
        case OPT_SCREEN_DUMP: screen_dump = optarg; break;
        case OPT_SCREENSHOT: screenshot = optarg; break;
        case OPT_VGA:
            if (strcmp(optarg, "none") == 0)
                pc->no_vga = true;
            else if (strcmp(optarg, "std") != 0)
                return usage_error("--vga wants std or none, not '%s'", optarg);
            break;
        case OPT_VGA_BIOS: pc->vga_rom_path = optarg; break;
        case OPT_VNC:
            vnc_listen = strcmp(optarg, "none") == 0 ? NULL : optarg;
            if (vnc_listen && vnc_parse(vnc_listen, &err) < 0) {
                vd_error_report("vmm", err);
                return 2;
            }
            break;
        case OPT_SEND_KEYS:
            if (sendkeys_add(&pc->sendkeys, optarg, &err) < 0) {
                vd_error_report("vmm", err);
                return 2;
            }
            break;
        case OPT_NIC: case OPT_NETDEV: case OPT_DEVICE: {
            struct vd_error *nerr = NULL;
            if ((c == OPT_NIC ? net_parse_nic : c == OPT_NETDEV ? net_parse_netdev : net_parse_device)
                    (optarg, &net, &nerr) < 0) {
                vd_error_report("vmm", nerr);
                return 2;
            }
            pc->net = &net;
            break;
        }
        case OPT_NET_DUMP: net.dump_path = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        case ':': return usage_error("option '%s' needs an argument", argv[optind - 1]);
        default: return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    /* Disks fill the IDE positions in order; the CD-ROM takes the
     * secondary master (QEMU's -cdrom place) and disks go around it. */
    int pos = 0;
    for (int k = 0; k < PC_MAX_DRIVES; k++)
        pc->drives[k].path = hd[k];
    if (cdrom) {
        if (hd[2])
            return usage_error("%s", "-hdc and --cdrom both want the secondary master");
        pc->drives[2].path = cdrom;
        pc->drives[2].cdrom = true;
    }
    for (int k = optind; k < argc; k++) {
        while (pos < PC_MAX_DRIVES && pc->drives[pos].path)
            pos++;
        if (pos == PC_MAX_DRIVES)
            return usage_error("too many disks: IDE has %d positions", PC_MAX_DRIVES);
        pc->drives[pos].path = argv[k];
    }
    bool pc_mode = false;
    for (int k = 0; k < PC_MAX_DRIVES; k++)
        pc_mode |= pc->drives[k].path != NULL;
    if (!pc_mode && !cfg.bios_path)
        return usage_error("%s", "no DISK given (--bios FILE is required for a run without disks)");
    if (!pc_mode && check)
        return usage_error("%s", "--check needs a DISK or --cdrom");
    if (pc->boot == 'd' && !cdrom)
        return usage_error("%s", "--boot d needs --cdrom");
    if (vnc_listen && (!pc_mode || pc->no_vga))
        return usage_error("%s", "--vnc needs a DISK or --cdrom and a VGA");
    struct vd_error *nerr = NULL;
    if (net_config_check(&net, &nerr) < 0) {
        vd_error_report("vmm", nerr);
        return 2;
    }
    if (net.dump_path && !net_wants_model(pc->net, "pcnet") && !net_wants_model(pc->net, "tulip"))
        return usage_error("%s", "--net-dump needs a network card (--nic user or tap)");
    if (expect && !check)
        return usage_error("%s", "--expect only makes sense with --check");

    struct verdict *verdict = NULL;
    if (pc_mode) {
        if (!cfg.bios_path)
            cfg.bios_path = FIRMWARE_BIOS_DEFAULT;
        if (!cfg.ram_mb)
            cfg.ram_mb = 128;
        if (check) {
            pc->snapshot = true;             /* --check never writes an image */
            if (!cfg.timeout_sec)
                cfg.timeout_sec = 300;
            if (verdict_create(&verdict, expect, &err) < 0) {
                vd_error_report("vmm", err);
                return 2;
            }
            pc->verdict = verdict;
        } else if (!serial_set) {
            cfg.serial_path = "stdio";
        }
        if (!debugcon_set)
            cfg.debugcon_path = "/dev/null";
        cfg.pc = pc;
    } else if (!cfg.ram_mb) {
        cfg.ram_mb = 32;
    }
    /* An output never overwrites an input: not a disk (nor its chain), the
     * CD-ROM or the firmware, whatever name it goes by. */
    const char *inputs[PC_MAX_DRIVES + 2];
    size_t n_inputs = 0;
    for (int k = 0; k < PC_MAX_DRIVES; k++)
        if (pc->drives[k].path)
            inputs[n_inputs++] = pc->drives[k].path;
    inputs[n_inputs++] = cfg.bios_path;
    inputs[n_inputs++] = pc->vga_rom_path;
    const char *outputs[] = {
        cfg.serial_path && strcmp(cfg.serial_path, "stdio") != 0 ? cfg.serial_path : NULL,
        pc->serial2_path, screen_dump, screenshot, cfg.debugcon_path, net.dump_path,
    };
    for (size_t k = 0; k < sizeof outputs / sizeof outputs[0]; k++) {
        if (vd_output_check(outputs[k], inputs, n_inputs, &err) < 0) {
            vd_error_report("vmm", err);
            verdict_destroy(verdict);
            return 1;
        }
    }
    if (firmware_check_bios(cfg.bios_path, &err) < 0) {
        vd_error_report("vmm", err);
        verdict_destroy(verdict);
        return 1;
    }

    struct machine *m;
    if (machine_create(&m, &cfg, &err) < 0) {
        vd_error_report("vmm", err);
        verdict_destroy(verdict);
        return 1;
    }
    if (verdict && verdict_attach(verdict, m, &err) < 0) {
        vd_error_report("vmm", err);
        machine_destroy(m);
        verdict_destroy(verdict);
        return 1;
    }
    if (pc->sendkeys && sendkeys_attach(pc->sendkeys, m, &err) < 0) {
        vd_error_report("vmm", err);
        machine_destroy(m);
        verdict_destroy(verdict);
        return 1;
    }
    /* The screen while the guest runs: VNC, and the screen files. */
    struct vnc *vnc = NULL;
    struct vnc_config vc = { .listen = vnc_listen };
    if (pc_mode && !pc->no_vga && vga_of(m)) {
        vc.screenshot = screenshot;
        vc.screen_dump = screen_dump;
    }
    if ((vc.listen || vc.screenshot || vc.screen_dump) && vnc_start(&vnc, &vc, m, &err) < 0) {
        vd_error_report("vmm", err);
        machine_destroy(m);
        verdict_destroy(verdict);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    enum machine_stop why = machine_run(m);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    vnc_stop(vnc);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    int status = m->exit_status;

    if (screen_dump)
        write_screen_dump(m, screen_dump);
    if (screenshot) {
        struct vga *vga = vga_of(m);
        if (!vga || pc->no_vga || !pc_mode)
            fprintf(stderr, "vmm: no screenshot: the machine has no VGA\n");
        else if (vga_screenshot(vga, screenshot, &err) < 0)
            vd_error_report("vmm", err);
    }
    if (why == STOP_HOST_ERROR) {
        /* The host failed, not the guest: no verdict on the guest. */
        fprintf(stderr, "vmm: %s\n", m->stop_msg);
        status = 1;
    } else if (verdict) {
        verdict_finish(verdict, why, m->stop_msg);
        verdict_print(verdict, stdout, json, secs);
        status = verdict_kind(verdict) == VERDICT_BOOTED ? 0 : 1;
    } else {
        /* One line: why the run stopped, with what the devices report. */
        char reports[512] = "";
        sendkeys_report(pc->sendkeys, reports, sizeof reports);
        for (int k = 0; k < m->n_devs; k++) {
            char one[96] = "";
            if (vmm_devices[k]->report)
                vmm_devices[k]->report(m->dev_state[k], one, sizeof one);
            if (one[0]) {
                size_t used = strlen(reports);
                snprintf(reports + used, sizeof reports - used, "%s%s", used ? "; " : "", one);
            }
        }
        if (why == STOP_POWEROFF)
            status = 0;
        if (why != STOP_DEBUG_EXIT && why != STOP_POWEROFF)
            fprintf(stderr, "vmm: %s%s%s\n", m->stop_msg, reports[0] ? "; " : "", reports);
        else if (reports[0])
            fprintf(stderr, "vmm: %s\n", reports);
    }
    if (stats)
        fprintf(stderr, "vmm: %llu instructions in %.3f s, %.1f MIPS\n",
                (unsigned long long)m->insns, secs, secs > 0 ? (double)m->insns / secs / 1e6 : 0.0);
    machine_destroy(m);
    verdict_destroy(verdict);
    return status;
}

int main(int argc, char **argv)
{
    struct pc_config pc = { .boot = 'c' };
    int status = run(argc, argv, &pc);
    sendkeys_destroy(pc.sendkeys);
    return status;
}
