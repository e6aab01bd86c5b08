/* print_program.c: the op_print tool: prints binary program files as canonical text with the C
 * printer (crash reports use the same code). The Python tests compare it with tools/opcodec.py.
 * With several files, each text is preceded by a line "==> FILE <==" (as head(1) does). */
#include <stdbool.h>
#include <stdlib.h>

#include "op_program.h"

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
    for (int i = 1; i < argc; i++)
        status |= op_print_file(argv[i], argc > 2);
    return fflush(stdout) == 0 ? status : 1;
}
