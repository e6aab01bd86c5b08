/* standalone_main.c: the `replay` engine. Runs LLVMFuzzerTestOneInput over files without fuzzing, with the
 * semantics of LLVM's StandaloneFuzzTargetMain: a weak LLVMFuzzerInitialize is called first, each file is
 * read into a heap buffer of exactly its size (so ASan sees an overread by one byte), and a directory
 * argument is walked recursively in sorted order. Prints `Running: FILE` before and `Done: FILE: (N bytes)`
 * after each input; a crash leaves `Running:` as the last line, naming the input. Only regular files are
 * read (op_read_file: a FIFO or device is refused without blocking) and at most OP_TARGET_MAX_FILE bytes.
 * Exit status: 0 when every input ran, 2 when an argument cannot be read (the others still run) or
 * stdout cannot be written. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "op_program.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);
/* Provided by the interpreter (interp.c) when the target links it: the FNV-1a hash of the trace of the
 * last input, printed as `Trace: FILE: HASH` so a test can compare an input's traces across one process
 * (no state may survive from one input into the next). */
__attribute__((weak)) uint64_t op_last_trace_hash(void);

static const char *sa_tool = "fuzz"; /* the binary's name, for messages (set by main) */

static int run_file(const char *path) {
    size_t size;
    uint8_t *data = op_read_file(sa_tool, path, OP_TARGET_MAX_FILE, &size);
    if (data == NULL)
        return 2;
    /* op_read_file's buffer may be larger than the input; the target gets one of exactly its size */
    uint8_t *buf = malloc(size ? size : 1); /* malloc(0) may return NULL */
    if (buf == NULL) {
        fprintf(stderr, "%s: %s: out of memory\n", sa_tool, path);
        free(data);
        return 2;
    }
    memcpy(buf, data, size);
    free(data);
    printf("Running: %s\n", path);
    fflush(stdout);
    LLVMFuzzerTestOneInput(size ? buf : NULL, size);
    printf("Done: %s: (%zu bytes)\n", path, size);
    if (op_last_trace_hash != NULL)
        printf("Trace: %s: %016llx\n", path, (unsigned long long)op_last_trace_hash());
    fflush(stdout);
    free(buf);
    return 0;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, int depth) {
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: %s: %s\n", sa_tool, path, strerror(errno));
        return 2;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path);
    if (depth > 16) {
        fprintf(stderr, "%s: %s: directories nested too deeply\n", sa_tool, path);
        return 2;
    }
    DIR *dir = opendir(path);
    if (dir == NULL) {
        fprintf(stderr, "%s: cannot list %s: %s\n", sa_tool, path, strerror(errno));
        return 2;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    int rc = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        if (e->d_name[0] == '.')
            continue; /* ., .., and hidden files (editor swap files, .gitkeep) */
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(names, cap * sizeof *names);
            if (grown == NULL) {
                rc = 2;
                break;
            }
            names = grown;
        }
        size_t n = strlen(path) + 1 + strlen(e->d_name) + 1;
        names[count] = malloc(n);
        if (names[count] == NULL) {
            rc = 2;
            break;
        }
        snprintf(names[count], n, "%s/%s", path, e->d_name);
        count++;
    }
    closedir(dir);
    if (rc == 0 && count)
        qsort(names, count, sizeof *names, by_name);
    for (size_t i = 0; i < count; i++) {
        int entry = run_path(names[i], depth + 1); /* after a bad entry the rest still run */
        rc = rc != 0 ? rc : entry;
        free(names[i]);
    }
    free(names);
    if (rc == 2 && count == 0)
        fprintf(stderr, "%s: out of memory listing %s\n", sa_tool, path);
    return rc;
}

int main(int argc, char **argv) {
    sa_tool = op_tool_name(argc > 0 ? argv[0] : NULL);
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_DIR...\n  runs the fuzz target once on each file (directories: every file, sorted)\n",
                argv[0]);
        return 2;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++) { /* after a bad argument the rest still run */
        int one = run_path(argv[i], 0);
        rc = rc != 0 ? rc : one;
    }
    if (!op_flush_stdout(sa_tool, "the run's lines")) /* the Trace: lines a test compares */
        return 2;
    return rc;
}
