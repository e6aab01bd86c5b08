/* test_alloc_callbacks.c: KsCreateDefaultAllocatorEx with every combination of its five optional
 * arguments (docs/decisions.md "Default allocator callbacks"), through the KS test filter, and pool
 * failures at create and at ALLOC. */
#include "alloc_fixture.h"

/* Bits: 1 InitializeContext, 2 DefaultAllocate, 4 DefaultFree, 8 InitializeAllocator, 16 DeleteAllocator. */
static kstf_allocator_config config_from_bits(unsigned bits)
{
    kstf_allocator_config c;
    memset(&c, 0, sizeof c);
    c.pass_initialize_context = (bits & 1) != 0;
    c.pass_default_allocate = (bits & 2) != 0;
    c.pass_default_free = (bits & 4) != 0;
    c.pass_initialize_allocator = (bits & 8) != 0;
    c.pass_delete_allocator = (bits & 16) != 0;
    return c;
}

static BOOLEAN combination_valid(unsigned bits)
{
    if ((bits & 2) == 0)
        return bits == 0; /* no external allocator: everything else must be NULL */
    return (bits & 4) != 0; /* an external allocator needs its free routine */
}

KTEST(alloc_callbacks, KsCreateDefaultAllocatorEx_all_32_combinations)
{
    for (unsigned bits = 0; bits < 32; bits++) {
        km_init();
        kstf_allocator_config c = config_from_bits(bits);
        alloc_fx fx;
        fx_open_pin(&fx, &c);
        KSALLOCATOR_FRAMING f = fx_default_framing;
        HANDLE h = NULL;
        NTSTATUS s = KsCreateAllocator(fx.pin, &f, &h);
        kstf_callback_counts n;
        if (!combination_valid(bits)) {
            if (s != STATUS_INVALID_PARAMETER)
                ktest_fail_at(__FILE__, __LINE__, "bits %u: got 0x%08X", bits, (unsigned)s);
            kstf_get_callback_counts(&n);
            EXPECT_EQ(n.initialize_calls + n.allocate_calls + n.free_calls + n.delete_calls, 0);
        } else {
            if (s != STATUS_SUCCESS)
                ktest_fail_at(__FILE__, __LINE__, "bits %u: got 0x%08X", bits, (unsigned)s);
            PVOID frame;
            EXPECT_STATUS(fx_alloc(h, &frame), STATUS_SUCCESS);
            EXPECT_EQ((ULONG_PTR)frame & 63, 0);
            memset(frame, 0x5A, f.FrameSize);
            EXPECT_STATUS(fx_free(h, frame), STATUS_SUCCESS);
            EXPECT_STATUS(ZwClose(h), STATUS_SUCCESS);
            kstf_get_callback_counts(&n);
            BOOLEAN external = (bits & 2) != 0;
            EXPECT_EQ(n.initialize_calls, (bits & 8) ? 1 : 0);
            EXPECT_EQ(n.allocate_calls, external ? 1 : 0);
            EXPECT_EQ(n.free_calls, external ? 1 : 0);
            EXPECT_EQ(n.delete_calls, (bits & 16) ? 1 : 0);
            if (bits & 8) {
                EXPECT_TRUE(n.last_initialize_context == ((bits & 1) ? KSTF_INITIALIZE_CONTEXT : NULL));
                EXPECT_MEM_EQ(&n.last_framing, &f, sizeof f);
            } else if (external) {
                EXPECT_TRUE(n.last_context == NULL); /* no initializer: Context is NULL */
            }
        }
        fx_close_all(&fx);
        km_teardown();
    }
}

KTEST(alloc_callbacks, InitializeAllocator_failure_returned_and_nothing_created)
{
    kstf_allocator_config c = config_from_bits(2 | 4 | 8 | 16);
    c.initialize_status = STATUS_DEVICE_NOT_READY;
    alloc_fx fx;
    fx_open_pin(&fx, &c);
    KSALLOCATOR_FRAMING f = fx_default_framing;
    HANDLE h = NULL;
    EXPECT_STATUS(KsCreateAllocator(fx.pin, &f, &h), STATUS_DEVICE_NOT_READY);
    kstf_callback_counts n;
    kstf_get_callback_counts(&n);
    EXPECT_EQ(n.initialize_calls, 1);
    EXPECT_EQ(n.delete_calls, 0);
    fx_close_all(&fx);
}

KTEST(alloc_callbacks, DefaultAllocate_null_gives_insufficient_resources)
{
    kstf_allocator_config c = config_from_bits(2 | 4 | 8 | 16);
    c.allocate_fails = TRUE;
    alloc_fx fx;
    fx_open(&fx, NULL, &c);
    PVOID frame = (PVOID)1;
    ULONG_PTR info = 3;
    EXPECT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_TYPE_SEND, &frame, sizeof frame, &info,
                            FALSE),
                  STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_EQ(info, 0);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    fx_close_all(&fx);
}

KTEST(alloc_callbacks, DefaultAllocate_misaligned_frame_refused)
{
    kstf_allocator_config c = config_from_bits(2 | 4 | 8 | 16);
    c.allocate_misaligned = TRUE;
    alloc_fx fx;
    fx_open(&fx, NULL, &c);
    PVOID frame = NULL;
    ULONG_PTR info = 3;
    EXPECT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_TYPE_SEND, &frame, sizeof frame, &info,
                            FALSE),
                  STATUS_INSUFFICIENT_RESOURCES);
    kstf_callback_counts n;
    kstf_get_callback_counts(&n);
    EXPECT_EQ(n.allocate_calls, 1);
    EXPECT_EQ(n.free_calls, 1); /* the bad frame went back to its allocator */
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    fx_close_all(&fx);
}

/* Without DeleteAllocator each allocator still keeps its own context: a later create with another
 * framing does not change the frames of an earlier one (the test filter once shared one static
 * context; regression corpus/regressions/session/820e4b6c91ca8dcf.bin). */
KTEST(alloc_callbacks, contexts_without_delete_allocator_stay_per_allocator)
{
    kstf_allocator_config c = config_from_bits(2 | 4 | 8);
    alloc_fx fx;
    KSALLOCATOR_FRAMING wide = fx_default_framing;
    wide.FileAlignment = FILE_256_BYTE_ALIGNMENT;
    fx_open(&fx, &wide, &c);
    KSALLOCATOR_FRAMING narrow = fx_default_framing;
    narrow.FileAlignment = FILE_LONG_ALIGNMENT;
    narrow.FrameSize = 4096;
    HANDLE second = NULL;
    ASSERT_STATUS(KsCreateAllocator(fx.pin, &narrow, &second), STATUS_SUCCESS);
    /* The first allocator's DefaultAllocate must still serve its own 256-byte alignment (a frame
     * aligned for the second one is refused by the allocator: STATUS_INSUFFICIENT_RESOURCES). */
    PVOID frame = NULL;
    ASSERT_STATUS(fx_alloc(fx.alloc, &frame), STATUS_SUCCESS);
    EXPECT_EQ((ULONG_PTR)frame & 0xFF, 0);
    EXPECT_STATUS(fx_free(fx.alloc, frame), STATUS_SUCCESS);
    EXPECT_STATUS(ZwClose(second), STATUS_SUCCESS);
    fx_close_all(&fx);
}

KTEST(alloc_callbacks, close_returns_outstanding_external_frames)
{
    kstf_allocator_config c = config_from_bits(2 | 4 | 8 | 16);
    alloc_fx fx;
    fx_open(&fx, NULL, &c);
    PVOID a, b;
    ASSERT_STATUS(fx_alloc(fx.alloc, &a), STATUS_SUCCESS);
    ASSERT_STATUS(fx_alloc(fx.alloc, &b), STATUS_SUCCESS);
    fx_close_all(&fx);
    kstf_callback_counts n;
    kstf_get_callback_counts(&n);
    EXPECT_EQ(n.free_calls, 2);
    EXPECT_EQ(n.delete_calls, 1);
}

KTEST(alloc_callbacks, create_object_allocation_failure_calls_delete)
{
    kstf_allocator_config c = config_from_bits(2 | 4 | 8 | 16);
    alloc_fx fx;
    fx_open_pin(&fx, &c);
    /* The object header allocation ('KSoh' in the KS model) fails after InitializeAllocator succeeded. */
    km_fault_plan plan = { 0, 0, "KSoh" };
    km_fault_arm(&plan);
    KSALLOCATOR_FRAMING f = fx_default_framing;
    HANDLE h = NULL;
    EXPECT_STATUS(KsCreateAllocator(fx.pin, &f, &h), STATUS_INSUFFICIENT_RESOURCES);
    km_fault_disarm();
    kstf_callback_counts n;
    kstf_get_callback_counts(&n);
    EXPECT_EQ(n.initialize_calls, 1);
    EXPECT_EQ(n.delete_calls, 1);
    fx_close_all(&fx);
}

/* A pool failure at create fails it with STATUS_INSUFFICIENT_RESOURCES, no handle (Q7), and gives
 * back everything obtained so far: pool (framing copy, object, work item, the callbacks' context)
 * and InitializeAllocator's work (DeleteAllocator called whenever InitializeAllocator was). Run with
 * no callbacks and with all five. `tag` fails every allocation with that tag. */
static void create_pool_failure_leaves_nothing(const char *tag)
{
    static const unsigned combos[] = { 0, 1 | 2 | 4 | 8 | 16 };
    for (size_t i = 0; i < sizeof combos / sizeof combos[0]; i++) {
        km_init();
        kstf_allocator_config c = config_from_bits(combos[i]);
        alloc_fx fx;
        fx_open_pin(&fx, &c);
        km_pool_stats before, after;
        km_pool_get_stats(&before);
        ULONG handles = km_handle_count();
        km_fault_plan plan = { .site = tag };
        km_fault_arm(&plan);
        KSALLOCATOR_FRAMING f = fx_default_framing;
        HANDLE h = (HANDLE)0x1234;
        NTSTATUS s = KsCreateAllocator(fx.pin, &f, &h);
        uint64_t injected = km_fault_injected();
        km_fault_disarm();
        if (s != STATUS_INSUFFICIENT_RESOURCES)
            ktest_fail_at(__FILE__, __LINE__, "%s, bits %u: got 0x%08X", tag, combos[i], (unsigned)s);
        EXPECT_EQ(injected, 1);
        EXPECT_TRUE(h == NULL);
        EXPECT_EQ(km_handle_count(), handles);
        km_pool_get_stats(&after);
        EXPECT_EQ(after.outstanding, before.outstanding);
        EXPECT_EQ(after.outstanding_bytes, before.outstanding_bytes);
        kstf_callback_counts n;
        kstf_get_callback_counts(&n);
        EXPECT_EQ(n.delete_calls, n.initialize_calls);
        /* With the pool back the same create works. */
        ASSERT_STATUS(KsCreateAllocator(fx.pin, &f, &h), STATUS_SUCCESS);
        EXPECT_STATUS(ZwClose(h), STATUS_SUCCESS);
        fx_close_all(&fx);
        km_teardown();
    }
}

KTEST(alloc_callbacks, create_work_item_pool_failure_leaves_nothing)
{
    create_pool_failure_leaves_nothing("IoWk"); /* IoAllocateWorkItem's IO_WORKITEM */
}

KTEST(alloc_callbacks, create_object_pool_failure_leaves_nothing)
{
    create_pool_failure_leaves_nothing("KsaO"); /* the allocator object */
}

/* With external callbacks each frame gets a tracking record ('KsaR'). When it cannot be allocated,
 * the ALLOC (IOCTL or function table) fails with STATUS_INSUFFICIENT_RESOURCES (Q8: *Frame = NULL
 * for AllocateFrame) and the frame DefaultAllocate gave goes back through DefaultFree at once. */
KTEST(alloc_callbacks, record_pool_failure_fails_alloc_and_frees_the_frame)
{
    kstf_allocator_config c = config_from_bits(2 | 4 | 8 | 16);
    alloc_fx fx;
    fx_open(&fx, NULL, &c);
    km_fault_plan plan = { .site = "KsaR" };
    km_fault_arm(&plan);
    PVOID frame = (PVOID)1;
    ULONG_PTR info = 3;
    EXPECT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_TYPE_SEND, &frame, sizeof frame, &info,
                            FALSE),
                  STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_EQ(info, 0);
    kstf_callback_counts n;
    kstf_get_callback_counts(&n);
    EXPECT_EQ(n.allocate_calls, 1);
    EXPECT_EQ(n.free_calls, 1); /* the frame went back to its allocator */
    KSSTREAMALLOCATOR_FUNCTIONTABLE t;
    PFILE_OBJECT file = fx_direct(fx.alloc, &t);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    frame = (PVOID)1;
    EXPECT_STATUS(t.AllocateFrame(file, &frame), STATUS_INSUFFICIENT_RESOURCES);
    KeLowerIrql(old);
    EXPECT_TRUE(frame == NULL);
    kstf_get_callback_counts(&n);
    EXPECT_EQ(n.allocate_calls, 2);
    EXPECT_EQ(n.free_calls, 2);
    EXPECT_EQ(km_fault_injected(), 2);
    km_fault_disarm();
    EXPECT_EQ(km_pool_outstanding_for_tag(0x4666744B /* KtfF: the callbacks' frames */), 0);
    EXPECT_EQ(km_pool_outstanding_for_tag(0x5261734B /* KsaR */), 0);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0); /* the reserved slots were given back */
    ASSERT_STATUS(fx_alloc(fx.alloc, &frame), STATUS_SUCCESS);
    EXPECT_STATUS(fx_free(fx.alloc, frame), STATUS_SUCCESS);
    fx_close_all(&fx);
}
