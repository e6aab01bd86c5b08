/* print_program.c: the op_print tool: prints binary program files as canonical text with the C
 * printer (crash reports use the same code). The Python tests compare it with tools/opcodec.py.
 * With several files, each text is preceded by a line "==> FILE <==" (as head(1) does). Exit status:
 * 0 printed, 1 a file could not be read (the others are still printed) or stdout failed, 2 usage. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "op_program.h"

/* Flushes stdout; false after saying why when it failed (a full disk): exit 0 would claim the text
 * was printed. */
static bool op_print_flush(void)
{
    /* ferror: a write before this flush already failed (errno normally still says why) */
    if (fflush(stdout) == 0 && !ferror(stdout))
        return true;
    fprintf(stderr, "op_print: cannot write the text: %s\n", errno != 0 ? strerror(errno) : "write error");
    return false;
}

static int op_print_file(const char *path, bool banner)
{
    size_t len;
    uint8_t *data = op_read_file("op_print", path, 0, &len);
    if (data == NULL)
        return 1;
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
    for (int i = 1; i < argc; i++) {
        status |= op_print_file(argv[i], argc > 2);
        if (!op_print_flush())
            return 1;
    }
    return status;
}
