/* print_program.c: the op_print tool: prints binary program files as canonical text with the C
 * printer (crash reports use the same code). The Python tests compare it with tools/opcodec.py.
 * With several files, each text is preceded by a line "==> FILE <==" (as head(1) does). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "op_program.h"

static int op_print_file(const char *path, bool banner)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "op_print: %s: %s\n", path, strerror(errno));
        return 1;
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
        fprintf(stderr, "op_print: %s: %s\n", path, data == NULL ? "out of memory" : "read error");
        free(data);
        return 1;
    }
    static op_program prog;
    op_decode(data, len, &prog);
    if (banner)
        printf("==> %s <==\n", path);
    op_print(&prog, stdout);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: op_print FILE...\n");
        return 2;
    }
    int status = 0;
    for (int i = 1; i < argc; i++)
        status |= op_print_file(argv[i], argc > 2);
    return fflush(stdout) == 0 ? status : 1;
}
