/* session: whole allocator sessions, every operation allowed (frames by METHOD and the function table,
 * events, closes in any order, fault plans), checked against the reference model after every operation. */
#include "fuzz_target.h"

static const op_run_config config = {
    .prologue = true,
    .warm = true, /* docs/operation-language.md, "Warm runs" */
    .reference_model = true,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 65536)
        return 0;
    op_run_untraced(data, size, &config);
    return 0;
}
