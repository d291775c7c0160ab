/* common/sigbus: a mapped file truncated under its readers ends the
 * process with one line (a non-ASCII file name kept as is), the given
 * status and the unfinished output removed, even when several threads
 * fault at once. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/sigbus.h"

#define SRC "sigbus-src-\xc3\xa9t\xc3\xa9.img"     /* été */
#define OUT "sigbus-out-\xd0\xb4\xd0\xb8\xd1\x81\xd0\xba.tmp"   /* диск */
#define MSG "test: '" SRC "' became unreadable\n"
#define SIZE (1 << 20)

static volatile const uint8_t *map;

static void *reader(void *arg)
{
    (void)arg;
    unsigned sum = 0;
    for (size_t i = 0; i < SIZE; i += 4096)
        sum += map[i];
    return (void *)(uintptr_t)sum;
}

/* The child: maps SRC, guards, truncates it and reads with THREADS threads. */
static void child(int threads)
{
    int fd = open(SRC, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, SIZE) < 0)
        _exit(90);
    map = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        _exit(91);
    int out = open(OUT, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0)
        _exit(92);
    close(out);
    vd_sigbus_guard(MSG, OUT, 7);
    if (ftruncate(fd, 0) < 0)
        _exit(93);
    pthread_t t[8];
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, reader, NULL);
    reader(NULL);
    _exit(94);      /* not reached: the first page faults */
}

static void run(int threads)
{
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        dup2(pipefd[1], STDERR_FILENO);
        child(threads);
    }
    close(pipefd[1]);
    char buf[1024];
    size_t len = 0;
    ssize_t n;
    while ((n = read(pipefd[0], buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = 0;
    close(pipefd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 7);
    assert_string_equal(buf, MSG);
    assert_int_equal(access(OUT, F_OK), -1);
    unlink(SRC);
}

static void one_thread(void **state)
{
    (void)state;
    run(0);
}

static void many_threads_one_line(void **state)
{
    (void)state;
    run(8);
}

int main(void)
{
    char dir[] = "/tmp/test_sigbus.XXXXXX";
    if (!mkdtemp(dir) || chdir(dir) < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_thread),
        cmocka_unit_test(many_threads_one_line),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (chdir("/") == 0)
        rmdir(dir);
    return rc;
}
