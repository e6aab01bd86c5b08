/* replay_main.c: km_replay [--twice] [--no-model] [--prologue] [--impl NAME] FILE|DIR...: runs binary programs
 * through the interpreter and prints each trace under a "== FILE" header. With --fault-sweep
 * [--max-singles N] [--pairs N] [--seed N] [--verbose] it sweeps pool allocation failures over each
 * program instead (fault_sweep.h) and prints per-program and total counts. Directories are walked
 * recursively in sorted (byte-wise) order; --twice runs every input twice and fails
 * TRACE_NONDETERMINISTIC when the traces differ; --impl default|filter-specific picks the allocator the
 * test filter's pin hosts (else KM_IMPLEMENTATION, else the build's default). Bad arguments, unreadable
 * inputs and directories without a program are reported (naming the path) before anything runs, with
 * exit status 2, and so is an input that is neither a regular file nor a directory (a FIFO would
 * block); an empty file is the empty program. A trace that cannot be written (a full
 * disk) stops the run with exit status 2. Text programs (.ops) are refused here: tools/replay.py
 * encodes them first. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fault_sweep.h"
#include "interp.h"

typedef struct {
    char **paths;
    size_t count, cap;
} rp_list;

static void rp_add(rp_list *l, const char *path)
{
    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->paths = realloc(l->paths, l->cap * sizeof *l->paths);
        if (l->paths == NULL)
            abort();
    }
    l->paths[l->count] = strdup(path);
    if (l->paths[l->count] == NULL)
        abort();
    l->count++;
}

static void rp_free(rp_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->paths[i]);
    free(l->paths);
    *l = (rp_list){ 0 };
}

static int rp_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool rp_is_text(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && strcmp(path + n - 4, ".ops") == 0;
}

/* Adds the programs under path; returns false after printing an error. */
static bool rp_collect(const char *path, rp_list *out, bool top)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "km_replay: %s: %s\n", path, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (!S_ISREG(st.st_mode)) {
            fprintf(stderr, "km_replay: %s: not a regular file or a directory\n", path);
            return false;
        }
        if (rp_is_text(path)) {
            fprintf(stderr, "km_replay: %s: a text program; encode it first (tools/replay.py does)\n", path);
            return false;
        }
        rp_add(out, path);
        return true;
    }
    DIR *d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "km_replay: %s: %s\n", path, strerror(errno));
        return false;
    }
    rp_list names = { 0 };
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.')
            rp_add(&names, e->d_name);
    closedir(d);
    if (names.count > 1)
        qsort(names.paths, names.count, sizeof *names.paths, rp_cmp);
    size_t before = out->count;
    bool ok = true;
    for (size_t i = 0; i < names.count && ok; i++) {
        size_t n = strlen(path) + strlen(names.paths[i]) + 2;
        char *child = malloc(n);
        if (child == NULL)
            abort();
        snprintf(child, n, "%s/%s", path, names.paths[i]);
        ok = rp_collect(child, out, false);
        free(child);
    }
    for (size_t i = 0; i < names.count; i++)
        free(names.paths[i]);
    free(names.paths);
    if (ok && top && out->count == before) {
        fprintf(stderr, "km_replay: %s: no programs in this directory\n", path);
        return false;
    }
    return ok;
}

static int rp_usage(const char *why)
{
    if (why != NULL)
        fprintf(stderr, "km_replay: %s\n", why);
    fprintf(stderr, "usage: km_replay [--twice] [--no-model] [--prologue] [--impl default|filter-specific] FILE|DIR...\n"
                    "       km_replay --fault-sweep [--max-singles N] [--pairs N] [--seed N] [--verbose] [--no-model] "
                    "[--prologue] [--impl default|filter-specific] FILE|DIR...\n");
    return 2;
}

/* Flushes the trace; false after saying why when stdout failed (a full disk): the output is lost, so
 * the run stops rather than exit 0 having written nothing. */
static bool rp_flush(void) { return op_flush_stdout("km_replay", "the trace"); }

/* Prints one program's trace under its header (with twice, checks a second run traces the same);
 * false when stdout failed. */
static bool rp_trace(const char *path, const uint8_t *data, size_t size, const op_run_config *config, bool twice)
{
    printf("== %s\n", path);
    if (!rp_flush()) /* the header is out before the run: a finding aborts the process */
        return false;
    op_trace first = { 0 }, second = { 0 };
    op_run_bytes(data, size, config, &first);
    fwrite(first.text, 1, first.len, stdout);
    bool written = rp_flush();
    if (written && twice) {
        op_run_bytes(data, size, config, &second);
        op_trace_check_deterministic(path, &first, &second);
    }
    op_trace_free(&first);
    op_trace_free(&second);
    return written;
}

/* A decimal option value; false (after a usage message) when it is missing, not a number or too large. */
static bool rp_number(int argc, char **argv, int *i, uint64_t *value)
{
    const char *opt = argv[*i];
    char why[160];
    if (*i + 1 >= argc) {
        snprintf(why, sizeof why, "%s needs a number", opt);
        return rp_usage(why), false;
    }
    const char *text = argv[++*i];
    char *end = NULL;
    errno = 0;
    unsigned long long v = text[0] >= '0' && text[0] <= '9' ? strtoull(text, &end, 10) : 0;
    if (end == NULL || *end != '\0')
        snprintf(why, sizeof why, "%s: '%s' is not a number", opt, text);
    else if (errno == ERANGE)
        snprintf(why, sizeof why, "%s: '%s' is too large (at most %llu)", opt, text, (unsigned long long)UINT64_MAX);
    else {
        *value = v;
        return true;
    }
    return rp_usage(why), false;
}

int main(int argc, char **argv)
{
    op_run_config config = { .reference_model = true };
    bool twice = false, sweep = false;
    fs_options sweep_options = { .max_singles = 0, .pairs = 64, .seed = 1 };
    fs_totals totals = { 0 };
    rp_list files = { 0 };
    int inputs = 0;
    bool options_done = false;
    const char *sweep_only = NULL; /* the first option that only --fault-sweep reads */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && strcmp(a, "--") == 0) {
            options_done = true;
        } else if (!options_done && strcmp(a, "--twice") == 0) {
            twice = true;
        } else if (!options_done && strcmp(a, "--no-model") == 0) {
            config.reference_model = false;
        } else if (!options_done && strcmp(a, "--prologue") == 0) {
            config.prologue = true;
        } else if (!options_done && strcmp(a, "--impl") == 0) {
            if (i + 1 == argc || !op_impl_parse(argv[i + 1], &config.implementation))
                return rp_free(&files), rp_usage("--impl needs 'default' or 'filter-specific'");
            i++;
        } else if (!options_done && strcmp(a, "--fault-sweep") == 0) {
            sweep = true;
        } else if (!options_done && strcmp(a, "--verbose") == 0) {
            sweep_options.verbose = true;
            sweep_only = sweep_only != NULL ? sweep_only : a;
        } else if (!options_done && (strcmp(a, "--max-singles") == 0 || strcmp(a, "--pairs") == 0 ||
                                     strcmp(a, "--seed") == 0)) {
            sweep_only = sweep_only != NULL ? sweep_only : a;
            uint64_t *v = a[2] == 'm' ? &sweep_options.max_singles : a[2] == 'p' ? &sweep_options.pairs
                                                                               : &sweep_options.seed;
            if (!rp_number(argc, argv, &i, v))
                return rp_free(&files), 2;
        } else if (!options_done && a[0] == '-' && a[1] != '\0') {
            char why[256];
            snprintf(why, sizeof why, "unknown option '%s'", a);
            return rp_free(&files), rp_usage(why);
        } else {
            inputs++;
            if (!rp_collect(a, &files, true))
                return rp_free(&files), 2;
        }
    }
    if (inputs == 0)
        return rp_usage("no FILE or DIR given");
    if (sweep && twice)
        return rp_free(&files), rp_usage("--twice and --fault-sweep do not combine");
    if (!sweep && sweep_only != NULL) { /* it was silently ignored */
        char why[96];
        snprintf(why, sizeof why, "%s goes with --fault-sweep", sweep_only);
        return rp_free(&files), rp_usage(why);
    }
    int status = 0;
    bool written = true;
    for (size_t i = 0; i < files.count && written; i++) {
        size_t size = 0;
        uint8_t *data = op_read_file("km_replay", files.paths[i], OP_MAX_PROGRAM_FILE, &size);
        if (data == NULL) {
            status = 2;
            continue;
        }
        if (sweep) {
            if (!fs_sweep(files.paths[i], data, size, &config, &sweep_options, &totals) && status == 0)
                status = 1;
            written = rp_flush();
        } else {
            written = rp_trace(files.paths[i], data, size, &config, twice);
        }
        free(data);
    }
    if (sweep) {
        fs_report(&totals); /* also frees the totals: called even when stdout has already failed */
        written = written && rp_flush();
    }
    rp_free(&files);
    return written ? status : 2;
}
