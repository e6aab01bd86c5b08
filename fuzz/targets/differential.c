/* differential: one program on two allocator implementations (the default allocator and the test filter
 * pin's filter-specific one, or a seam build's driver allocator); the first operation whose observations
 * differ aborts with "DIFFERENTIAL <op>.<field>: ..." unless a recorded deliberate difference licenses it
 * (fuzz/interp_diff.h). Verifier findings of either run abort as usual. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_target.h"
#include "interp_diff.h"

static const op_run_config config_a = { .prologue = true, .warm = true, .implementation = OP_IMPL_DEFAULT };
static const op_run_config config_b = { .prologue = true, .warm = true, .implementation = OP_IMPL_FILTER_SPECIFIC };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static op_program prog;
    static op_trace a, b;
    if (size > 16384)
        return 0;
    op_decode(data, size, &prog);
    op_run(&prog, &config_a, &a);
    op_run(&prog, &config_b, &b);
    op_divergence d;
    op_trace_diverge(&prog, a.text != NULL ? a.text : "", b.text != NULL ? b.text : "", &d);
    if (!d.found || d.known != NULL)
        return 0;
    fprintf(stderr, "DIFFERENTIAL %s.%s: operation %ld %s: %s (default) vs %s (filter-specific)\n", d.op, d.field,
            d.op_index, d.op, d.a, d.b);
    fprintf(stderr, "--- trace on the default allocator\n%s--- trace on the filter-specific allocator\n%s",
            a.text, b.text);
    abort();
}
