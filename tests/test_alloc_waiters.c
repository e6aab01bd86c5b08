/* test_alloc_waiters.c: the ALLOC queue's races, reached without a second thread. White-
 * box: an ALLOC cancelled before it is queued, and a waiting ALLOC whose cancel routine is already
 * claimed when a FREE serves the queue. Through the test filter's DefaultAllocate hook: an ALLOC
 * queued, or an AllocateFrame refused, behind a slot whose frame then fails. Left out of API seam builds, like
 * test_alloc_frame_reuse.c (the hook sends its ALLOC from inside DefaultAllocate, which another
 * allocator may call at DISPATCH_LEVEL). */
#include "alloc_fixture.h"
#include "../allocator/ksa_internal.h"

/* An IRP the allocator may mark pending and queue; never sent, so never completed. */
typedef struct {
    IRP irp;
    IO_STACK_LOCATION stack[1];
} fake_alloc;

static void fake_alloc_init(fake_alloc *f)
{
    memset(f, 0, sizeof *f);
    f->irp.Tail.Overlay.CurrentStackLocation = &f->stack[0];
    InitializeListHead(&f->irp.Tail.Overlay.ListEntry);
}

/* One frame (Frames 1), taken through the function table: the next ALLOC must wait. */
static ksa_allocator *open_full(alloc_fx *fx, KSSTREAMALLOCATOR_FUNCTIONTABLE *t, PFILE_OBJECT *file, PVOID *frame)
{
    KSALLOCATOR_FRAMING f = fx_default_framing;
    f.Frames = 1;
    fx_open(fx, &f, NULL);
    *file = fx_direct(fx->alloc, t);
    if (t->AllocateFrame(*file, frame) != STATUS_SUCCESS)
        ktest_fail_at(__FILE__, __LINE__, "the one frame");
    return KSA_FROM_FILE(*file);
}

/* Cancelled before it could be queued: marked pending, not queued, handed back for the caller
 * (ksa_method_alloc) to complete with STATUS_CANCELLED; the queue and the fast path are untouched. */
KTEST(alloc_waiters, alloc_cancelled_before_queueing_is_handed_back)
{
    alloc_fx fx;
    KSSTREAMALLOCATOR_FUNCTIONTABLE t;
    PFILE_OBJECT file;
    PVOID held;
    ksa_allocator *a = open_full(&fx, &t, &file, &held);
    fake_alloc f;
    fake_alloc_init(&f);
    f.irp.Cancel = TRUE;
    PVOID frame = (PVOID)1;
    EXPECT_STATUS(ksa_frame_allocate_or_queue(a, &f.irp, &frame), STATUS_CANCELLED);
    EXPECT_TRUE(frame == NULL);
    EXPECT_TRUE((f.stack[0].Control & SL_PENDING_RETURNED) != 0);
    EXPECT_TRUE(f.irp.CancelRoutine == NULL);
    EXPECT_TRUE(IsListEmpty(&a->pending));
    EXPECT_EQ(a->list_limit, 1);
    t.FreeFrame(file, held);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    fx_close_all(&fx);
}

/* A waiting ALLOC whose cancel routine a cancel has already claimed: the FREE's service takes it off
 * the queue without completing it (its cancel routine will), and the frame stays free. */
KTEST(alloc_waiters, service_skips_an_alloc_being_cancelled)
{
    alloc_fx fx;
    KSSTREAMALLOCATOR_FUNCTIONTABLE t;
    PFILE_OBJECT file;
    PVOID held;
    ksa_allocator *a = open_full(&fx, &t, &file, &held);
    fake_alloc f;
    fake_alloc_init(&f);
    KIRQL irql;
    KeAcquireSpinLock(&a->lock, &irql);
    InsertTailList(&a->pending, &f.irp.Tail.Overlay.ListEntry); /* CancelRoutine NULL: claimed */
    a->list_limit = ksa_list_limit(a);
    KeReleaseSpinLock(&a->lock, irql);
    EXPECT_EQ(a->list_limit, 0); /* someone waits: no one-section path */
    t.FreeFrame(file, held); /* at PASSIVE_LEVEL: serves the queue at once */
    EXPECT_TRUE(IsListEmpty(&a->pending));
    EXPECT_TRUE(IsListEmpty(&f.irp.Tail.Overlay.ListEntry)); /* unlinked harmlessly for its cancel routine */
    EXPECT_EQ(a->list_limit, 1);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    PVOID again = NULL;
    EXPECT_STATUS(t.AllocateFrame(file, &again), STATUS_SUCCESS);
    EXPECT_TRUE(again == held);
    t.FreeFrame(file, again);
    fx_close_all(&fx);
}

/* DefaultAllocate's hook for the two tests below: its first call sends an ALLOC, which finds the
 * one slot reserved by the caller that DefaultAllocate is making a frame for, and queues; that
 * frame then fails. Later calls fail only if hook_fail_all. */
static struct {
    HANDLE alloc; /* the allocator's handle, until the ALLOC is sent */
    PVOID frame;
    IO_STATUS_BLOCK iosb;
    NTSTATUS sent;
    BOOLEAN fail_all;
} hook;

static BOOLEAN queue_an_alloc_then_fail(VOID)
{
    if (hook.alloc == NULL)
        return hook.fail_all;
    HANDLE h = hook.alloc;
    hook.alloc = NULL;
    hook.sent = fx_alloc_async(h, &hook.frame, &hook.iosb);
    return TRUE;
}

/* Frames 1 with an external DefaultAllocate whose first frame fails after an ALLOC queued behind it. */
static NTSTATUS failed_reservation(alloc_fx *fx, BOOLEAN fail_all)
{
    kstf_allocator_config c;
    memset(&c, 0, sizeof c);
    c.pass_default_allocate = c.pass_default_free = TRUE;
    c.allocate_hook = queue_an_alloc_then_fail;
    KSALLOCATOR_FRAMING f = fx_default_framing;
    f.Frames = 1;
    fx_open(fx, &f, &c);
    memset(&hook, 0, sizeof hook);
    hook.alloc = fx->alloc;
    hook.iosb.Status = STATUS_UNSUCCESSFUL; /* written only when the ALLOC completes */
    hook.fail_all = fail_all;
    PVOID frame = (PVOID)1;
    NTSTATUS status = fx_alloc(fx->alloc, &frame);
    EXPECT_TRUE(frame == NULL);
    EXPECT_STATUS(hook.sent, STATUS_PENDING);
    EXPECT_EQ(km_io_pending_count(), 0); /* the waiter is not left waiting with the slot free */
    return status;
}

/* The slot a failed frame had reserved comes free: the waiting ALLOC gets it (from the next
 * DefaultAllocate), although no FREE will come. */
KTEST(alloc_waiters, failed_reservation_serves_the_waiting_alloc)
{
    alloc_fx fx;
    EXPECT_STATUS(failed_reservation(&fx, FALSE), STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_STATUS(hook.iosb.Status, STATUS_SUCCESS);
    EXPECT_EQ(hook.iosb.Information, sizeof(PVOID));
    EXPECT_TRUE(hook.frame != NULL);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 1);
    EXPECT_STATUS(fx_free(fx.alloc, hook.frame), STATUS_SUCCESS);
    fx_close_all(&fx);
}

/* When DefaultAllocate fails the waiter's frame too, the waiter completes with that answer. */
KTEST(alloc_waiters, failed_reservation_completes_the_waiter_when_its_frame_fails_too)
{
    alloc_fx fx;
    EXPECT_STATUS(failed_reservation(&fx, TRUE), STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_STATUS(hook.iosb.Status, STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_EQ(hook.iosb.Information, 0);
    EXPECT_TRUE(hook.frame == NULL);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    fx_close_all(&fx);
}

/* DefaultAllocate's hook for the tests below: the first call makes an AllocateFrame through the
 * function table (refused: the caller that DefaultAllocate works for holds the one slot) if
 * `file` is set; every call fails. */
static struct {
    KSSTREAMALLOCATOR_FUNCTIONTABLE table;
    PFILE_OBJECT file;
    NTSTATUS refused;
} table_hook;

static BOOLEAN refuse_a_table_caller_then_fail(VOID)
{
    if (table_hook.file != NULL) {
        PVOID frame = (PVOID)1;
        table_hook.refused = table_hook.table.AllocateFrame(table_hook.file, &frame);
        table_hook.file = NULL;
    }
    return TRUE;
}

/* Frames 1, FREEFRAME enabled, an external DefaultAllocate that fails. With `refuse`, a second
 * caller is refused at the limit while the first one's frame is being made. Returns whether
 * FREEFRAME was signalled by the first caller's failure. */
static LONG failed_reservation_freeframe(BOOLEAN refuse)
{
    alloc_fx fx;
    kstf_allocator_config c;
    memset(&c, 0, sizeof c);
    c.pass_default_allocate = c.pass_default_free = TRUE;
    c.allocate_hook = refuse_a_table_caller_then_fail;
    KSALLOCATOR_FRAMING f = fx_default_framing;
    f.Frames = 1;
    fx_open(&fx, &f, &c);
    KEVENT ev;
    KSEVENTDATA data;
    if (fx_enable_freeframe(fx.alloc, &data, &ev) != STATUS_SUCCESS)
        ktest_fail_at(__FILE__, __LINE__, "FREEFRAME not enabled");
    memset(&table_hook, 0, sizeof table_hook);
    PFILE_OBJECT file = fx_direct(fx.alloc, &table_hook.table);
    table_hook.file = refuse ? file : NULL;
    table_hook.refused = STATUS_UNSUCCESSFUL;
    PVOID frame = (PVOID)1;
    EXPECT_STATUS(table_hook.table.AllocateFrame(file, &frame), STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_TRUE(frame == NULL);
    EXPECT_STATUS(table_hook.refused, refuse ? STATUS_INSUFFICIENT_RESOURCES : STATUS_UNSUCCESSFUL);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    LONG signalled = KeReadStateEvent(&ev);
    fx_close_all(&fx);
    return signalled;
}

/* The refused caller waits for FREEFRAME, and no frame will be freed: the failure that freed the
 * slot signals it (decisions: FREEFRAME). */
KTEST(alloc_waiters, failed_reservation_signals_freeframe_to_a_refused_caller)
{
    EXPECT_EQ(failed_reservation_freeframe(TRUE), 1);
}

/* With no one refused, no frame came back and no one waits: no FREEFRAME. */
KTEST(alloc_waiters, failed_reservation_alone_signals_no_freeframe)
{
    EXPECT_EQ(failed_reservation_freeframe(FALSE), 0);
}

/* FREEFRAME enabled on Frames `frames` (1 or 2), every frame taken through the function table and an
 * ALLOC waiting; then, at DISPATCH_LEVEL, every frame freed (kept for the waiter, whose service the
 * work item does) and an AllocateFrame refused behind the waiter. FREEFRAME is clear afterwards. */
static ksa_allocator *refused_behind_a_waiter(alloc_fx *fx, ULONG frames, KEVENT *ev, KSEVENTDATA *data,
                                              PVOID *waiting, PIO_STATUS_BLOCK iosb)
{
    KSALLOCATOR_FRAMING f = fx_default_framing;
    f.Frames = frames;
    fx_open(fx, &f, NULL);
    KSSTREAMALLOCATOR_FUNCTIONTABLE t;
    PFILE_OBJECT file = fx_direct(fx->alloc, &t);
    PVOID held[2] = { NULL, NULL };
    for (ULONG i = 0; i < frames; i++)
        if (t.AllocateFrame(file, &held[i]) != STATUS_SUCCESS)
            ktest_fail_at(__FILE__, __LINE__, "a frame");
    if (fx_enable_freeframe(fx->alloc, data, ev) != STATUS_SUCCESS)
        ktest_fail_at(__FILE__, __LINE__, "FREEFRAME not enabled");
    *waiting = NULL;
    iosb->Status = STATUS_UNSUCCESSFUL; /* written only when the ALLOC completes */
    if (fx_alloc_async(fx->alloc, waiting, iosb) != STATUS_PENDING)
        ktest_fail_at(__FILE__, __LINE__, "the ALLOC did not wait");
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    for (ULONG i = 0; i < frames; i++)
        t.FreeFrame(file, held[i]);
    KeClearEvent(ev); /* the refused caller's pattern: clear, try, wait */
    PVOID frame = (PVOID)1;
    EXPECT_STATUS(t.AllocateFrame(file, &frame), STATUS_INSUFFICIENT_RESOURCES); /* the waiter comes first */
    KeLowerIrql(old);
    EXPECT_EQ(KeReadStateEvent(ev), 0);
    return KSA_FROM_FILE(file);
}

/* The waiter the caller was refused behind is cancelled before the work item serves it: the slot is
 * free and no frame will come back, so the cancel signals FREEFRAME (decisions Q9). */
KTEST(alloc_waiters, a_caller_refused_behind_a_cancelled_waiter_gets_freeframe)
{
    alloc_fx fx;
    KEVENT ev;
    KSEVENTDATA data;
    PVOID waiting;
    IO_STATUS_BLOCK iosb;
    ksa_allocator *a = refused_behind_a_waiter(&fx, 1, &ev, &data, &waiting, &iosb);
    IoCancelIrp(CONTAINING_RECORD(a->pending.Flink, IRP, Tail.Overlay.ListEntry));
    EXPECT_STATUS(iosb.Status, STATUS_CANCELLED);
    EXPECT_EQ(KeReadStateEvent(&ev), 1);
    km_run_work_items(); /* finds no waiter */
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    fx_close_all(&fx);
}

/* The work item serves the waiter and a slot is left: FREEFRAME tells the refused caller. */
KTEST(alloc_waiters, a_caller_refused_behind_a_waiter_served_with_a_slot_left_gets_freeframe)
{
    alloc_fx fx;
    KEVENT ev;
    KSEVENTDATA data;
    PVOID waiting;
    IO_STATUS_BLOCK iosb;
    refused_behind_a_waiter(&fx, 2, &ev, &data, &waiting, &iosb);
    km_run_work_items();
    EXPECT_STATUS(iosb.Status, STATUS_SUCCESS);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 1);
    EXPECT_EQ(KeReadStateEvent(&ev), 1);
    EXPECT_STATUS(fx_free(fx.alloc, waiting), STATUS_SUCCESS);
    fx_close_all(&fx);
}

/* The waiter takes the last slot: the refused caller would be refused again, so no FREEFRAME until a
 * frame comes back. */
KTEST(alloc_waiters, a_caller_refused_behind_a_waiter_that_takes_the_last_slot_gets_no_freeframe)
{
    alloc_fx fx;
    KEVENT ev;
    KSEVENTDATA data;
    PVOID waiting;
    IO_STATUS_BLOCK iosb;
    refused_behind_a_waiter(&fx, 1, &ev, &data, &waiting, &iosb);
    km_run_work_items();
    EXPECT_STATUS(iosb.Status, STATUS_SUCCESS);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 1);
    EXPECT_EQ(KeReadStateEvent(&ev), 0);
    EXPECT_STATUS(fx_free(fx.alloc, waiting), STATUS_SUCCESS);
    EXPECT_EQ(KeReadStateEvent(&ev), 1);
    fx_close_all(&fx);
}
