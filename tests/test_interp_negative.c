/* test_interp_negative.c: the interpreter's verifier checks, each tripped through the real check
 * function: the alignment oracle, the AllocatedFrames comparison, the model's status and framing
 * comparisons, and the determinism comparator. */
#include "interp_fixture.h"
#include "refmodel.h"

KTEST_NEGATIVE(interp_negative, rm_check_frame_alignment_misaligned_frame, FRAME_MISALIGNED)
{
    rm_check_frame_alignment("test", 1, (PVOID)(uintptr_t)0x10000, 0x3F); /* aligned: passes */
    rm_check_frame_alignment("test", 2, (PVOID)(uintptr_t)0x10021, 0x3F);
}

KTEST_NEGATIVE(interp_negative, rm_check_allocated_frames_wrong_count, ALLOCATED_FRAMES_MISMATCH)
{
    rm_check_allocated_frames("test", 2, 2);
    rm_check_allocated_frames("test", 3, 2);
}

/* The model fed a deliberately wrong expectation: a valid framing "returned" INVALID_PARAMETER. */
KTEST_NEGATIVE(interp_negative, rm_check_status_disagrees_with_model, MODEL_DISAGREEMENT)
{
    KSALLOCATOR_FRAMING f = { { KSALLOCATOR_OPTIONF_SYSTEM_MEMORY }, NonPagedPool, 2, 64, { FILE_64_BYTE_ALIGNMENT }, 0 };
    rm_expect e;
    rm_expect_create(&e, &f, 0, 0);
    rm_check_status("test", STATUS_SUCCESS, &e, false);
    rm_check_status("test", STATUS_INSUFFICIENT_RESOURCES, &e, true); /* the pool refused: allowed */
    rm_check_status("test", STATUS_INVALID_PARAMETER, &e, false);
}

KTEST_NEGATIVE(interp_negative, rm_check_framing_differs, MODEL_DISAGREEMENT)
{
    KSALLOCATOR_FRAMING a = { { 2 }, NonPagedPool, 2, 64, { 0xF }, 0 }, b = a;
    rm_check_framing("test", &a, &b);
    b.FrameSize = 65;
    rm_check_framing("test", &a, &b);
}

KTEST_NEGATIVE(interp_negative, op_trace_check_deterministic_differing_traces, TRACE_NONDETERMINISTIC)
{
    op_trace a = { 0 }, b = { 0 };
    op_run_bytes((const uint8_t *)"", 0, NULL, &a);
    op_run_bytes((const uint8_t *)"", 0, NULL, &b);
    op_trace_check_deterministic("same", &a, &b);
    b.text[b.len - 2] ^= 1;
    op_trace_check_deterministic("differs", &a, &b);
}
