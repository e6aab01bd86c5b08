/* create_irp: the allocator create request (KsCreateAllocator, KsValidateAllocatorCreateRequest) from the
 * IRP side: create names and framings under a filter and pin (the prologue opens both), caller mode, IRQL,
 * hand-built IRPs a driver may pass to KsValidateAllocatorCreateRequest, NULL arguments to the create DDIs. */
#include "fuzz_target.h"

static const op_run_config config = {
    .allowed = {FUZZ_OP_BIT(OP_CREATE_RAW) | FUZZ_OP_BIT(OP_CREATE_FRAMING) | FUZZ_OP_BIT(OP_CLOSE) |
                FUZZ_OP_BIT(OP_SET_MODE) | FUZZ_OP_BIT(OP_SET_IRQL) | FUZZ_OP_BIT(OP_OPEN_PIN) |
                FUZZ_OP_BIT(OP_OPEN_FILTER) | FUZZ_OP_BIT(OP_VALIDATE_IRP) | FUZZ_OP_BIT(OP_NULL_ARGS)},
    .prologue = true,
    .warm = true, /* docs/operation-language.md, "Warm runs" */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) /* a create name is at most 64 KiB, but every interesting one fits */
        return 0;
    op_run_untraced(data, size, &config);
    return 0;
}
