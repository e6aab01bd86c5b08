/* afl_main.c: the `afl` engine's driver. AFL++ persistent mode with a shared-memory testcase
 * (__AFL_FUZZ_INIT / __AFL_LOOP, README.persistent_mode.md); each testcase is copied into an exact-size heap
 * buffer so ASan sees overreads as in the other engines. With file arguments it runs each file once and
 * exits (reproduction, afl-cmin/afl-tmin with @@; regular files only, see run_file); without arguments and
 * outside AFL++'s tools it runs standard input once, read to its end (AFL++'s own macro makes one read of at
 * most 1 MiB, which takes the first piece of a pipe only). Each run outside afl-fuzz prints `Running: X` and
 * `Done: X: (N bytes)`, as the replay engine's main does; exit status 0, or 2 when an input cannot be read
 * (the other files still run) or stdout cannot be written. Debian's AFL++ ships no headers: the macros
 * come from afl-clang-fast itself. */
#define _POSIX_C_SOURCE 200809L /* read(), used by __AFL_FUZZ_TESTCASE_LEN outside afl-fuzz */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "op_program.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

#ifndef __AFL_FUZZ_TESTCASE_LEN
#error "afl_main.c must be compiled with afl-clang-fast (KM_FUZZ_ENGINE=afl)"
#endif

__AFL_FUZZ_INIT();

static const char *af_tool = "fuzz"; /* the binary's name, for messages (set by main) */

static void run_copy(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        abort();
    memcpy(copy, data, size);
    LLVMFuzzerTestOneInput(size ? copy : NULL, size);
    free(copy);
}

/* One input run once, named on stdout around the run (a crash leaves `Running:` as the last line). */
static int run_named(const char *name, uint8_t *buf, size_t size) {
    if (buf == NULL)
        return 2;
    printf("Running: %s\n", name);
    fflush(stdout);
    run_copy(buf, size);
    printf("Done: %s: (%zu bytes)\n", name, size);
    fflush(stdout);
    free(buf);
    return 0;
}

/* One file argument: regular files only, at most OP_TARGET_MAX_FILE bytes (op_read_file refuses a FIFO or
 * device without blocking on it; /dev/zero was read without end). */
static int run_file(const char *path) {
    size_t size = 0;
    return run_named(path, op_read_file(af_tool, path, OP_TARGET_MAX_FILE, &size), size);
}

int main(int argc, char **argv) {
    af_tool = op_tool_name(argc > 0 ? argv[0] : NULL);
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    if (argc > 1) {
        int rc = 0;
        for (int i = 1; i < argc; i++) { /* after a bad argument the rest still run */
            int one = run_file(argv[i]);
            rc = rc != 0 ? rc : one;
        }
        return op_flush_stdout(af_tool, "the run's lines") ? rc : 2;
    }
    /* Every AFL++ tool that runs the target (afl-fuzz, afl-showmap, afl-cmin, afl-tmin) sets __AFL_SHM_ID. */
    if (getenv("__AFL_SHM_ID") == NULL) {
        size_t size = 0;
        int rc = run_named(OP_STDIN_NAME, op_read_stdin(af_tool, OP_TARGET_MAX_FILE, &size), size);
        return op_flush_stdout(af_tool, "the run's lines") ? rc : 2;
    }
    /* Warm-up before the fork server: one run of the empty program (the version byte only: model init,
     * driver load, prologue, teardown) does every first-use initialisation (stdio, the module list, the
     * model's first growth of its tables) in the parent, so the first input of every forked child takes
     * the same edges as its later runs; otherwise calibration sees them as unstable. */
    static const uint8_t warm_up[] = { 0x01 };
    run_copy(warm_up, sizeof warm_up);
    __AFL_INIT();
    const uint8_t *buf = __AFL_FUZZ_TESTCASE_BUF;
    while (__AFL_LOOP(10000)) {
        size_t len = (size_t)__AFL_FUZZ_TESTCASE_LEN;
        run_copy(buf, len);
    }
    return 0;
}
