/* test_interp.c: the interpreter: exact traces of small programs (the worked example of
 * docs/operation-language.md among them), slots and reserved references, the IRQL and mode rules,
 * pending requests and their completion, events, fault plans, the allowed-op mask, the prologue,
 * determinism (twice, and A B A) and op_run_bytes. */
#include <stdlib.h>
#include <string.h>

#include "interp_diff.h"
#include "interp_fixture.h"

static op_program prog, other;
static const op_run_config model = { .reference_model = true };
/* KsCreateDefaultAllocatorEx's callbacks are the default allocator's: pinned, so a seam build whose runs
 * default to a driver's own allocator (which ignores them, D1) still tests allocator/ here. */
static const op_run_config model_default = { .reference_model = true, .implementation = OP_IMPL_DEFAULT };

/* The ten-line example of docs/operation-language.md. */
KTEST(interp, op_run_worked_example)
{
    p_reset(&prog);
    p_session(&prog, 0, 2, 4096, 3);
    P_ADD(&prog, PROP_STATUS, prop_status, .target = 2, .out_size = 32, .mode = P_CUR, .irql = P_CUR);
    for (int i = 0; i < 3; i++)
        P_ADD(&prog, METHOD_ALLOC, method_alloc, .target = 2, .out_size = 8, .mode = P_CUR, .irql = P_CUR, .out = i);
    P_ADD(&prog, METHOD_FREE, method_free, .target = 2, .frame = 0, .out_size = 8, .mode = P_CUR, .irql = P_CUR);
    P_ADD(&prog, METHOD_FREE, method_free, .target = 2, .frame = 0, .out_size = 8, .mode = P_CUR, .irql = P_CUR);
    P_ADD(&prog, CLOSE, close, .handle = 2, .mode = P_CUR);
    EXPECT_TRACE(&prog, &model,
                 "trace 1\n"
                 "0000 open_filter STATUS_SUCCESS info=0 h0=#1\n"
                 "0001 open_pin STATUS_SUCCESS info=0 h1=#2\n"
                 "0002 create_framing STATUS_SUCCESS h2=#3\n"
                 "0003 prop_status STATUS_SUCCESS info=32 out=0200000000000000020000000010000003000000000000000000000000000000\n"
                 "0004 method_alloc STATUS_SUCCESS info=8 out=[f0] f0=#1\n"
                 "0005 method_alloc STATUS_SUCCESS info=8 out=[f1] f1=#2\n"
                 "0006 method_alloc STATUS_PENDING info=0\n"
                 "0007 method_free STATUS_SUCCESS info=0\n"
                 "done 0006 method_alloc STATUS_SUCCESS info=8 out=[f2] f2=#3\n"
                 "0008 method_free STATUS_SUCCESS frame=reused info=0\n"
                 "0009 close STATUS_SUCCESS h2=closed\n"
                 "end STATUS_SUCCESS\n");
}

KTEST(interp, op_run_empty_slots_raw_and_reserved_references)
{
    p_reset(&prog);
    P_ADD(&prog, FN_ALLOC, fn_alloc, .target = 2, .irql = P_CUR, .out = 0);
    prog.ops[prog.count++] = (op_op){ .code = OP_RAW, .u.raw = { (const uint8_t *)"\xee", 1 } };
    P_ADD(&prog, CLOSE, close, .handle = OP_REF_CLOSED, .mode = P_CUR);
    P_ADD(&prog, CLOSE, close, .handle = OP_REF_BOGUS, .mode = P_CUR);
    P_ADD(&prog, CLOSE, close, .handle = OP_REF_NULL, .mode = P_CUR);
    P_ADD(&prog, METHOD_FREE, method_free, .target = 18 /* h2 */, .frame = 0, .out_size = 8);
    P_ADD(&prog, OPEN_FILTER, open_filter, .out = 16 /* h0 */);
    P_ADD(&prog, METHOD_FREE, method_free, .target = 0, .frame = 3, .out_size = 8);
    P_ADD(&prog, METHOD_FREE, method_free, .target = 0, .frame = OP_REF_BOGUS, .out_size = 8);
    P_ADD(&prog, CLOSE, close, .handle = 0);
    P_ADD(&prog, CLOSE, close, .handle = OP_REF_CLOSED);
    EXPECT_TRACE(&prog, &model,
                 "trace 1\n"
                 "0000 fn_alloc SKIPPED empty h2\n"
                 "0001 raw -\n"
                 "0002 close SKIPPED empty closed\n"
                 "0003 close STATUS_INVALID_HANDLE\n"
                 "0004 close STATUS_INVALID_HANDLE\n"
                 "0005 method_free SKIPPED empty h2\n"
                 "0006 open_filter STATUS_SUCCESS info=0 h0=#1\n"
                 "0007 method_free SKIPPED empty f3\n"
                 "0008 method_free STATUS_INVALID_DEVICE_REQUEST info=0\n"
                 "0009 close STATUS_SUCCESS h0=closed\n"
                 "0010 close STATUS_INVALID_HANDLE\n"
                 "end STATUS_SUCCESS\n");
}

/* An op's irql applies only where the DDI allows it; I/O above PASSIVE_LEVEL is `SKIPPED irql`. */
KTEST(interp, op_run_irql_and_mode_rules)
{
    p_reset(&prog);
    p_session(&prog, 0, 0, 64, 0x3F);
    P_ADD(&prog, PROP_STATUS, prop_status, .target = 2, .out_size = 32, .mode = P_CUR, .irql = 2);
    P_ADD(&prog, FN_ALLOC, fn_alloc, .target = 2, .irql = 2, .out = 0);
    P_ADD(&prog, FN_FREE, fn_free, .target = 2, .frame = 0, .irql = 2);
    P_ADD(&prog, FN_ALLOC, fn_alloc, .target = 2, .irql = 15, .out = 1);
    P_ADD(&prog, SET_IRQL, set_irql, .irql = 200);
    P_ADD(&prog, PROP_STATUS, prop_status, .target = 2, .out_size = 32, .mode = P_CUR, .irql = P_CUR);
    P_ADD(&prog, SET_IRQL, set_irql, .irql = 0);
    P_ADD(&prog, SET_MODE, set_mode, .mode = 7);
    P_ADD(&prog, PROP_STATUS, prop_status, .target = 2, .out_size = 32, .mode = P_CUR, .irql = P_CUR);
    P_ADD(&prog, SET_MODE, set_mode, .mode = 1);
    P_ADD(&prog, PROP_FUNCTIONTABLE, prop_functiontable, .target = 2, .out_size = 16, .mode = P_CUR, .irql = P_CUR);
    P_ADD(&prog, METHOD_ALLOC, method_alloc, .target = 2, .out_size = 8, .mode = P_CUR, .irql = P_CUR, .out = 3);
    P_ADD(&prog, CREATE_FRAMING, create_framing, .parent = 1, .options = 2, .frames = 1, .frame_size = 16,
          .mode = P_CUR, .irql = P_CUR, .out = 4);
    P_ADD(&prog, CREATE_FRAMING, create_framing, .parent = 1, .options = 2, .frames = 1, .frame_size = 0,
          .mode = P_CUR, .irql = P_CUR, .out = 5);
    EXPECT_TRACE(&prog, &model,
                 "trace 1\n"
                 "0000 open_filter STATUS_SUCCESS info=0 h0=#1\n"
                 "0001 open_pin STATUS_SUCCESS info=0 h1=#2\n"
                 "0002 create_framing STATUS_SUCCESS h2=#3\n"
                 "0003 prop_status SKIPPED irql\n"
                 "0004 fn_alloc STATUS_SUCCESS f0=#1\n"
                 "0005 fn_free -\n"
                 "0006 fn_alloc SKIPPED irql\n"
                 "0007 set_irql -\n"
                 "0008 prop_status SKIPPED irql\n"
                 "0009 set_irql -\n"
                 "0010 set_mode -\n"
                 "0011 prop_status SKIPPED mode\n"
                 "0012 set_mode -\n"
                 "0013 prop_functiontable STATUS_INVALID_DEVICE_REQUEST info=0\n"
                 "0014 method_alloc STATUS_INVALID_DEVICE_REQUEST info=0\n"
                 "0015 create_framing win32:0 h4=#4\n"
                 "0016 create_framing win32:87\n"
                 "end STATUS_SUCCESS\n");
}

/* Close cancels the pending ALLOC (decisions Q15); the completion is traced after the close. */
KTEST(interp, op_run_pending_alloc_cancelled_by_close)
{
    p_reset(&prog);
    p_session(&prog, 512, 1, 32, 0xF);
    P_ADD(&prog, FN_ALLOC, fn_alloc, .target = 2, .irql = P_CUR, .out = 0);
    P_ADD(&prog, FN_ALLOC, fn_alloc, .target = 2, .irql = P_CUR, .out = 1);
    P_ADD(&prog, METHOD_ALLOC, method_alloc, .target = 2, .out_size = 8, .mode = P_CUR, .irql = P_CUR, .out = 2);
    P_ADD(&prog, PROP_STATUS, prop_status, .target = 2, .out_size = 40, .mode = P_CUR, .irql = P_CUR);
    P_ADD(&prog, CLOSE, close, .handle = 2, .mode = P_CUR);
    P_ADD(&prog, METHOD_ALLOC, method_alloc, .target = 2, .out_size = 8, .out = 2);
    EXPECT_TRACE(&prog, &model,
                 "trace 1\n"
                 "0000 open_filter STATUS_SUCCESS info=0 h0=#1\n"
                 "0001 open_pin STATUS_SUCCESS info=0 h1=#2\n"
                 "0002 create_framing STATUS_SUCCESS h2=#3\n"
                 "0003 fn_alloc STATUS_SUCCESS f0=#1\n"
                 "0004 fn_alloc STATUS_INSUFFICIENT_RESOURCES\n"
                 "0005 method_alloc STATUS_PENDING info=0\n"
                 "0006 prop_status STATUS_SUCCESS info=32 out=02000000000200000100000020000000"
                 "0f000000000000000100000000000000\n"
                 "0007 close STATUS_SUCCESS h2=closed\n"
                 "done 0005 method_alloc STATUS_CANCELLED info=0\n"
                 "0008 method_alloc SKIPPED empty h2\n"
                 "end STATUS_SUCCESS\n");
}

/* A pending ALLOC left at the end is cancelled by rundown and traced before `end`. */
KTEST(interp, op_run_rundown_traces_leftover_completions)
{
    p_reset(&prog);
    p_session(&prog, 0, 1, 32, 0);
    P_ADD(&prog, METHOD_ALLOC, method_alloc, .target = 2, .out_size = 8, .mode = P_CUR, .irql = P_CUR, .out = 0);
    P_ADD(&prog, METHOD_ALLOC, method_alloc, .target = 2, .out_size = 8, .mode = P_CUR, .irql = P_CUR, .out = 1);
    EXPECT_TRACE(&prog, &model,
                 "trace 1\n"
                 "0000 open_filter STATUS_SUCCESS info=0 h0=#1\n"
                 "0001 open_pin STATUS_SUCCESS info=0 h1=#2\n"
                 "0002 create_framing STATUS_SUCCESS h2=#3\n"
                 "0003 method_alloc STATUS_SUCCESS info=8 out=[f0] f0=#1\n"
                 "0004 method_alloc STATUS_PENDING info=0\n"
                 "done 0004 method_alloc STATUS_CANCELLED info=0\n"
                 "end STATUS_SUCCESS\n");
}

/* FREEFRAME with an event object is signalled when a frame comes back (decisions Q9). */
KTEST(interp, op_run_event_signalled_by_free)
{
    p_reset(&prog);
    p_session(&prog, 0, 0, 64, 7);
    P_ADD(&prog, EVENT_ENABLE, event_enable, .target = 2, .event_id = 1, .flags = 1, .notify = 4, .mode = P_CUR,
          .irql = P_CUR, .out = 0);
    P_ADD(&prog, EVENT_ENABLE, event_enable, .target = 2, .event_id = 1, .flags = 1, .notify = 8, .mode = P_CUR,
          .irql = P_CUR, .out = 1);
    P_ADD(&prog, EVENT_ENABLE, event_enable, .target = 2, .event_id = 1, .flags = 1, .notify = 1, .mode = P_CUR,
          .irql = P_CUR, .out = 2);
    P_ADD(&prog, FN_ALLOC, fn_alloc, .target = 2, .irql = 2, .out = 0);
    P_ADD(&prog, FN_FREE, fn_free, .target = 2, .frame = 0, .irql = 2);
    P_ADD(&prog, EVENT_DISABLE, event_disable, .target = 2, .event = OP_REF_NULL, .mode = P_CUR, .irql = P_CUR);
    P_ADD(&prog, METHOD_ALLOC, method_alloc, .target = 2, .out_size = 8, .mode = P_CUR, .irql = P_CUR, .out = 1);
    P_ADD(&prog, METHOD_FREE, method_free, .target = 2, .frame = 1, .out_size = 8, .mode = P_CUR, .irql = P_CUR);
    EXPECT_TRACE(&prog, &model,
                 "trace 1\n"
                 "0000 open_filter STATUS_SUCCESS info=0 h0=#1\n"
                 "0001 open_pin STATUS_SUCCESS info=0 h1=#2\n"
                 "0002 create_framing STATUS_SUCCESS h2=#3\n"
                 "0003 event_enable STATUS_SUCCESS info=0 e0=#1\n"
                 "0004 event_enable STATUS_SUCCESS info=0 e1=#2\n"
                 "0005 event_enable STATUS_NOT_SUPPORTED info=0\n"
                 "0006 fn_alloc STATUS_SUCCESS f0=#1\n"
                 "0007 fn_free - signal=#1 signal=#2\n"
                 "0008 event_disable STATUS_SUCCESS info=0\n"
                 "0009 method_alloc STATUS_SUCCESS info=8 out=[f1] f1=#2\n"
                 "0010 method_free STATUS_SUCCESS info=0\n"
                 "end STATUS_SUCCESS\n");
}

/* event_disable of one slot passes the enable's own KSEVENTDATA, which identifies the event
 * (KsDisableEvent keys on the caller's address through the I/O manager's shadow copies); a second
 * disable reaches the driver again and finds nothing. */
KTEST(interp, op_run_event_disable_by_slot)
{
    p_reset(&prog);
    p_session(&prog, 0, 0, 64, 7);
    P_ADD(&prog, EVENT_ENABLE, event_enable, .target = 2, .event_id = 1, .flags = 1, .notify = 4, .mode = P_CUR,
          .irql = P_CUR, .out = 0);
    P_ADD(&prog, EVENT_DISABLE, event_disable, .target = 2, .event = 0, .mode = P_CUR, .irql = P_CUR);
    P_ADD(&prog, EVENT_DISABLE, event_disable, .target = 2, .event = 0, .mode = P_CUR, .irql = P_CUR);
    P_ADD(&prog, FN_ALLOC, fn_alloc, .target = 2, .irql = 2, .out = 0);
    P_ADD(&prog, FN_FREE, fn_free, .target = 2, .frame = 0, .irql = 2);
    EXPECT_TRACE(&prog, &model,
                 "trace 1\n"
                 "0000 open_filter STATUS_SUCCESS info=0 h0=#1\n"
                 "0001 open_pin STATUS_SUCCESS info=0 h1=#2\n"
                 "0002 create_framing STATUS_SUCCESS h2=#3\n"
                 "0003 event_enable STATUS_SUCCESS info=0 e0=#1\n"
                 "0004 event_disable STATUS_SUCCESS info=0\n"
                 "0005 event_disable STATUS_UNSUCCESSFUL info=0\n"
                 "0006 fn_alloc STATUS_SUCCESS f0=#1\n"
                 "0007 fn_free -\n"
                 "end STATUS_SUCCESS\n");
}

/* fn_free of a frame the target did not hand out is a trusted kernel caller's contract violation:
 * traced SKIPPED frame, never run (the allocator's bugcheck for it is covered by unit tests). */
KTEST(interp, op_run_fn_free_of_a_foreign_frame_is_skipped)
{
    p_reset(&prog);
    p_session(&prog, 0, 0, 64, 7);
    P_ADD(&prog, FN_ALLOC, fn_alloc, .target = 2, .irql = 2, .out = 0);
    P_ADD(&prog, FN_FREE, fn_free, .target = 2, .frame = OP_REF_BOGUS, .irql = 2);
    P_ADD(&prog, FN_FREE, fn_free, .target = 2, .frame = OP_REF_NULL, .irql = 2);
    P_ADD(&prog, FN_FREE, fn_free, .target = 2, .frame = 0, .irql = 2);
    P_ADD(&prog, FN_FREE, fn_free, .target = 2, .frame = OP_REF_CLOSED, .irql = 2);
    EXPECT_TRACE(&prog, &model,
                 "trace 1\n"
                 "0000 open_filter STATUS_SUCCESS info=0 h0=#1\n"
                 "0001 open_pin STATUS_SUCCESS info=0 h1=#2\n"
                 "0002 create_framing STATUS_SUCCESS h2=#3\n"
                 "0003 fn_alloc STATUS_SUCCESS f0=#1\n"
                 "0004 fn_free SKIPPED frame\n"
                 "0005 fn_free SKIPPED frame\n"
                 "0006 fn_free -\n"
                 "0007 fn_free SKIPPED frame\n"
                 "end STATUS_SUCCESS\n");
}

/* A frame slot whose frame was freed still holds its address. When the lookaside list hands that address
 * out again, a FREE through the stale slot reaches the live frame: the line says frame=reused, and the
 * live frame is the one returned (so the next FREE through its own slot fails, unmarked). */
KTEST(interp, op_run_stale_frame_reference_to_a_reused_address_is_marked)
{
    p_reset(&prog);
    p_session(&prog, 0, 0, 64, 7);
    P_ADD(&prog, FN_ALLOC, fn_alloc, .target = 2, .irql = P_CUR, .out = 0);
    P_ADD(&prog, METHOD_FREE, method_free, .target = 2, .frame = 0, .out_size = 8, .mode = P_CUR, .irql = P_CUR);
    P_ADD(&prog, METHOD_FREE, method_free, .target = 2, .frame = 0, .out_size = 8, .mode = P_CUR, .irql = P_CUR);
    P_ADD(&prog, FN_ALLOC, fn_alloc, .target = 2, .irql = P_CUR, .out = 1);
    P_ADD(&prog, METHOD_FREE, method_free, .target = 2, .frame = 0, .out_size = 8, .mode = P_CUR, .irql = P_CUR);
    P_ADD(&prog, METHOD_FREE, method_free, .target = 2, .frame = 1, .out_size = 8, .mode = P_CUR, .irql = P_CUR);
    P_ADD(&prog, FN_ALLOC, fn_alloc, .target = 2, .irql = P_CUR, .out = 2);
    P_ADD(&prog, FN_FREE, fn_free, .target = 2, .frame = OP_REF_CLOSED, .irql = P_CUR);
    EXPECT_TRACE(&prog, &model_default,
                 "trace 1\n"
                 "0000 open_filter STATUS_SUCCESS info=0 h0=#1\n"
                 "0001 open_pin STATUS_SUCCESS info=0 h1=#2\n"
                 "0002 create_framing STATUS_SUCCESS h2=#3\n"
                 "0003 fn_alloc STATUS_SUCCESS f0=#1\n"
                 "0004 method_free STATUS_SUCCESS info=0\n"
                 "0005 method_free STATUS_INVALID_PARAMETER info=0\n"
                 "0006 fn_alloc STATUS_SUCCESS f1=#2\n"
                 "0007 method_free STATUS_SUCCESS frame=reused info=0\n"
                 "0008 method_free STATUS_INVALID_PARAMETER info=0\n"
                 "0009 fn_alloc STATUS_SUCCESS f2=#3\n"
                 "0010 fn_free - frame=reused\n"
                 "end STATUS_SUCCESS\n");
}

/* A hand-built create IRP: UTF-16LE class string, '\', 24 framing bytes (102 bytes, as KsCreateAllocator builds). */
static uint8_t p_create_name[102];
static op_bytes p_allocator_name(void)
{
    static const WCHAR prefix[] = KSSTRING_Allocator L"\\";
    static const uint32_t framing[6] = { 2, 0, 2, 4096, 3, 0 };
    memcpy(p_create_name, prefix, sizeof prefix - sizeof(WCHAR));
    memcpy(p_create_name + sizeof prefix - sizeof(WCHAR), framing, sizeof framing);
    return (op_bytes){ p_create_name, sizeof p_create_name };
}

/* validate_irp and null_args (docs/decisions.md, "Calls outside the create path"): the returned copy
 * is traced and freed (no POOL_LEAK at the end), each refusal is the decided status, null_args with no
 * NULL argument of its DDI and an unknown DDI are not run, and both are PASSIVE_LEVEL only. */
KTEST(interp, op_run_driver_side_calls)
{
    p_reset(&prog);
    op_bytes name = p_allocator_name();
    P_ADD(&prog, VALIDATE_IRP, validate_irp, .name = name, .length = 102, .max_length = 102, .irql = P_CUR);
    P_ADD(&prog, VALIDATE_IRP, validate_irp, .name = name, .length = 102, .max_length = 102, .major = 0x0e,
          .irql = P_CUR);
    P_ADD(&prog, VALIDATE_IRP, validate_irp, .name = name, .length = 102, .max_length = 102, .shape = 0x10,
          .irql = P_CUR);
    P_ADD(&prog, VALIDATE_IRP, validate_irp, .name = name, .length = 100, .max_length = 102, .irql = P_CUR);
    P_ADD(&prog, NULL_ARGS, null_args, .ddi = 0, .null = 2, .irql = P_CUR);
    P_ADD(&prog, NULL_ARGS, null_args, .ddi = 1, .null = 4, .irql = P_CUR);
    P_ADD(&prog, NULL_ARGS, null_args, .ddi = 3, .null = 1, .irql = P_CUR);
    P_ADD(&prog, NULL_ARGS, null_args, .ddi = 2, .null = 6, .irql = P_CUR);
    P_ADD(&prog, NULL_ARGS, null_args, .ddi = 9, .null = 7, .irql = P_CUR);
    P_ADD(&prog, VALIDATE_IRP, validate_irp, .name = name, .length = 102, .max_length = 102, .irql = 2);
    EXPECT_TRACE(&prog, &model,
                 "trace 1\n"
                 "0000 validate_irp STATUS_SUCCESS out=020000000000000002000000001000000300000000000000\n"
                 "0001 validate_irp STATUS_INVALID_PARAMETER\n"
                 "0002 validate_irp STATUS_INVALID_PARAMETER\n"
                 "0003 validate_irp STATUS_INVALID_PARAMETER\n"
                 "0004 null_args STATUS_INVALID_PARAMETER\n"
                 "0005 null_args win32:87\n"
                 "0006 null_args STATUS_INVALID_PARAMETER\n"
                 "0007 null_args SKIPPED args\n"
                 "0008 null_args SKIPPED ddi\n"
                 "0009 validate_irp SKIPPED irql\n"
                 "end STATUS_SUCCESS\n");
}

/* Fault plans reach the allocator; the model accepts resource failures only when the pool refused. */
KTEST(interp, op_run_fault_plan_and_default_ex_callbacks)
{
    p_reset(&prog);
    P_ADD(&prog, OPEN_FILTER, open_filter, .out = 0);
    P_ADD(&prog, OPEN_PIN, open_pin, .filter = 0, .out = 1);
    P_ADD(&prog, FAULT, fault, .nth = 1);
    P_ADD(&prog, CREATE_FRAMING, create_framing, .parent = 1, .options = 2, .frames = 1, .frame_size = 64,
          .mode = P_CUR, .irql = P_CUR, .out = 2);
    P_ADD(&prog, FAULT, fault, .nth = 0);
    P_ADD(&prog, CREATE_DEFAULT_EX, create_default_ex, .parent = 1, .callbacks = 0x1E, .fail = 0x2, .frames = 2,
          .frame_size = 64, .mode = P_CUR, .irql = P_CUR, .out = 3);
    P_ADD(&prog, METHOD_ALLOC, method_alloc, .target = 3, .out_size = 8, .mode = P_CUR, .irql = P_CUR, .out = 0);
    P_ADD(&prog, CREATE_DEFAULT_EX, create_default_ex, .parent = 1, .callbacks = 0x2, .frames = 2, .frame_size = 64,
          .mode = P_CUR, .irql = P_CUR, .out = 4);
    P_ADD(&prog, CREATE_DEFAULT_EX, create_default_ex, .parent = 1, .callbacks = 0x1C, .fail = 0x8, .frames = 2,
          .frame_size = 64, .mode = P_CUR, .irql = P_CUR, .out = 5);
    EXPECT_TRACE(&prog, &model_default,
                 "trace 1\n"
                 "0000 open_filter STATUS_SUCCESS info=0 h0=#1\n"
                 "0001 open_pin STATUS_SUCCESS info=0 h1=#2\n"
                 "0002 fault -\n"
                 "0003 create_framing STATUS_INSUFFICIENT_RESOURCES\n"
                 "0004 fault -\n"
                 "0005 create_default_ex STATUS_SUCCESS h3=#3\n"
                 "0006 method_alloc STATUS_INSUFFICIENT_RESOURCES info=0\n"
                 "0007 create_default_ex STATUS_INVALID_PARAMETER\n"
                 "0008 create_default_ex STATUS_INVALID_PARAMETER\n"
                 "end STATUS_SUCCESS\n");
}

KTEST(interp, op_run_allowed_mask_and_prologue)
{
    p_reset(&prog);
    P_ADD(&prog, CREATE_FRAMING, create_framing, .parent = 1, .options = 2, .frames = 1, .frame_size = 64,
          .mode = P_CUR, .irql = P_CUR, .out = 2);
    P_ADD(&prog, PROP_STATUS, prop_status, .target = 2, .out_size = 0, .mode = P_CUR, .irql = P_CUR);
    op_run_config c = { .prologue = true, .reference_model = true };
    c.allowed[0] = 1ull << OP_CREATE_FRAMING;
    EXPECT_TRACE(&prog, &c,
                 "trace 1\n"
                 "pre0 open_filter STATUS_SUCCESS info=0 h0=#1\n"
                 "pre1 open_pin STATUS_SUCCESS info=0 h1=#2\n"
                 "0000 create_framing STATUS_SUCCESS h2=#3\n"
                 "0001 prop_status SKIPPED op\n"
                 "end STATUS_SUCCESS\n");
    c.allowed[0] |= 1ull << OP_PROP_STATUS;
    EXPECT_TRACE(&prog, &c,
                 "trace 1\n"
                 "pre0 open_filter STATUS_SUCCESS info=0 h0=#1\n"
                 "pre1 open_pin STATUS_SUCCESS info=0 h1=#2\n"
                 "0000 create_framing STATUS_SUCCESS h2=#3\n"
                 "0001 prop_status STATUS_BUFFER_OVERFLOW info=32\n"
                 "end STATUS_SUCCESS\n");
}

/* The general ioctl: NULL / unaligned buffers, a frame passed by `frame=`, table pointers as [fn]. */
KTEST(interp, op_run_general_ioctl)
{
    p_reset(&prog);
    p_session(&prog, 0, 0, 64, 0);
    P_ADD(&prog, IOCTL, ioctl, .target = 2, .code = IOCTL_KS_PROPERTY, .set = KSPROPSETID_StreamAllocator, .id = 0,
          .flags = 1, .in_size = 24, .out_size = 16, .frame = OP_REF_NULL, .buffers = 0xC, .mode = P_CUR, .irql = P_CUR);
    P_ADD(&prog, IOCTL, ioctl, .target = 2, .code = IOCTL_KS_METHOD, .set = KSMETHODSETID_StreamAllocator, .id = 0,
          .flags = 2, .in_size = 24, .out_size = 8, .frame = OP_REF_NULL, .mode = P_CUR, .irql = P_CUR, .out = 5);
    P_ADD(&prog, IOCTL, ioctl, .target = 2, .code = IOCTL_KS_METHOD, .set = KSMETHODSETID_StreamAllocator, .id = 1,
          .flags = 1, .in_size = 24, .out_size = 8, .frame = 5, .mode = P_CUR, .irql = P_CUR);
    P_ADD(&prog, IOCTL, ioctl, .target = 2, .code = IOCTL_KS_PROPERTY, .set = KSPROPSETID_StreamAllocator, .id = 1,
          .flags = 1, .in_size = 24, .out_size = 32, .frame = OP_REF_NULL, .buffers = 0x1, .mode = P_CUR, .irql = P_CUR);
    P_ADD(&prog, IOCTL, ioctl, .target = 2, .code = IOCTL_KS_PROPERTY, .set = KSPROPSETID_StreamAllocator, .id = 1,
          .flags = 1, .in_size = 2000000, .out_size = 32, .frame = OP_REF_NULL, .mode = P_CUR, .irql = P_CUR);
    /* A support query of the FUNCTIONTABLE id returns flags, not pointers: no [fn] tokens. */
    P_ADD(&prog, IOCTL, ioctl, .target = 2, .code = IOCTL_KS_PROPERTY, .set = KSPROPSETID_StreamAllocator, .id = 0,
          .flags = KSPROPERTY_TYPE_BASICSUPPORT, .in_size = 24, .out_size = 4, .frame = OP_REF_NULL, .mode = P_CUR,
          .irql = P_CUR);
    EXPECT_TRACE(&prog, &model,
                 "trace 1\n"
                 "0000 open_filter STATUS_SUCCESS info=0 h0=#1\n"
                 "0001 open_pin STATUS_SUCCESS info=0 h1=#2\n"
                 "0002 create_framing STATUS_SUCCESS h2=#3\n"
                 "0003 ioctl STATUS_SUCCESS info=16 out=[fn][fn]\n"
                 "0004 ioctl STATUS_SUCCESS info=8 out=[f5] f5=#1\n"
                 "0005 ioctl STATUS_SUCCESS info=0\n"
                 "0006 ioctl STATUS_INVALID_PARAMETER info=0\n"
                 "0007 ioctl SKIPPED size\n"
                 "0008 ioctl STATUS_SUCCESS info=4 out=01000000\n"
                 "end STATUS_SUCCESS\n");
}

/* No state survives a run: A, B, A gives A's trace twice; op_run_bytes hashes the trace. */
KTEST(interp, op_run_no_state_survives)
{
    p_reset(&prog);
    p_session(&prog, 0, 2, 128, 0xF);
    P_ADD(&prog, METHOD_ALLOC, method_alloc, .target = 2, .out_size = 8, .mode = P_CUR, .irql = P_CUR, .out = 0);
    P_ADD(&prog, FAULT, fault, .nth = 2);
    p_reset(&other);
    p_session(&other, 512, 1, 64, 0x3F);
    P_ADD(&other, CREATE_DEFAULT_EX, create_default_ex, .parent = 1, .callbacks = 0x1E, .fail = 0x2, .frames = 2,
          .frame_size = 64, .mode = P_CUR, .irql = P_CUR, .out = 3);
    P_ADD(&other, SET_MODE, set_mode, .mode = 1);
    P_ADD(&other, SET_IRQL, set_irql, .irql = 2);
    P_ADD(&other, FAULT, fault, .nth = 1);
    op_trace a1 = { 0 }, b = { 0 }, a2 = { 0 };
    op_run(&prog, &model, &a1);
    op_run(&other, &model, &b);
    op_run(&prog, &model, &a2);
    EXPECT_TRUE(a1.len > 0 && a1.len == a2.len && memcmp(a1.text, a2.text, a1.len) == 0);
    EXPECT_TRUE(a1.len != b.len || memcmp(a1.text, b.text, a1.len) != 0);
    op_trace_check_deterministic("A", &a1, &a2); /* would abort with TRACE_NONDETERMINISTIC */

    uint8_t bin[512];
    size_t n = op_encode(&prog, bin, sizeof bin);
    ASSERT_TRUE(n < sizeof bin);
    op_trace t = { 0 };
    uint64_t h1 = op_run_bytes(bin, n, &model, &t);
    uint64_t h2 = op_run_bytes(bin, n, &model, NULL);
    EXPECT_TRUE(h1 == h2);
    EXPECT_TRUE(t.len == a1.len && memcmp(t.text, a1.text, t.len) == 0);
    uint64_t h3 = op_run_bytes((const uint8_t *)"", 0, NULL, &t);
    EXPECT_TRUE(h3 != h1);
    EXPECT_TRUE(strcmp(t.text, "trace 1\nend STATUS_SUCCESS\n") == 0);
    op_run_bytes((const uint8_t *)"\x02\x01\x00\x00", 4, NULL, &t); /* another version: one raw, nothing runs */
    EXPECT_TRUE(strcmp(t.text, "trace 1\n0000 raw -\nend STATUS_SUCCESS\n") == 0);

    /* The fuzzing fast path (no trace) runs the same program and leaves nothing behind: A untraced,
     * B untraced, then A traced gives A's trace. */
    op_run_untraced(bin, n, &model);
    uint8_t bin_b[512];
    size_t nb = op_encode(&other, bin_b, sizeof bin_b);
    ASSERT_TRUE(nb < sizeof bin_b);
    op_run_untraced(bin_b, nb, &model);
    uint64_t h4 = op_run_bytes(bin, n, &model, &t);
    EXPECT_TRUE(h4 == h1);
    EXPECT_TRUE(t.len == a1.len && memcmp(t.text, a1.text, t.len) == 0);
    op_trace_free(&a1);
    op_trace_free(&b);
    op_trace_free(&a2);
    op_trace_free(&t);
}

/* Every decoded program of random bytes runs without a finding when the model is on and the
 * program cannot reach the contract-breaking calls (fn_free of a wild frame bugchecks by decision). */
KTEST(interp, op_run_random_programs_twice_identical)
{
    uint64_t x = 0x9E3779B97F4A7C15ull;
    op_run_config c = { .prologue = true, .reference_model = true };
    for (unsigned op = 1; op <= 0x13; op++)
        if (op != OP_FN_FREE)
            c.allowed[0] |= 1ull << op;
    for (int round = 0; round < 40; round++) {
        uint8_t bytes[160];
        bytes[0] = 1;
        for (size_t i = 1; i < sizeof bytes; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            bytes[i] = (uint8_t)(x % 5 == 0 ? (x >> 8) % 0x14 : (x >> 16) % 4);
        }
        op_trace t1 = { 0 }, t2 = { 0 };
        uint64_t h1 = op_run_bytes(bytes, sizeof bytes, &c, &t1);
        uint64_t h2 = op_run_bytes(bytes, sizeof bytes, &c, &t2);
        EXPECT_TRUE(h1 == h2);
        op_trace_check_deterministic("random", &t1, &t2);
        op_trace_free(&t1);
        op_trace_free(&t2);
    }
}

/* Warm runs (interp_warm.c): the same trace as a cold run, however the previous run ended. */
static char *run_text(const op_program *prog, const op_run_config *config)
{
    op_trace t = { 0 };
    op_run(prog, config, &t);
    return t.text; /* owned by the caller */
}

KTEST(interp, warm_runs_trace_as_cold_ones_whatever_came_before)
{
    static const op_run_config cold = { .prologue = true, .reference_model = true };
    static const op_run_config warm = { .prologue = true, .reference_model = true, .warm = true };
    static op_program normal, closes_pin;
    p_reset(&normal);
    P_ADD(&normal, CREATE_FRAMING, create_framing, .parent = 1, .options = 2, .frames = 2, .frame_size = 64,
          .mode = P_CUR, .irql = P_CUR, .out = 2);
    P_ADD(&normal, METHOD_ALLOC, method_alloc, .target = 2, .out_size = 8,
          .mode = P_CUR, .irql = P_CUR, .out = 0);
    p_reset(&closes_pin);
    P_ADD(&closes_pin, CREATE_FRAMING, create_framing, .parent = 1, .options = 2, .frames = 2, .frame_size = 64,
          .mode = P_CUR, .irql = P_CUR, .out = 2);
    P_ADD(&closes_pin, CLOSE, close, .handle = 1);
    char *expected = run_text(&normal, &cold), *expected_closes = run_text(&closes_pin, &cold);
    ASSERT_TRUE(expected != NULL && expected_closes != NULL);
    const op_program *order[] = { &normal, &normal, &closes_pin, &normal, &closes_pin, &closes_pin, &normal };
    for (size_t i = 0; i < RTL_NUMBER_OF(order); i++) {
        if (i == 4)
            km_init(); /* someone else's fresh model: the kept one is stale, not torn down twice */
        char *got = run_text(order[i], &warm);
        const char *want = order[i] == &normal ? expected : expected_closes;
        if (got == NULL || strcmp(got, want) != 0)
            ktest_fail_at(__FILE__, __LINE__, "run %zu: warm trace differs:\n--- got\n%s--- expected\n%s", i,
                          got != NULL ? got : "(null)\n", want);
        free(got);
    }
    free(expected);
    free(expected_closes);
}

/* The pool's budget for large blocks (harness/pool.c) on programs that fill it (found by review, both
 * false findings once): the interpreter's own STATUS query after each operation must not be refused
 * (MODEL_DISAGREEMENT "the STATUS property failed"), and the two implementations, whose bookkeeping
 * per frame differs by a few bytes, must meet the budget at the same frame (DIFFERENTIAL). */
static void fill_the_budget(op_program *p, bool by_method, uint32_t frame_size)
{
    p_reset(p);
    p_session(p, NonPagedPool, 0, frame_size, FILE_BYTE_ALIGNMENT);
    for (uint8_t i = 0; i < 9; i++) {
        if (by_method)
            P_ADD(p, METHOD_ALLOC, method_alloc, .target = 2, .out_size = 8, .mode = P_CUR, .irql = P_CUR, .out = i);
        else
            P_ADD(p, FN_ALLOC, fn_alloc, .target = 2, .irql = P_CUR, .out = i);
    }
    P_ADD(p, PROP_STATUS, prop_status, .target = 2, .out_size = 32, .mode = P_CUR, .irql = P_CUR);
}

KTEST(interp, pool_budget_meets_both_implementations_alike)
{
    static op_program prog;
    static const op_run_config fs = { .reference_model = true, .implementation = OP_IMPL_FILTER_SPECIFIC };
    for (int by_method = 0; by_method < 2; by_method++) {
        fill_the_budget(&prog, by_method, by_method ? 67108784u : 67108774u);
        op_trace a = { 0 }, b = { 0 };
        op_run(&prog, &model_default, &a); /* a model disagreement ends the test with its finding */
        op_run(&prog, &fs, &b);
        EXPECT_TRUE(strstr(a.text, "STATUS_INSUFFICIENT_RESOURCES") != NULL); /* the ninth frame is refused */
        op_divergence d;
        op_trace_diverge(&prog, a.text, b.text, &d);
        if (d.found && d.known == NULL)
            ktest_fail_at(__FILE__, __LINE__, "operation %ld %s: %s: %s (A) vs %s (B)", d.op_index, d.op, d.field,
                          d.a, d.b);
        op_trace_free(&a);
        op_trace_free(&b);
    }
}
