/* print_program.c: the op_print tool: prints binary program files as canonical text with the C
 * printer (crash reports use the same code). The Python tests compare it with tools/opcodec.py.
 * With several files, each text is preceded by a line "==> FILE <==" (as head(1) does). --help or -h
 * prints the usage; "--" ends the options (as in km_replay, any other argument starting with '-'
 * before it is an unknown option, and a lone "-" is a file name). Exit status: 0 printed, 1 a file
 * could not be read (the others are still printed) or stdout failed, 2 usage. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "op_program.h"

/* Flushes stdout; false after saying why when it failed (a full disk): exit 0 would claim the text
 * was printed. */
static bool op_print_flush(void) { return op_flush_stdout("op_print", "the text"); }

static int op_print_file(const char *path, bool banner)
{
    size_t len;
    uint8_t *data = op_read_file("op_print", path, OP_MAX_PROGRAM_FILE, &len);
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

static int op_print_usage(FILE *out, int status)
{
    fprintf(out, "usage: op_print [--] FILE...\n"
                 "  prints binary program files as text (several: each after a line \"==> FILE <==\")\n");
    return status;
}

/* Whether argv[i] is a FILE: anything after "--", and before it anything but "--" and options. */
static bool op_print_is_file(const char *arg, bool options_done)
{
    return options_done || arg[0] != '-' || arg[1] == '\0';
}

int main(int argc, char **argv)
{
    /* Every argument is looked at before anything is printed: a bad option is a usage error, not a
     * missing file after some of the text ("--help" was opened as a file). The file names are
     * gathered at the front of argv (argv[1..files]) on the way. */
    int files = 0;
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (op_print_is_file(a, options_done))
            argv[++files] = argv[i];
        else if (strcmp(a, "--") == 0)
            options_done = true;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return op_print_usage(stdout, 0), op_print_flush() ? 0 : 1;
        else
            return fprintf(stderr, "op_print: unknown option '%s'\n", a), op_print_usage(stderr, 2);
    }
    if (files == 0)
        return op_print_usage(stderr, 2);
    int status = 0;
    for (int i = 1; i <= files; i++) {
        status |= op_print_file(argv[i], files > 1);
        if (!op_print_flush())
            return 1;
    }
    return status;
}
