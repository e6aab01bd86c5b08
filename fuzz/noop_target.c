/* noop_target.c: the ceiling. Built with exactly the flags and engine of the real targets (binary fuzz_noop),
 * it reads every byte and returns, so exec/s of a target divided by exec/s of fuzz_noop is the share of the
 * engine's best possible rate that the target keeps (tools/bench_fuzz.py). Not in the target registry. */
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < size; i++)
        sink ^= data[i];
    (void)sink;
    return 0;
}
