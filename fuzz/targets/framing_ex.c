/* framing_ex: KsValidateAllocatorFramingEx called directly on a KSALLOCATOR_FRAMING_EX blob of exactly its
 * size, against an optional pin framing, with CountItems and BufferSize independent. */
#include "fuzz_target.h"

static const op_run_config config = {
    .allowed = {FUZZ_OP_BIT(OP_FRAMING_EX)},
    .warm = true, /* docs/operation-language.md, "Warm runs" */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096)
        return 0;
    op_run_untraced(data, size, &config);
    return 0;
}
