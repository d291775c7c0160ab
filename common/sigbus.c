/* The SIGBUS guard (see sigbus.h): everything the handler needs is copied
 * into static storage first, and it only calls async-signal-safe functions. */
#include "common/sigbus.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char sigbus_message[PATH_MAX + 512];
static size_t sigbus_message_len;
static char sigbus_unlink[PATH_MAX];
static int sigbus_status;

static void on_sigbus(int sig)
{
    static int raised;
    (void)sig;
    if (__atomic_exchange_n(&raised, 1, __ATOMIC_SEQ_CST))
        for (;;)
            pause();    /* another thread hit it too: one line, its _exit ends us */
    if (sigbus_unlink[0])
        unlink(sigbus_unlink);
    ssize_t n = write(STDERR_FILENO, sigbus_message, sigbus_message_len);
    (void)n;
    _exit(sigbus_status);
}

void vd_sigbus_guard(const char *message, const char *unlink_path, int status)
{
    snprintf(sigbus_message, sizeof(sigbus_message), "%s", message);
    sigbus_message_len = strlen(sigbus_message);
    snprintf(sigbus_unlink, sizeof(sigbus_unlink), "%s", unlink_path ? unlink_path : "");
    sigbus_status = status;
    struct sigaction sa = { .sa_handler = on_sigbus };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}
