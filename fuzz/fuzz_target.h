/* fuzz_target.h: what every fuzz target (fuzz/targets/<name>.c) shares: the libFuzzer entry points and
 * a compile-time opcode mask for op_run_config.allowed. A target is one LLVMFuzzerTestOneInput plus one
 * op_run_config; the engine (replay, libFuzzer, AFL++) is chosen at link time (cmake/fuzzing.cmake). */
#ifndef FUZZ_TARGET_H
#define FUZZ_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "interp.h"
#include "op_program.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Every opcode in ops.def is below 64 (checked below), so a target's allowed set is allowed[0]. */
#define FUZZ_OP_BIT(code) (UINT64_C(1) << (code))
#define OP_BEGIN(opcode, ID, name) \
    _Static_assert((opcode) < 64, "opcode " #opcode " (" #name ") >= 64: FUZZ_OP_BIT must index allowed[1..3]");
#include "op_def_include.h"

#endif /* FUZZ_TARGET_H */
