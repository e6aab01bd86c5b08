/* framing: KSALLOCATOR_FRAMING values through KsCreateAllocator and KsCreateDefaultAllocatorEx (callbacks
 * present and failing), the status property that echoes them, close, and pool fault plans. The prologue
 * opens the filter and pin so every create has a parent. */
#include "fuzz_target.h"

static const op_run_config config = {
    .allowed = {FUZZ_OP_BIT(OP_CREATE_FRAMING) | FUZZ_OP_BIT(OP_CREATE_DEFAULT_EX) | FUZZ_OP_BIT(OP_PROP_STATUS) |
                FUZZ_OP_BIT(OP_CLOSE) | FUZZ_OP_BIT(OP_FAULT)},
    .prologue = true,
    .warm = true, /* docs/operation-language.md, "Warm runs" */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096)
        return 0;
    op_run_untraced(data, size, &config);
    return 0;
}
