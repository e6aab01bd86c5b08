/* fault_sweep.c: km_replay --fault-sweep (see fault_sweep.h). Each run is a forked child whose
 * stdout/stderr go to a pipe (shown only when the run fails) and whose outcome comes back through
 * a shared page, so one finding does not hide the next failure path. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "fault_sweep.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "km/km.h"

#define FS_OUTPUT_TAIL 40 /* lines of a failed run's output shown */

/* What a child hands back. */
typedef struct fs_shared {
    op_fault_outcome outcome;
    bool finished; /* op_run returned (a finding aborts before this) */
} fs_shared;

static fs_shared *fs_page;

/* ---- One run in a child --------------------------------------------------------------------------- */
typedef struct fs_run {
    char *output; /* the child's stdout + stderr */
    size_t output_len;
    int wait_status;
} fs_run;

static void fs_child(const uint8_t *data, size_t size, const op_run_config *base, uint64_t nth, uint64_t also)
{
    op_run_config c = *base;
    c.external_faults = true;
    c.fault_nth = nth;
    c.fault_nth_also = also;
    c.outcome = &fs_page->outcome;
    op_trace trace = { 0 }; /* traced, so a finding prints the trace up to it */
    op_run_bytes(data, size, &c, &trace);
    fs_page->finished = true;
    op_trace_free(&trace);
}

static bool fs_spawn(const uint8_t *data, size_t size, const op_run_config *base, uint64_t nth, uint64_t also,
                     fs_run *run)
{
    memset(fs_page, 0, sizeof *fs_page);
    *run = (fs_run){ 0 };
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        fs_child(data, size, base, nth, also);
        fflush(NULL);
        _exit(0);
    }
    close(fds[1]);
    size_t cap = 0;
    for (;;) {
        if (run->output_len + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *bigger = realloc(run->output, cap);
            if (bigger == NULL)
                abort();
            run->output = bigger;
        }
        ssize_t n = read(fds[0], run->output + run->output_len, cap - run->output_len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        run->output_len += (size_t)n;
    }
    run->output[run->output_len] = '\0';
    close(fds[0]);
    while (waitpid(pid, &run->wait_status, 0) < 0 && errno == EINTR) {
    }
    return true;
}

/* ---- The pass rule ------------------------------------------------------------------------------- */
static bool fs_clean_exit(const fs_run *run)
{
    return WIFEXITED(run->wait_status) && WEXITSTATUS(run->wait_status) == 0 && fs_page->finished;
}

/* The status the op whose allocation was refused must return. STATUS_INSUFFICIENT_RESOURCES, or the
 * ksuser create form's Win32 translation of it (decisions Q7); ops without a status of their own
 * (fn_free, set_*, fault, the driver load's survivable allocations, rundown) need only end cleanly. */
static bool fs_status_ok(const op_fault_outcome *o, char *why, size_t why_size)
{
    if (!o->has_status)
        return true;
    NTSTATUS s = (NTSTATUS)o->status;
    if (s == STATUS_INSUFFICIENT_RESOURCES || s == (NTSTATUS)ERROR_NO_SYSTEM_RESOURCES)
        return true;
    const char *name = km_status_name(s);
    char hex[16];
    snprintf(hex, sizeof hex, "0x%08X", (unsigned)s);
    snprintf(why, why_size, "%s returned %s after the pool refused %s (want STATUS_INSUFFICIENT_RESOURCES)",
             o->where, name != NULL ? name : hex, o->site);
    return false;
}

static void fs_site_add(char (**list)[64], size_t *n, size_t *cap, const char *site)
{
    if (site[0] == '\0')
        return;
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*list)[i], site) == 0)
            return;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 32;
        *list = realloc(*list, *cap * sizeof **list);
        if (*list == NULL)
            abort();
    }
    snprintf((*list)[*n], 64, "%s", site);
    (*n)++;
}

static void fs_print_tail(const char *text, size_t len)
{
    size_t lines = 0, start = len;
    while (start > 0 && lines <= FS_OUTPUT_TAIL)
        if (text[--start] == '\n' && start + 1 < len)
            lines++;
    if (lines > FS_OUTPUT_TAIL)
        start++;
    for (const char *p = text + start; p < text + len;) {
        const char *nl = memchr(p, '\n', (size_t)(text + len - p));
        size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(text + len - p);
        printf("    %.*s\n", (int)n, p);
        p += n + (nl != NULL);
    }
}

/* One failure run: nth (and also) refused. Returns whether it passed; prints a FAIL block if not. */
static bool fs_fail_run(const char *name, const uint8_t *data, size_t size, const op_run_config *config,
                        uint64_t nth, uint64_t also, const fs_options *opt, fs_totals *t)
{
    fs_run run;
    char why[320] = "";
    bool ok = false;
    if (!fs_spawn(data, size, config, nth, also, &run))
        snprintf(why, sizeof why, "fork failed: %s", strerror(errno));
    else if (!fs_clean_exit(&run))
        snprintf(why, sizeof why, "%s", WIFSIGNALED(run.wait_status) ? "crashed (signal)" : "crash, leak or verifier finding");
    else if (!fs_page->outcome.refused)
        snprintf(why, sizeof why, "attempt %llu was never made (the baseline counted it: nondeterministic allocations)",
                 (unsigned long long)nth);
    else
        ok = fs_status_ok(&fs_page->outcome, why, sizeof why);
    if (ok)
        fs_site_add(&t->sites, &t->nsites, &t->sites_cap, fs_page->outcome.site);
    if (!ok || opt->verbose) {
        char pair[32] = "";
        if (also != 0)
            snprintf(pair, sizeof pair, " also=%llu", (unsigned long long)also);
        if (ok) {
            const op_fault_outcome *o = &fs_page->outcome;
            const char *status = o->has_status ? km_status_name((NTSTATUS)o->status) : "-";
            printf("ok %s nth=%llu%s: %s at %s %s\n", name, (unsigned long long)nth, pair, o->site, o->where,
                   status != NULL ? status : "win32/other");
        }
        else
            printf("FAIL %s nth=%llu%s: %s\n", name, (unsigned long long)nth, pair, why);
        if (!ok && run.output != NULL)
            fs_print_tail(run.output, run.output_len);
    }
    free(run.output);
    t->failed_runs += !ok;
    return ok;
}

/* ---- Sampling (fixed seed: the same runs every time) ------------------------------------------------ */
static uint64_t fs_next(uint64_t *state)
{
    uint64_t x = *state; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static uint64_t fs_name_hash(const char *name)
{
    const char *base = strrchr(name, '/'); /* the file name only: the sample must not depend on the checkout */
    uint64_t h = 0xCBF29CE484222325ULL;
    for (const char *p = base != NULL ? base + 1 : name; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001B3ULL;
    return h;
}

bool fs_sweep(const char *name, const uint8_t *data, size_t size, const op_run_config *config,
              const fs_options *opt, fs_totals *t)
{
    if (fs_page == NULL) {
        fs_page = mmap(NULL, sizeof *fs_page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (fs_page == MAP_FAILED) {
            fprintf(stderr, "km_replay: mmap: %s\n", strerror(errno));
            exit(2);
        }
    }
    t->programs++;
    fs_run base;
    if (!fs_spawn(data, size, config, 0, 0, &base) || !fs_clean_exit(&base)) {
        printf("FAIL %s baseline: the program fails without any fault (replay it)\n", name);
        if (base.output != NULL)
            fs_print_tail(base.output, base.output_len);
        free(base.output);
        t->failed_runs++;
        t->failed_programs++;
        return false;
    }
    free(base.output);
    uint64_t n = fs_page->outcome.attempts;
    for (unsigned i = 0; i < fs_page->outcome.nsites; i++)
        fs_site_add(&t->seen, &t->nseen, &t->seen_cap, fs_page->outcome.sites[i]);
    t->attempts += n;

    uint64_t failed_before = t->failed_runs, singles = 0, pairs = 0;
    uint64_t take = opt->max_singles != 0 && n > opt->max_singles ? opt->max_singles : n;
    for (uint64_t i = 0; i < take; i++) { /* all of 1..n, or take of them evenly spaced (first and last kept) */
        uint64_t nth = take == n ? i + 1 : (take == 1 ? 1 : 1 + i * (n - 1) / (take - 1));
        fs_fail_run(name, data, size, config, nth, 0, opt, t);
        singles++;
    }
    uint64_t all_pairs = n * (n - 1) / 2;
    if (n >= 2 && opt->pairs != 0) {
        uint64_t state = (opt->seed ^ fs_name_hash(name)) | 1;
        uint64_t want = all_pairs <= opt->pairs ? all_pairs : opt->pairs;
        for (uint64_t a = 1, b = 2, k = 0; k < want; k++) {
            if (all_pairs > opt->pairs) { /* a sample; repeats are possible and harmless */
                a = 1 + fs_next(&state) % n;
                do
                    b = 1 + fs_next(&state) % n;
                while (b == a);
                if (a > b) {
                    uint64_t x = a;
                    a = b;
                    b = x;
                }
            }
            fs_fail_run(name, data, size, config, a, b, opt, t);
            pairs++;
            if (all_pairs <= opt->pairs && ++b > n) { /* every pair, in order */
                a++;
                b = a + 1;
            }
        }
    }
    t->singles += singles;
    t->pairs += pairs;
    uint64_t failed = t->failed_runs - failed_before;
    t->failed_programs += failed != 0;
    printf("sweep %s: attempts %llu, runs %llu (single %llu%s, pairs %llu), failed %llu\n", name,
           (unsigned long long)n, (unsigned long long)(singles + pairs), (unsigned long long)singles,
           singles < n ? " sampled" : "", (unsigned long long)pairs, (unsigned long long)failed);
    fflush(stdout);
    return failed == 0;
}

void fs_report(fs_totals *t)
{
    printf("fault-sweep: %llu programs, %llu allocation attempts, %llu failure runs (%llu single, %llu pairs), "
           "%llu failed; sites exercised %zu of %zu seen\n",
           (unsigned long long)t->programs, (unsigned long long)t->attempts,
           (unsigned long long)(t->singles + t->pairs), (unsigned long long)t->singles, (unsigned long long)t->pairs,
           (unsigned long long)t->failed_runs, t->nsites, t->nseen);
    for (size_t i = 0; i < t->nseen; i++) {
        bool hit = false;
        for (size_t j = 0; j < t->nsites && !hit; j++)
            hit = strcmp(t->seen[i], t->sites[j]) == 0;
        printf("site %s %s\n", t->seen[i], hit ? "exercised" : "not-exercised");
    }
    free(t->sites);
    free(t->seen);
    *t = (fs_totals){ 0 };
}
