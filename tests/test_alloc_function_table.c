/* test_alloc_function_table.c: KSSTREAMALLOCATOR_FUNCTIONTABLE at DISPATCH_LEVEL, NULL arguments,
 * pool failure and the Frames limit on the direct path, the FREEFRAME event (decisions Q8, Q9), a
 * foreign FreeFrame (bugcheck) and a multi-threaded stress run (TSan) with exact AllocatedFrames
 * afterwards. */
#include "alloc_fixture.h"

#include <pthread.h>

KTEST(alloc_function_table, allocate_free_at_dispatch_level)
{
    alloc_fx fx;
    KSALLOCATOR_FRAMING f = fx_default_framing;
    f.Frames = 2;
    fx_open(&fx, &f, NULL);
    KSSTREAMALLOCATOR_FUNCTIONTABLE t;
    PFILE_OBJECT file = fx_direct(fx.alloc, &t);
    ASSERT_TRUE(file != NULL);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    PVOID a = NULL, b = NULL, c = (PVOID)1;
    EXPECT_STATUS(t.AllocateFrame(file, &a), STATUS_SUCCESS);
    EXPECT_STATUS(t.AllocateFrame(file, &b), STATUS_SUCCESS);
    EXPECT_STATUS(t.AllocateFrame(file, &c), STATUS_INSUFFICIENT_RESOURCES); /* limit: NULL + error (Q8) */
    EXPECT_TRUE(c == NULL);
    EXPECT_TRUE(a != NULL && b != NULL && ((ULONG_PTR)a & 63) == 0 && ((ULONG_PTR)b & 63) == 0);
    t.FreeFrame(file, a);
    EXPECT_STATUS(t.AllocateFrame(file, &c), STATUS_SUCCESS);
    t.FreeFrame(file, b);
    t.FreeFrame(file, c);
    KeLowerIrql(old);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    EXPECT_STATUS(t.AllocateFrame(file, NULL), STATUS_INVALID_PARAMETER);
    fx_close_all(&fx);
}

/* AllocateFrame with no file object or no Frame variable: STATUS_INVALID_PARAMETER, no frame
 * handed out (a NULL argument is refused before the allocator is looked at). */
KTEST(alloc_function_table, AllocateFrame_null_arguments_invalid_parameter)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    KSSTREAMALLOCATOR_FUNCTIONTABLE t;
    PFILE_OBJECT file = fx_direct(fx.alloc, &t);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    PVOID frame = NULL;
    EXPECT_STATUS(t.AllocateFrame(NULL, &frame), STATUS_INVALID_PARAMETER);
    EXPECT_TRUE(frame == NULL);
    EXPECT_STATUS(t.AllocateFrame(file, NULL), STATUS_INVALID_PARAMETER);
    EXPECT_STATUS(t.AllocateFrame(NULL, NULL), STATUS_INVALID_PARAMETER);
    KeLowerIrql(old);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    fx_close_all(&fx);
}

/* Decisions Q8: AllocateFrame when the pool fails (the lookaside list's blocks, 'KsaF') returns
 * STATUS_INSUFFICIENT_RESOURCES with *Frame = NULL, and counts no frame. */
KTEST(alloc_function_table, AllocateFrame_pool_failure_null_frame)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    KSSTREAMALLOCATOR_FUNCTIONTABLE t;
    PFILE_OBJECT file = fx_direct(fx.alloc, &t);
    km_fault_plan plan = { .site = "KsaF" };
    km_fault_arm(&plan);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    PVOID frame = (PVOID)1;
    EXPECT_STATUS(t.AllocateFrame(file, &frame), STATUS_INSUFFICIENT_RESOURCES);
    KeLowerIrql(old);
    EXPECT_TRUE(frame == NULL);
    EXPECT_EQ(km_fault_injected(), 1);
    km_fault_disarm();
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    ASSERT_STATUS(t.AllocateFrame(file, &frame), STATUS_SUCCESS); /* with the pool back */
    EXPECT_TRUE(frame != NULL);
    t.FreeFrame(file, frame);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    fx_close_all(&fx);
}

KTEST(alloc_function_table, free_at_dispatch_completes_pending_alloc_from_work_item)
{
    alloc_fx fx;
    KSALLOCATOR_FRAMING f = fx_default_framing;
    f.Frames = 1;
    fx_open(&fx, &f, NULL);
    KSSTREAMALLOCATOR_FUNCTIONTABLE t;
    PFILE_OBJECT file = fx_direct(fx.alloc, &t);
    PVOID a;
    ASSERT_STATUS(t.AllocateFrame(file, &a), STATUS_SUCCESS);
    PVOID pending_frame = NULL;
    IO_STATUS_BLOCK iosb = { { STATUS_UNSUCCESSFUL }, 0 };
    ASSERT_STATUS(fx_alloc_async(fx.alloc, &pending_frame, &iosb), STATUS_PENDING);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    t.FreeFrame(file, a);
    KeLowerIrql(old);
    /* Above PASSIVE_LEVEL the pending IRP is served from a work item (facts §5.2 step 2). */
    EXPECT_EQ(km_io_pending_count(), 1);
    km_run_work_items();
    EXPECT_EQ(km_io_pending_count(), 0);
    EXPECT_STATUS(iosb.Status, STATUS_SUCCESS);
    EXPECT_TRUE(pending_frame != NULL);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 1);
    fx_close_all(&fx);
}

/* A frame freed while ALLOCs wait is theirs, oldest first (decisions, "A frame is freed while ALLOC
 * requests wait"): until the work item hands it over, AllocateFrame finds no frame free and a newer
 * ALLOC queues behind the older one, though the Frames limit is not reached. */
KTEST(alloc_function_table, waiting_allocs_come_first)
{
    alloc_fx fx;
    KSALLOCATOR_FRAMING f = fx_default_framing;
    f.Frames = 1;
    fx_open(&fx, &f, NULL);
    KSSTREAMALLOCATOR_FUNCTIONTABLE t;
    PFILE_OBJECT file = fx_direct(fx.alloc, &t);
    PVOID a, b = (PVOID)1;
    ASSERT_STATUS(t.AllocateFrame(file, &a), STATUS_SUCCESS);
    PVOID first = NULL, second = NULL;
    IO_STATUS_BLOCK first_iosb = { { STATUS_UNSUCCESSFUL }, 0 }, second_iosb = { { STATUS_UNSUCCESSFUL }, 0 };
    ASSERT_STATUS(fx_alloc_async(fx.alloc, &first, &first_iosb), STATUS_PENDING);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    t.FreeFrame(file, a);
    EXPECT_EQ(km_io_pending_count(), 1); /* the work item has not run */
    EXPECT_STATUS(t.AllocateFrame(file, &b), STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_TRUE(b == NULL);
    KeLowerIrql(old);
    /* The newer ALLOC queues; the work items run as its call returns and serve the older one. */
    EXPECT_STATUS(fx_alloc_async(fx.alloc, &second, &second_iosb), STATUS_PENDING);
    EXPECT_STATUS(first_iosb.Status, STATUS_SUCCESS);
    EXPECT_TRUE(first == a);
    EXPECT_EQ(km_io_pending_count(), 1);
    EXPECT_STATUS(second_iosb.Status, STATUS_UNSUCCESSFUL); /* not completed */
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 1);
    EXPECT_STATUS(fx_free(fx.alloc, first), STATUS_SUCCESS); /* at PASSIVE_LEVEL: served at once */
    EXPECT_STATUS(second_iosb.Status, STATUS_SUCCESS);
    EXPECT_TRUE(second == a);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 1);
    EXPECT_STATUS(fx_free(fx.alloc, second), STATUS_SUCCESS);
    /* With nobody waiting, the one-section path is open again. */
    ASSERT_STATUS(t.AllocateFrame(file, &b), STATUS_SUCCESS);
    EXPECT_TRUE(b == a);
    t.FreeFrame(file, b);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    fx_close_all(&fx);
}

KTEST(alloc_function_table, close_with_work_item_queued)
{
    alloc_fx fx;
    KSALLOCATOR_FRAMING f = fx_default_framing;
    f.Frames = 1;
    fx_open(&fx, &f, NULL);
    KSSTREAMALLOCATOR_FUNCTIONTABLE t;
    PFILE_OBJECT file = fx_direct(fx.alloc, &t);
    PVOID a;
    ASSERT_STATUS(t.AllocateFrame(file, &a), STATUS_SUCCESS);
    PVOID pending_frame = NULL;
    IO_STATUS_BLOCK iosb = { { STATUS_UNSUCCESSFUL }, 0 };
    ASSERT_STATUS(fx_alloc_async(fx.alloc, &pending_frame, &iosb), STATUS_PENDING);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    t.FreeFrame(file, a);
    KeLowerIrql(old);
    /* The work item still holds the allocator when the handle closes: no use after free, no leak. */
    fx_close_all(&fx);
    EXPECT_EQ(km_pool_outstanding_for_tag(0x4F61734B /* KsaO */), 0);
}

static NTSTATUS enable_freeframe(HANDLE h, ULONG id, KSEVENTDATA *data, BOOLEAN user)
{
    return fx_event_enable(h, id, KSEVENT_TYPE_ENABLE, data, sizeof *data, NULL, user);
}

KTEST(alloc_function_table, freeframe_event_signalled_and_disabled)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    KEVENT ev;
    KSEVENTDATA data;
    ASSERT_STATUS(fx_enable_freeframe(fx.alloc, &data, &ev), STATUS_SUCCESS);
    KSSTREAMALLOCATOR_FUNCTIONTABLE t;
    PFILE_OBJECT file = fx_direct(fx.alloc, &t);
    PVOID a;
    ASSERT_STATUS(t.AllocateFrame(file, &a), STATUS_SUCCESS);
    EXPECT_EQ(KeReadStateEvent(&ev), 0);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    t.FreeFrame(file, a);
    KeLowerIrql(old);
    EXPECT_EQ(KeReadStateEvent(&ev), 1);
    KeClearEvent(&ev);
    EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_DISABLE_EVENT, &data, sizeof data, NULL, 0, NULL, FALSE), STATUS_SUCCESS);
    EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_DISABLE_EVENT, &data, sizeof data, NULL, 0, NULL, FALSE),
                  STATUS_UNSUCCESSFUL); /* already disabled */
    ASSERT_STATUS(t.AllocateFrame(file, &a), STATUS_SUCCESS);
    t.FreeFrame(file, a);
    EXPECT_EQ(KeReadStateEvent(&ev), 0);
    EXPECT_EQ(km_pool_outstanding_for_tag(0x7645734B /* KsEv */), 0);
    fx_close_all(&fx);
}

KTEST(alloc_function_table, freeframe_event_freed_at_close)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    KSEMAPHORE sem;
    KeInitializeSemaphore(&sem, 0, 10);
    KSEVENTDATA data;
    memset(&data, 0, sizeof data);
    data.NotificationType = KSEVENTF_SEMAPHORE_OBJECT;
    data.SemaphoreObject.Semaphore = &sem;
    data.SemaphoreObject.Adjustment = 1;
    ASSERT_STATUS(enable_freeframe(fx.alloc, KSEVENT_STREAMALLOCATOR_FREEFRAME, &data, FALSE), STATUS_SUCCESS);
    PVOID a;
    ASSERT_STATUS(fx_alloc(fx.alloc, &a), STATUS_SUCCESS);
    EXPECT_STATUS(fx_free(fx.alloc, a), STATUS_SUCCESS);
    EXPECT_EQ(sem.Header.SignalState, 1);
    EXPECT_EQ(km_pool_outstanding_for_tag(0x7645734B /* KsEv */), 1);
    fx_close_all(&fx); /* the entry goes with the allocator (Q15); teardown checks the pool */
}

KTEST(alloc_function_table, event_enable_refusals)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    KEVENT ev;
    KSEVENTDATA data;
    fx_event_object_data(&data, &ev);
    EXPECT_STATUS(enable_freeframe(fx.alloc, KSEVENT_STREAMALLOCATOR_INTERNAL_FREEFRAME, &data, FALSE),
                  STATUS_NOT_FOUND);
    EXPECT_STATUS(enable_freeframe(fx.alloc, KSEVENT_STREAMALLOCATOR_FREEFRAME, &data, TRUE),
                  STATUS_INVALID_DEVICE_REQUEST);
    data.NotificationType = KSEVENTF_EVENT_HANDLE;
    EXPECT_STATUS(enable_freeframe(fx.alloc, KSEVENT_STREAMALLOCATOR_FREEFRAME, &data, FALSE), STATUS_NOT_SUPPORTED);
    data.NotificationType = KSEVENTF_DPC;
    EXPECT_STATUS(enable_freeframe(fx.alloc, KSEVENT_STREAMALLOCATOR_FREEFRAME, &data, FALSE), STATUS_NOT_SUPPORTED);
    data.NotificationType = 0x40;
    EXPECT_STATUS(enable_freeframe(fx.alloc, KSEVENT_STREAMALLOCATOR_FREEFRAME, &data, FALSE),
                  STATUS_INVALID_PARAMETER);
    data.NotificationType = KSEVENTF_EVENT_OBJECT;
    data.EventObject.Event = NULL;
    EXPECT_STATUS(enable_freeframe(fx.alloc, KSEVENT_STREAMALLOCATOR_FREEFRAME, &data, FALSE),
                  STATUS_INVALID_PARAMETER);
    KSEVENT e;
    memset(&e, 0, sizeof e);
    e.Set = KSEVENTSETID_StreamAllocator;
    e.Id = KSEVENT_STREAMALLOCATOR_FREEFRAME;
    e.Flags = KSEVENT_TYPE_ENABLE;
    data.EventObject.Event = &ev;
    EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_ENABLE_EVENT, &e, sizeof e, &data, 31, NULL, FALSE),
                  STATUS_BUFFER_TOO_SMALL);
    EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_ENABLE_EVENT, &e, 23, &data, sizeof data, NULL, FALSE),
                  STATUS_INVALID_BUFFER_SIZE);
    e.Set = KSPROPSETID_StreamAllocator;
    EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_ENABLE_EVENT, &e, sizeof e, &data, sizeof data, NULL, FALSE),
                  STATUS_PROPSET_NOT_FOUND);
    e.Set = KSEVENTSETID_StreamAllocator;
    e.Flags = KSEVENT_TYPE_ENABLEBUFFERED;
    EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_ENABLE_EVENT, &e, sizeof e, &data, sizeof data, NULL, FALSE),
                  STATUS_NOT_SUPPORTED);
    EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_DISABLE_EVENT, &data, sizeof data, NULL, 0, NULL, FALSE),
                  STATUS_UNSUCCESSFUL); /* never enabled */
    EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_DISABLE_EVENT, &data, 8, NULL, 0, NULL, FALSE),
                  STATUS_INVALID_BUFFER_SIZE);
    EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_DISABLE_EVENT, NULL, 0, NULL, 0, NULL, TRUE),
                  STATUS_INVALID_DEVICE_REQUEST);
    EXPECT_EQ(km_pool_outstanding_for_tag(0x7645734B /* KsEv */), 0);
    fx_close_all(&fx);
}

KTEST_NEGATIVE(alloc_function_table, FreeFrame_foreign_frame_bugchecks, BUGCHECK)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    KSSTREAMALLOCATOR_FUNCTIONTABLE t;
    fx_function_table(fx.alloc, &t);
    static UCHAR not_a_frame[64];
    t.FreeFrame(km_handle_to_file(fx.alloc), not_a_frame);
}

/* ---- Stress: several threads allocate and free through the function table on one allocator. -- */
typedef struct {
    KSSTREAMALLOCATOR_FUNCTIONTABLE table;
    PFILE_OBJECT file;
    int iterations;
    ULONG frame_size;
    int failures;
} stress_arg;

static void *stress_thread(void *p)
{
    stress_arg *arg = p;
    PVOID held[4] = { NULL, NULL, NULL, NULL };
    for (int i = 0; i < arg->iterations; i++) {
        KIRQL old;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        int slot = i & 3;
        if (held[slot] != NULL) {
            arg->table.FreeFrame(arg->file, held[slot]);
            held[slot] = NULL;
        } else if (arg->table.AllocateFrame(arg->file, &held[slot]) == STATUS_SUCCESS) {
            memset(held[slot], slot, arg->frame_size); /* the frame is this thread's alone */
        } else if (held[slot] != NULL) {
            arg->failures++; /* an error must come with NULL */
        }
        KeLowerIrql(old);
    }
    for (int s = 0; s < 4; s++)
        if (held[s] != NULL)
            arg->table.FreeFrame(arg->file, held[s]);
    return NULL;
}

KTEST(alloc_function_table, stress_threads_allocated_frames_exact)
{
    enum { THREADS = 4 };
    alloc_fx fx;
    KSALLOCATOR_FRAMING f = fx_default_framing;
    f.Frames = 6; /* fewer than THREADS * 4: the limit is contended */
    f.FrameSize = 48;
    fx_open(&fx, &f, NULL);
    stress_arg args[THREADS];
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&args[i], 0, sizeof args[i]);
        fx_function_table(fx.alloc, &args[i].table);
        args[i].file = km_handle_to_file(fx.alloc);
        args[i].iterations = 2000;
        args[i].frame_size = f.FrameSize;
    }
    for (int i = 0; i < THREADS; i++)
        ASSERT_TRUE(pthread_create(&threads[i], NULL, stress_thread, &args[i]) == 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    for (int i = 0; i < THREADS; i++)
        EXPECT_EQ(args[i].failures, 0);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    /* A mid-run snapshot: hold some frames and check the count is exact. */
    PVOID a, b;
    ASSERT_STATUS(args[0].table.AllocateFrame(args[0].file, &a), STATUS_SUCCESS);
    ASSERT_STATUS(args[0].table.AllocateFrame(args[0].file, &b), STATUS_SUCCESS);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 2);
    args[0].table.FreeFrame(args[0].file, a);
    args[0].table.FreeFrame(args[0].file, b);
    fx_close_all(&fx);
}
