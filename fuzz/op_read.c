/* op_read.c: reading a binary program file whole, for the command-line tools (km_replay, op_print):
 * one place that names the file and the reason on every failure. */
#define _POSIX_C_SOURCE 200809L /* fileno */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "op_program.h"

uint8_t *op_read_file(const char *tool, const char *path, long long max_size, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: %s: %s\n", tool, path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (max_size > 0 && fstat(fileno(f), &st) == 0 && (long long)st.st_size > max_size) {
        fprintf(stderr, "%s: %s: too large (%lld bytes; programs are at most %lld MiB)\n", tool, path,
                (long long)st.st_size, max_size >> 20);
        fclose(f);
        return NULL;
    }
    size_t cap = 4096, len = 0;
    uint8_t *data = malloc(cap);
    for (size_t n; data != NULL && (n = fread(data + len, 1, cap - len, f)) > 0;) {
        len += n;
        if (len == cap) {
            uint8_t *bigger = realloc(data, cap * 2);
            if (bigger == NULL)
                free(data);
            data = bigger;
            cap *= 2;
        }
    }
    bool failed = ferror(f) != 0;
    fclose(f);
    if (data == NULL || failed) {
        fprintf(stderr, "%s: %s: %s\n", tool, path, data == NULL ? "out of memory" : "read error");
        free(data);
        return NULL;
    }
    *size = len;
    return data;
}
