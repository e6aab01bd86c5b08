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
} op_run_config;

/* The whole life of one input: km_init, load the test filter, optional prologue, every operation,
 * close what is still open, km_teardown (leak checks). No state survives into the next call.
 * A verifier finding aborts the process after the trace written so far has been flushed to stdout. */
void op_run(const op_program *prog, const op_run_config *config, op_trace *trace);
void op_trace_free(op_trace *trace);

/* Convenience for fuzz targets and replay: decode, run, and return a 64-bit FNV-1a hash of the
 * trace (for determinism checks without keeping text). */
uint64_t op_run_bytes(const uint8_t *data, size_t size, const op_run_config *config, op_trace *trace);

/* The fuzzing fast path: decode and run with no trace at all (nothing is formatted or hashed; a verifier
 * finding still aborts with its VERIFIER line on stderr, and the trace of a finding comes from replaying
 * the input with fuzz_<target>'s replay build or tools/replay.py). Under MemorySanitizer the trace is
 * still formatted, so every output byte the driver returns keeps being checked for initialisation. */
void op_run_untraced(const uint8_t *data, size_t size, const op_run_config *config);

/* The determinism comparator: returns when the two traces are byte-identical, else fails the
 * TRACE_NONDETERMINISTIC verifier check naming `name` and the first differing line. */
void op_trace_check_deterministic(const char *name, const op_trace *first, const op_trace *second);

#endif /* OP_INTERP_H */
