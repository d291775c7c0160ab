/* The fuzz input as a file: a memfd, so that nothing touches the disk,
 * opened by path through /proc/self/fd. */
#ifndef TESTS_FUZZ_FUZZ_MEMFD_H
#define TESTS_FUZZ_FUZZ_MEMFD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

/* The memfd (close it when done) holding DATA, its path in PATH; -1 on
 * failure. */
static int fuzz_memfd(const char *name, const uint8_t *data, size_t size, char path[64])
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return -1;
    }
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return fd;
}

#endif
