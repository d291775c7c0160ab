/* p2v: capture a physical machine (`p2v capture`) and receive it on the
 * conversion host (`p2v serve`). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "p2v/agent/agent.h"
#include "p2v/server/server.h"
#ifdef P2V_MIGRATE
#include "migrate/migrate.h"
#endif

static const struct {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
} commands[] = {
    { "capture", p2v_capture_main, "send this machine's disks (used blocks only) to a p2v server" },
    { "serve", p2v_serve_main, "receive captures into DIR/NAME/ as VHD (or raw) images" },
#ifdef P2V_MIGRATE
    { "migrate", p2v_migrate_main, "turn a capture into a VM for a hypervisor, boot-checked, with a report" },
#endif
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: p2v COMMAND [options]   (p2v COMMAND --help for each)\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nExit status: 0 success, 1 the job failed, 2 usage error.\n");
}

int main(int argc, char **argv)
{
    /* A peer that goes away must surface as an error, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        fprintf(stderr, "p2v: missing command (capture, serve or migrate); see p2v --help\n");
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("p2v (p2vkit) %s, protocol %d\n", P2VKIT_VERSION, P2V_PROTO_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "p2v: unknown command '%s'; see p2v --help\n", argv[1]);
    return 2;
}
