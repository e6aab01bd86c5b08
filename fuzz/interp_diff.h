/* interp_diff.h: differential comparison of two observation traces of one program (two allocator
 * implementations): the FIRST operation whose observations differ, and whether a recorded deliberate
 * difference (docs/filter-specific-allocator.md, "Differences") licenses it. tools/diff.py is the
 * same rule set over traces from two replay binaries. */
#ifndef OP_INTERP_DIFF_H
#define OP_INTERP_DIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "op_program.h"

typedef struct op_divergence {
    bool found;        /* the traces differ */
    long op_index;     /* the operation whose observations differ (-1: prologue/init; count: the end) */
    char op[24];       /* its name ("end" for the end line) */
    char field[24];    /* "status", "info", "out", "h2", "f0", "signal", "finding", ... or "line" */
    char a[96], b[96]; /* the field's value in trace A / B, "(absent)" when one trace lacks it */
    const char *known; /* the deliberate difference that licenses it (an id like "D1"), else NULL */
} op_divergence;

/* Compares the traces of prog run on A and on B. */
void op_trace_diverge(const op_program *prog, const char *trace_a, const char *trace_b, op_divergence *out);

#endif /* OP_INTERP_DIFF_H */
