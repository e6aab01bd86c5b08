/* fault_sweep.h: systematic low-resources simulation of one program (km_replay --fault-sweep).
 * A baseline run counts the program's pool allocation attempts (N); then the program is rerun
 * failing attempt 1, 2, ..., N one at a time, plus a fixed-seed sample of failure pairs. Every run
 * is a forked child, so a crash, leak or verifier finding fails that run only and is reported with
 * its trace. A run passes when it ends cleanly (reference model in agreement after every op,
 * AllocatedFrames exact, no leak at teardown), the attempt it was told to fail was made and refused,
 * and the operation during which that happened returned STATUS_INSUFFICIENT_RESOURCES, or one of
 * the documented exceptions listed in fault_sweep.c (docs/reliability.md). */
#ifndef OP_FAULT_SWEEP_H
#define OP_FAULT_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "interp.h"

typedef struct fs_options {
    uint64_t max_singles; /* above this many attempts, a deterministic evenly spaced sample (0 = all) */
    uint64_t pairs;       /* failure pairs per program, sampled with the seed (all when fewer exist) */
    uint64_t seed;
    bool verbose;         /* one line per run */
} fs_options;

/* Totals over every program swept by this process. */
typedef struct fs_totals {
    uint64_t programs, attempts, singles, pairs, failed_runs, failed_programs;
    char (*sites)[64];    /* distinct sites where a failure was injected */
    size_t nsites, sites_cap;
    char (*seen)[64];     /* distinct sites the baseline runs allocated from */
    size_t nseen, seen_cap;
} fs_totals;

/* Sweeps one binary program with config (prologue, reference model) and prints one summary line
 * ("sweep FILE: ...") and a FAIL block per failed run. Returns false when a run failed. */
bool fs_sweep(const char *name, const uint8_t *data, size_t size, const op_run_config *config,
              const fs_options *options, fs_totals *totals);
/* Prints the closing summary (programs, failure runs, sites exercised) and frees the totals. */
void fs_report(fs_totals *totals);

#endif /* OP_FAULT_SWEEP_H */
