/* op_read.c: the command-line tools' I/O: reading a binary program whole, from a file or standard input,
 * naming the file and the reason on every failure; flushing stdout with the same care. */
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "op_program.h"

/* What a path that is not a regular file is, for the refusal. */
static const char *op_file_kind(mode_t mode)
{
    return S_ISFIFO(mode) ? "a FIFO" : S_ISCHR(mode) ? "a character device" : S_ISBLK(mode) ? "a block device"
         : S_ISSOCK(mode) ? "a socket" : "not a file";
}

/* Opens path for reading if it is a regular file; -1 after printing why not. O_NONBLOCK: opening a
 * FIFO without a writer would wait for one; the type is then checked on the open file (no race with
 * a stat of the path). */
static int op_open_regular(const char *tool, const char *path, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "%s: %s: %s\n", tool, path, strerror(errno));
        return -1;
    }
    if (fstat(fd, st) != 0) {
        fprintf(stderr, "%s: %s: %s\n", tool, path, strerror(errno));
    } else if (S_ISDIR(st->st_mode)) {
        fprintf(stderr, "%s: %s: is a directory\n", tool, path);
    } else if (!S_ISREG(st->st_mode)) {
        fprintf(stderr, "%s: %s: not a regular file (%s)\n", tool, path, op_file_kind(st->st_mode));
    } else {
        int flags = fcntl(fd, F_GETFL);
        if (flags != -1)
            fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
        return fd;
    }
    close(fd);
    return -1;
}

/* Reads fd to its end, but never more than max_size + 1 bytes when max_size > 0: the file can grow
 * while it is read. Returns NULL with errno set (ENOMEM, or the read's error). */
static uint8_t *op_read_fd(int fd, long long max_size, long long size_hint, size_t *len)
{
    size_t cap = size_hint > 0 ? (size_t)size_hint + 1 : 4096; /* + 1: seeing the end needs no realloc */
    if (max_size > 0 && (long long)cap > max_size + 1)
        cap = (size_t)max_size + 1;
    uint8_t *data = malloc(cap);
    *len = 0;
    while (data != NULL) {
        ssize_t n = read(fd, data + *len, cap - *len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            free(data);
            errno = saved;
            return NULL;
        }
        *len += (size_t)n;
        if (n == 0 || (max_size > 0 && (long long)*len > max_size))
            return data;
        if (*len == cap) {
            size_t bigger = cap * 2;
            if (max_size > 0 && (long long)bigger > max_size + 1)
                bigger = (size_t)max_size + 1;
            uint8_t *grown = realloc(data, bigger);
            if (grown == NULL)
                free(data);
            data = grown;
            cap = bigger;
        }
    }
    errno = ENOMEM;
    return NULL;
}

bool op_flush_stdout(const char *tool, const char *what)
{
    /* ferror: a write before this flush already failed (errno normally still says why) */
    if (fflush(stdout) == 0 && !ferror(stdout))
        return true;
    fprintf(stderr, "%s: cannot write %s: %s\n", tool, what, errno != 0 ? strerror(errno) : "write error");
    return false;
}

const char *op_tool_name(const char *argv0)
{
    if (argv0 == NULL || argv0[0] == '\0')
        return "fuzz";
    const char *slash = strrchr(argv0, '/');
    return slash != NULL ? slash + 1 : argv0;
}

/* Reads fd (`name` in messages) to its end, at most max_size bytes when max_size > 0; NULL after saying why. */
static uint8_t *op_read_named(const char *tool, const char *name, int fd, long long max_size, long long size_hint,
                              size_t *size)
{
    size_t len;
    uint8_t *data = op_read_fd(fd, max_size, size_hint, &len);
    if (data == NULL) {
        fprintf(stderr, "%s: %s: %s\n", tool, name, errno == ENOMEM ? "out of memory" : strerror(errno));
        return NULL;
    }
    if (max_size > 0 && (long long)len > max_size) {
        fprintf(stderr, "%s: %s: too large (over %lld bytes read; programs are at most %lld MiB)\n", tool, name,
                max_size, max_size >> 20);
        free(data);
        return NULL;
    }
    *size = len;
    return data;
}

uint8_t *op_read_file(const char *tool, const char *path, long long max_size, size_t *size)
{
    struct stat st;
    int fd = op_open_regular(tool, path, &st);
    if (fd < 0)
        return NULL;
    if (max_size > 0 && (long long)st.st_size > max_size) {
        fprintf(stderr, "%s: %s: too large (%lld bytes; programs are at most %lld MiB)\n", tool, path,
                (long long)st.st_size, max_size >> 20);
        close(fd);
        return NULL;
    }
    uint8_t *data = op_read_named(tool, path, fd, max_size, (long long)st.st_size, size);
    close(fd);
    return data;
}

uint8_t *op_read_stdin(const char *tool, long long max_size, size_t *size)
{
    return op_read_named(tool, OP_STDIN_NAME, STDIN_FILENO, max_size, 0, size);
}
