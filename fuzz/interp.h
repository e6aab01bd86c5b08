/* interp.h: the interpreter: runs a decoded program against a fresh kernel model with the KS test
 * filter driver loaded and writes the observation trace (docs/operation-language.md). It is the one
 * engine behind replay, every fuzz target, conformance cases and crash reports. */
#ifndef OP_INTERP_H
#define OP_INTERP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "op_program.h"

/* A growable trace buffer. Pass NULL to op_run to skip formatting (the fuzzing fast path). */
typedef struct op_trace {
    char *text; /* NUL-terminated */
    size_t len;
    size_t cap;
} op_trace;

/* Which allocator the test filter's pin hosts (driver/ks_test_filter.h). OP_IMPL_BUILD resolves to the
 * environment variable KM_IMPLEMENTATION (exactly default | filter-specific), else the build's default
 * (filter-specific in a KM_ALLOCATOR_CREATE_HANDLER seam build, default otherwise). */
typedef enum op_impl { OP_IMPL_BUILD = 0, OP_IMPL_DEFAULT = 1, OP_IMPL_FILTER_SPECIFIC = 2 } op_impl;

/* "default" / "filter-specific" -> *impl; false for any other name. */
bool op_impl_parse(const char *name, op_impl *impl);
const char *op_impl_name(op_impl impl);
/* OP_IMPL_BUILD -> what it means in this process. A bad KM_IMPLEMENTATION never gets here: it stops the
 * process at start-up (exit 2, interp_impl.c), before any input runs. */
op_impl op_impl_resolve(op_impl impl);

#define OP_FAULT_MAX_SITES 64
/* Where a run's fault plan first refused a pool allocation (op_run_config.outcome). */
typedef struct op_fault_outcome {
    uint64_t attempts;  /* pool allocation attempts of the whole run (the interpreter's own model queries excluded) */
    bool refused;       /* the plan refused an allocation */
    char where[16];     /* the trace label of the line it happened in: "init", "pre0", "0003", "end" */
    int code;           /* that line's op_code (-1 for init and end) */
    bool has_status;    /* the op reported a status of its own (a create, a request, fn_alloc...) */
    int32_t status;     /* that NTSTATUS (or Win32 code for the ksuser create forms) */
    char site[64];      /* the refused allocation's site */
    unsigned nsites;    /* the distinct allocation sites of the run (km_pool_site_*), before teardown */
    char sites[OP_FAULT_MAX_SITES][64];
} op_fault_outcome;

typedef struct op_run_config {
    /* Opcodes the caller allows, one bit per opcode (bit c of allowed[c / 64]); ops not allowed are
     * traced as skipped and not run. All zero = every operation allowed. */
    uint64_t allowed[4];
    /* Before the program: open the test filter into handle slot 0 and its pin into slot 1, so
     * create-style targets always have a parent to create under. */
    bool prologue;
    /* Cross-check the implementation against the reference model after every operation
     * (MODEL_DISAGREEMENT, ALLOCATED_FRAMES_MISMATCH, FRAME_MISALIGNED findings). */
    bool reference_model;
    /* The allocator the pin hosts for this run (zero: OP_IMPL_BUILD). */
    op_impl implementation;
    /* Low-resources simulation (fault sweeps): the caller owns the fault plan. The run fails its
     * fault_nth-th and fault_nth_also-th pool allocation attempts, counted from km_init with the
     * interpreter's own model queries excluded (0 = none), and the program's own `fault` operations
     * are traced but not armed, so an attempt number means the same allocation in every run. */
    bool external_faults;
    uint64_t fault_nth, fault_nth_also;
    /* When non-NULL, filled with the attempt count and where the first refusal happened. */
    op_fault_outcome *outcome;
    /* Fuzz targets: keep the model, the loaded test filter and the prologue's filter and pin from one
     * run to the next (docs/operation-language.md, "Warm runs"). Ignored with
     * external_faults or outcome, and when the environment sets KM_FUZZ_COLD=1 (0 or 1 only: another value
     * stops the process at start-up, interp_warm.c). Traces are the same. */
    bool warm;
} op_run_config;

/* The whole life of one input: km_init, load the test filter, optional prologue, every operation,
 * close what is still open, km_teardown (leak checks). No state survives into the next call, except
 * in warm runs (config->warm), where what the prologue opened survives when the run leaves the model
 * as it found it.
 * A verifier finding aborts the process after the trace written so far has been flushed to stdout. */
void op_run(const op_program *prog, const op_run_config *config, op_trace *trace);
void op_trace_free(op_trace *trace);

/* Convenience for fuzz targets and replay: decode, run, and return a 64-bit FNV-1a hash of the
 * trace (for determinism checks without keeping text). */
uint64_t op_run_bytes(const uint8_t *data, size_t size, const op_run_config *config, op_trace *trace);
/* The hash op_run_bytes returned last (0 before the first run); the replay engine prints it. */
uint64_t op_last_trace_hash(void);

/* The fuzzing fast path: decode and run with no trace at all (nothing is formatted or hashed; a verifier
 * finding still aborts with its VERIFIER line on stderr, and the trace of a finding comes from replaying
 * the input with fuzz_<target>'s replay build or tools/replay.py). Under MemorySanitizer the trace is
 * still formatted, so every output byte the driver returns keeps being checked for initialisation. */
void op_run_untraced(const uint8_t *data, size_t size, const op_run_config *config);

/* The determinism comparator: returns when the two traces are byte-identical, else fails the
 * TRACE_NONDETERMINISTIC verifier check naming `name` and the first differing line. */
void op_trace_check_deterministic(const char *name, const op_trace *first, const op_trace *second);

#endif /* OP_INTERP_H */
