/* ktest_main.c: the test runner: lists, filters and runs cases, each in a forked child.
 * Output per case: "PASS suite.case", "FAIL suite.case: why", "SKIP suite.case: why"; last line
 * "N passed, N failed[, N skipped]". Exit status 0 only when nothing failed. */
#include "ktest.h"

#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KTEST_SKIP_EXIT 77
#define KTEST_FAIL_EXIT 1
#define KTEST_TIMEOUT_SECONDS 120

static ktest_case *ktest_cases;
static int ktest_failed;

void ktest_register(ktest_case *tc)
{
    tc->next = ktest_cases;
    ktest_cases = tc;
}

int ktest_failures(void) { return ktest_failed; }

const ktest_case *ktest_all(void) { return ktest_cases; }

static const char *ktest_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

void ktest_fail_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: ", ktest_basename(file), line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    ktest_failed++;
}

void ktest_skip(const char *reason)
{
    fprintf(stderr, "KTEST-SKIP: %s\n", reason);
    fflush(stderr);
    _exit(KTEST_SKIP_EXIT);
}

void ktest_abort_case(void)
{
    fflush(stderr);
    _exit(KTEST_FAIL_EXIT);
}

const char *ktest_status_text(NTSTATUS status, char buf[32])
{
    const char *name = km_status_name(status);
    if (name != NULL)
        return name;
    snprintf(buf, 32, "0x%08X", (unsigned)status);
    return buf;
}

static int ktest_compare(const void *a, const void *b)
{
    const ktest_case *x = *(const ktest_case *const *)a, *y = *(const ktest_case *const *)b;
    int c = strcmp(x->suite, y->suite);
    return c != 0 ? c : strcmp(x->name, y->name);
}

/* Runs one case in a child; stderr of the child is captured for the verdict and the report. */
static int ktest_run_one(const ktest_case *tc, const char *full, bool verbose)
{
    int pipefd[2];
    if (pipe(pipefd) != 0) {
        perror("pipe");
        return 0;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        dup2(pipefd[1], STDERR_FILENO);
        close(pipefd[1]);
        alarm(KTEST_TIMEOUT_SECONDS);
        km_init();
        tc->fn();
        if (ktest_failed != 0)
            ktest_abort_case();
        km_teardown();
        fflush(stderr);
        _exit(ktest_failed != 0 ? KTEST_FAIL_EXIT : 0);
    }
    close(pipefd[1]);
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    for (;;) {
        if (len + 1024 > cap)
            out = realloc(out, cap *= 2);
        ssize_t n = read(pipefd[0], out + len, cap - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    out[len] = '\0';
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);

    const char *first_finding = strstr(out, "VERIFIER ");
    char why[256] = "";
    int verdict; /* 0 fail, 1 pass, 2 skip */
    if (WIFEXITED(status) && WEXITSTATUS(status) == KTEST_SKIP_EXIT) {
        const char *r = strstr(out, "KTEST-SKIP: ");
        snprintf(why, sizeof why, "%s", r != NULL ? r + 12 : "skipped");
        why[strcspn(why, "\n")] = '\0';
        verdict = 2;
    } else if (tc->expect_check != NULL) {
        char want[128];
        snprintf(want, sizeof want, "VERIFIER %s:", tc->expect_check);
        bool aborted = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        verdict = aborted && first_finding != NULL && strncmp(first_finding, want, strlen(want)) == 0;
        if (!verdict)
            snprintf(why, sizeof why, "expected first finding %s", want);
    } else {
        verdict = WIFEXITED(status) && WEXITSTATUS(status) == 0 && first_finding == NULL;
        if (!verdict) {
            if (WIFSIGNALED(status))
                snprintf(why, sizeof why, "killed by signal %d", WTERMSIG(status));
            else
                snprintf(why, sizeof why, "exit status %d", WEXITSTATUS(status));
        }
    }
    if (verdict == 1)
        printf("PASS %s\n", full);
    else if (verdict == 2)
        printf("SKIP %s: %s\n", full, why);
    else
        printf("FAIL %s: %s\n", full, why);
    if ((verdict == 0 || verbose) && len > 0) {
        /* Indent the child's output under the verdict line. */
        for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n"))
            printf("    %s\n", line);
    }
    fflush(stdout);
    free(out);
    return verdict;
}

static void ktest_usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--list] [--verbose] [PATTERN...]\n"
            "  Runs the unit and negative tests whose name (suite.case) matches any glob PATTERN.\n",
            argv0);
}

int main(int argc, char **argv)
{
    bool list = false, verbose = false;
    const char *patterns[256];
    int npatterns = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list") == 0)
            list = true;
        else if (strcmp(argv[i], "--verbose") == 0)
            verbose = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            ktest_usage(argv[0]);
            return 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "%s: unknown option '%s'\n", argv[0], argv[i]);
            ktest_usage(argv[0]);
            return 2;
        } else if (npatterns < (int)(sizeof patterns / sizeof patterns[0]))
            patterns[npatterns++] = argv[i];
        else {
            fprintf(stderr, "%s: too many patterns\n", argv[0]);
            return 2;
        }
    }
    size_t n = 0;
    for (ktest_case *tc = ktest_cases; tc != NULL; tc = tc->next)
        n++;
    ktest_case **all = calloc(n ? n : 1, sizeof *all);
    n = 0;
    for (ktest_case *tc = ktest_cases; tc != NULL; tc = tc->next)
        all[n++] = tc;
    qsort(all, n, sizeof *all, ktest_compare);

    int passed = 0, failed = 0, skipped = 0, listed = 0;
    for (size_t i = 0; i < n; i++) {
        char full[256];
        snprintf(full, sizeof full, "%s.%s", all[i]->suite, all[i]->name);
        bool selected = npatterns == 0;
        for (int p = 0; p < npatterns && !selected; p++)
            selected = fnmatch(patterns[p], full, 0) == 0;
        if (!selected)
            continue;
        if (list) {
            printf("%s%s%s\n", full, all[i]->expect_check ? " negative:" : "",
                   all[i]->expect_check ? all[i]->expect_check : "");
            listed++;
            continue;
        }
        int v = ktest_run_one(all[i], full, verbose);
        passed += v == 1;
        failed += v == 0;
        skipped += v == 2;
    }
    free(all);
    if (listed + passed + failed + skipped == 0) {
        fprintf(stderr, "no test matched\n");
        return 2;
    }
    if (!list && skipped)
        printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    else if (!list)
        printf("%d passed, %d failed\n", passed, failed);
    if (fflush(stdout) != 0 || ferror(stdout)) { /* results nobody could read: not a pass */
        fprintf(stderr, "%s: cannot write the results: %s\n", argv[0], strerror(errno));
        return 1;
    }
    return failed != 0;
}
