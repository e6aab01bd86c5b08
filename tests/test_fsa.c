/* test_fsa.c: the filter-specific allocator (allocator_fs/) through the interpreter: a session with the
 * Frames limit and a pending ALLOC, its deliberate differences D1 (Ex callbacks ignored), D3 (a foreign
 * FreeFrame is ignored, not a bugcheck) and D4 (a FreeFrame above PASSIVE_LEVEL hands its frame over),
 * its leak-free close; and the differential comparator. */
#include "interp_diff.h"
#include "alloc_fixture.h"
#include "interp_fixture.h"
#include "ks_test_filter.h"

static op_program prog;
static const op_run_config fs = { .reference_model = true, .implementation = OP_IMPL_FILTER_SPECIFIC };
static const op_run_config def = { .reference_model = true, .implementation = OP_IMPL_DEFAULT };

KTEST(fsa, session_frames_limit_pending_alloc_and_close_with_frames_out)
{
    p_reset(&prog);
    p_session(&prog, 0, 2, 4096, 3);
    for (int i = 0; i < 3; i++)
        P_ADD(&prog, METHOD_ALLOC, method_alloc, .target = 2, .out_size = 8, .mode = P_CUR, .irql = P_CUR, .out = i);
    P_ADD(&prog, METHOD_FREE, method_free, .target = 2, .frame = 0, .out_size = 8, .mode = P_CUR, .irql = P_CUR);
    P_ADD(&prog, PROP_STATUS, prop_status, .target = 2, .out_size = 32, .mode = P_CUR, .irql = P_CUR);
    P_ADD(&prog, CLOSE, close, .handle = 2, .mode = P_CUR);
    EXPECT_TRACE(&prog, &fs,
                 "trace 1\n"
                 "0000 open_filter STATUS_SUCCESS info=0 h0=#1\n"
                 "0001 open_pin STATUS_SUCCESS info=0 h1=#2\n"
                 "0002 create_framing STATUS_SUCCESS h2=#3\n"
                 "0003 method_alloc STATUS_SUCCESS info=8 out=[f0] f0=#1\n"
                 "0004 method_alloc STATUS_SUCCESS info=8 out=[f1] f1=#2\n"
                 "0005 method_alloc STATUS_PENDING info=0\n"
                 "0006 method_free STATUS_SUCCESS info=0\n"
                 "done 0005 method_alloc STATUS_SUCCESS info=8 out=[f2] f2=#3\n"
                 "0007 prop_status STATUS_SUCCESS info=32 out=0200000000000000020000000010000003000000000000000200000000000000\n"
                 "0008 close STATUS_SUCCESS h2=closed\n"
                 "end STATUS_SUCCESS\n");
}

KTEST(fsa, D1_create_default_ex_callbacks_are_ignored)
{
    p_reset(&prog);
    P_ADD(&prog, OPEN_FILTER, open_filter, .out = 0);
    P_ADD(&prog, OPEN_PIN, open_pin, .filter = 0, .out = 1);
    P_ADD(&prog, CREATE_DEFAULT_EX, create_default_ex, .parent = 1, .callbacks = 0x1F, .fail = 0x8, .options = 2,
          .frames = 1, .frame_size = 256, .mode = P_CUR, .irql = P_CUR, .out = 2);
    P_ADD(&prog, METHOD_ALLOC, method_alloc, .target = 2, .out_size = 8, .mode = P_CUR, .irql = P_CUR, .out = 0);
    op_trace a = { 0 }, b = { 0 };
    op_run(&prog, &def, &a);
    op_run(&prog, &fs, &b);
    EXPECT_TRUE(strstr(a.text, "0002 create_default_ex STATUS_INSUFFICIENT_RESOURCES\n") != NULL);
    EXPECT_TRUE(strstr(b.text, "0002 create_default_ex STATUS_SUCCESS h2=#3\n") != NULL);
    kstf_callback_counts counts;
    kstf_get_callback_counts(&counts);
    EXPECT_EQ(counts.initialize_calls, 0); /* the filter-specific run came last: no callback ran */
    op_divergence d;
    op_trace_diverge(&prog, a.text, b.text, &d);
    EXPECT_TRUE(d.found);
    EXPECT_EQ(d.op_index, 2);
    EXPECT_TRUE(strcmp(d.op, "create_default_ex") == 0 && strcmp(d.field, "status") == 0);
    EXPECT_TRUE(strcmp(d.a, "STATUS_INSUFFICIENT_RESOURCES") == 0 && strcmp(d.b, "STATUS_SUCCESS") == 0);
    EXPECT_TRUE(d.known != NULL && strcmp(d.known, "D1") == 0);
    op_trace_free(&a);
    op_trace_free(&b);
}

/* D3 through the function table directly (the interpreter skips foreign frees as a caller's bug). */
KTEST(fsa, D3_function_table_free_of_a_foreign_frame_is_ignored)
{
    alloc_fx fx;
    kstf_configure_pin_allocator(KSTF_PIN_FILTER_SPECIFIC);
    fx_open(&fx, NULL, NULL);
    PFILE_OBJECT file = km_handle_to_file(fx.alloc);
    ASSERT_TRUE(file != NULL);
    KSSTREAMALLOCATOR_FUNCTIONTABLE t;
    fx_function_table(fx.alloc, &t);
    PVOID frame = NULL;
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    EXPECT_STATUS(t.AllocateFrame(file, &frame), STATUS_SUCCESS);
    t.FreeFrame(file, frame);
    t.FreeFrame(file, frame);              /* already free: ignored, where the default allocator bugchecks */
    t.FreeFrame(file, (PVOID)&fx);         /* never handed out: ignored */
    KeLowerIrql(old);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    EXPECT_STATUS(fx_alloc(fx.alloc, &frame), STATUS_SUCCESS); /* the pool still works */
    fx_close_all(&fx);
    kstf_configure_pin_allocator(KSTF_PIN_DEFAULT_ALLOCATOR);
}

/* D4: a FreeFrame above PASSIVE_LEVEL hands its frame to the waiting ALLOC at once (the slot is
 * taken: AllocateFrame is refused), and the work item completes the ALLOC at PASSIVE_LEVEL, since its
 * output is the kernel caller's own METHOD_NEITHER buffer, which may be pageable. */
KTEST(fsa, D4_free_at_dispatch_hands_the_frame_over_and_the_work_item_completes)
{
    alloc_fx fx;
    KSALLOCATOR_FRAMING f = fx_default_framing;
    f.Frames = 1;
    kstf_configure_pin_allocator(KSTF_PIN_FILTER_SPECIFIC);
    fx_open(&fx, &f, NULL);
    KSSTREAMALLOCATOR_FUNCTIONTABLE t;
    PFILE_OBJECT file = fx_direct(fx.alloc, &t);
    PVOID held, other = (PVOID)1;
    ASSERT_STATUS(t.AllocateFrame(file, &held), STATUS_SUCCESS);
    PVOID waiting = NULL;
    IO_STATUS_BLOCK iosb = { .Status = STATUS_UNSUCCESSFUL };
    ASSERT_STATUS(fx_alloc_async(fx.alloc, &waiting, &iosb), STATUS_PENDING);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    t.FreeFrame(file, held);
    EXPECT_TRUE(waiting == NULL); /* nothing written at DISPATCH_LEVEL */
    EXPECT_STATUS(t.AllocateFrame(file, &other), STATUS_INSUFFICIENT_RESOURCES);
    KeLowerIrql(old);
    EXPECT_TRUE(other == NULL);
    EXPECT_STATUS(iosb.Status, STATUS_UNSUCCESSFUL);
    EXPECT_EQ(km_io_pending_count(), 1);
    km_run_work_items();
    EXPECT_EQ(km_io_pending_count(), 0);
    EXPECT_STATUS(iosb.Status, STATUS_SUCCESS);
    EXPECT_EQ(iosb.Information, sizeof(PVOID));
    EXPECT_TRUE(waiting == held); /* the freed frame itself */
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 1);
    EXPECT_STATUS(fx_free(fx.alloc, waiting), STATUS_SUCCESS);
    fx_close_all(&fx);
    kstf_configure_pin_allocator(KSTF_PIN_DEFAULT_ALLOCATOR);
}

KTEST(fsa, differential_comparator_names_the_first_differing_field)
{
    p_reset(&prog);
    P_ADD(&prog, OPEN_FILTER, open_filter, .out = 0);
    P_ADD(&prog, CLOSE, close, .handle = 0, .mode = P_CUR);
    op_divergence d;
    const char *a = "trace 1\n0000 open_filter STATUS_SUCCESS info=0 h0=#1\n0001 close STATUS_SUCCESS h0=closed\nend STATUS_SUCCESS\n";
    op_trace_diverge(&prog, a, a, &d);
    EXPECT_TRUE(!d.found);
    op_trace_diverge(&prog, a, "trace 1\n0000 open_filter STATUS_SUCCESS info=4 h0=#1\n", &d);
    EXPECT_TRUE(d.found && d.op_index == 0 && strcmp(d.field, "info") == 0 && strcmp(d.a, "0") == 0 &&
                strcmp(d.b, "4") == 0 && d.known == NULL);
    op_trace_diverge(&prog, a, "trace 1\n0000 open_filter STATUS_SUCCESS info=0 h0=#1\n0001 close STATUS_SUCCESS\n", &d);
    EXPECT_TRUE(d.found && d.op_index == 1 && strcmp(d.field, "h0") == 0 && strcmp(d.b, "(absent)") == 0);
    op_trace_diverge(&prog, a, "trace 1\n0000 open_filter STATUS_SUCCESS info=0 h0=#1\n0001 close STATUS_SUCCESS h0=closed\nend finding=POOL_LEAK\n", &d);
    EXPECT_TRUE(d.found && d.op_index == 2 && strcmp(d.op, "end") == 0 && strcmp(d.field, "status") == 0);
}

/* D2: any armed fault plan licenses what follows it (nth, also or a site; `also` alone arms one too, which
 * the first MSan differential run showed), a disarmed one (every field zero) licenses nothing. */
KTEST(fsa, differential_comparator_licenses_every_armed_fault_plan)
{
    static const char site[] = "ksa_create.c";
    const op_args_fault plans[] = { { .nth = 3 }, { .also = 16 }, { .site = { (const uint8_t *)site, sizeof site - 1 } },
                                    { 0 } };
    const char *a = "trace 1\n0000 fault -\n0001 create_framing STATUS_SUCCESS h3=#3\n";
    const char *b = "trace 1\n0000 fault -\n0001 create_framing STATUS_INSUFFICIENT_RESOURCES\n";
    for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++) {
        p_reset(&prog);
        prog.ops[prog.count++] = (op_op){ .code = OP_FAULT, .u.fault = plans[i] };
        P_ADD(&prog, CREATE_FRAMING, create_framing, .parent = 1, .options = 2, .frame_size = 64, .mode = P_CUR,
              .irql = P_CUR, .out = 3);
        op_divergence d;
        op_trace_diverge(&prog, a, b, &d);
        EXPECT_TRUE(d.found && d.op_index == 1 && strcmp(d.field, "status") == 0);
        if (i + 1 < sizeof plans / sizeof plans[0])
            EXPECT_TRUE(d.known != NULL && strcmp(d.known, "D2") == 0);
        else
            EXPECT_TRUE(d.known == NULL);
    }
}

/* D5: a line marked frame=reused (the op named a returned frame whose address is now another frame's) is
 * no divergence by the mark alone; a divergence on that line or after it is licensed, since from there
 * on the two sides may hold different frames; one before it is not. */
KTEST(fsa, differential_comparator_licenses_what_follows_a_reused_frame_address)
{
    p_reset(&prog);
    P_ADD(&prog, METHOD_FREE, method_free, .target = 2, .frame = 0, .mode = P_CUR, .irql = P_CUR);
    P_ADD(&prog, CLOSE, close, .handle = 2, .mode = P_CUR);
    op_divergence d;
    const char *a = "trace 1\n0000 method_free STATUS_INVALID_PARAMETER info=0\n0001 close STATUS_SUCCESS h2=closed\n";
    op_trace_diverge(&prog, a, "trace 1\n0000 method_free STATUS_INVALID_PARAMETER frame=reused info=0\n"
                               "0001 close STATUS_SUCCESS h2=closed\n", &d);
    EXPECT_TRUE(!d.found);
    op_trace_diverge(&prog, a, "trace 1\n0000 method_free STATUS_SUCCESS frame=reused info=0\n", &d);
    EXPECT_TRUE(d.found && d.op_index == 0 && strcmp(d.field, "status") == 0 && d.known != NULL &&
                strcmp(d.known, "D5") == 0);
    /* The marked FREE reached a different live frame on each side: a later line differs (the shape of
     * corpus/regressions/differential/33edfaf842d5dbbd.bin). */
    op_trace_diverge(&prog, a, "trace 1\n0000 method_free STATUS_INVALID_PARAMETER frame=reused info=0\n"
                               "0001 close STATUS_SUCCESS h2=#9\n", &d);
    EXPECT_TRUE(d.found && d.op_index == 1 && d.known != NULL && strcmp(d.known, "D5") == 0);
    op_trace_diverge(&prog, a, "trace 1\n0000 method_free STATUS_SUCCESS info=0\n"
                               "0001 close STATUS_SUCCESS frame=reused h2=closed\n", &d);
    EXPECT_TRUE(d.found && d.op_index == 0 && d.known == NULL); /* the mark comes after the divergence */
    op_trace_diverge(&prog, a, "trace 1\n0000 method_free STATUS_SUCCESS info=0\n", &d);
    EXPECT_TRUE(d.found && d.op_index == 0 && d.known == NULL);
}

/* D6: a frame of exactly 64 MiB fits the filter-specific allocator's block and not the default
 * allocator's, whose block also holds the frame's record: the model's 64 MiB pool limit refuses one
 * side only. The refused side's line is marked pool=limit, and the divergence is licensed. */
KTEST(fsa, D6_a_pool_limit_at_the_edge_of_the_frame_size_is_licensed)
{
    p_reset(&prog);
    p_session(&prog, 0, 0, 64u << 20, 0);
    P_ADD(&prog, METHOD_ALLOC, method_alloc, .target = 2, .out_size = 8, .mode = P_CUR, .irql = P_CUR, .out = 0);
    P_ADD(&prog, CLOSE, close, .handle = 2, .mode = P_CUR);
    op_trace a = { 0 }, b = { 0 };
    op_run(&prog, &def, &a);
    op_run(&prog, &fs, &b);
    EXPECT_TRUE(strstr(a.text, "0003 method_alloc STATUS_INSUFFICIENT_RESOURCES info=0 pool=limit\n") != NULL);
    EXPECT_TRUE(strstr(b.text, "0003 method_alloc STATUS_SUCCESS info=8") != NULL);
    EXPECT_TRUE(strstr(b.text, "pool=limit") == NULL);
    op_divergence d;
    op_trace_diverge(&prog, a.text, b.text, &d);
    EXPECT_TRUE(d.found && d.op_index == 3 && strcmp(d.field, "status") == 0);
    EXPECT_TRUE(d.known != NULL && strcmp(d.known, "D6") == 0);
    op_trace_free(&a);
    op_trace_free(&b);
}

/* The D6 mark licenses its line and what follows, like D5's; not what comes before it. */
KTEST(fsa, differential_comparator_licenses_what_follows_a_pool_limit)
{
    p_reset(&prog);
    P_ADD(&prog, METHOD_ALLOC, method_alloc, .target = 2, .out_size = 8, .mode = P_CUR, .irql = P_CUR, .out = 0);
    P_ADD(&prog, CLOSE, close, .handle = 2, .mode = P_CUR);
    op_divergence d;
    const char *a = "trace 1\n0000 method_alloc STATUS_SUCCESS info=8\n0001 close STATUS_SUCCESS h2=closed\n";
    op_trace_diverge(&prog, a, "trace 1\n0000 method_alloc STATUS_SUCCESS info=8 pool=limit\n"
                               "0001 close STATUS_SUCCESS h2=closed\n", &d);
    EXPECT_TRUE(!d.found);
    op_trace_diverge(&prog, a, "trace 1\n0000 method_alloc STATUS_SUCCESS info=8 pool=limit\n"
                               "0001 close STATUS_INVALID_HANDLE\n", &d);
    EXPECT_TRUE(d.found && d.op_index == 1 && d.known != NULL && strcmp(d.known, "D6") == 0);
    op_trace_diverge(&prog, a, "trace 1\n0000 method_alloc STATUS_INSUFFICIENT_RESOURCES info=0\n"
                               "0001 close STATUS_SUCCESS h2=closed pool=limit\n", &d);
    EXPECT_TRUE(d.found && d.op_index == 0 && d.known == NULL); /* the mark comes after the divergence */
}
