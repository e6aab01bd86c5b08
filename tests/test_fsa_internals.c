/* test_fsa_internals.c: white-box tests of allocator_fs/: its failed reservation, which no request
 * from one thread can reach (another caller reserved the last slot, an ALLOC queued or a request was
 * refused behind it, then the pool refused that caller's block: the slot is free again, and no FREE
 * will come for the waiter), and where a paged frame's header lives. Left out of the driver seam build, which
 * replaces allocator_fs/. */
#include "alloc_fixture.h"
#include "../allocator_fs/fsa.h"

/* Frames `frames` on the filter-specific allocator; every slot reserved as fsa_frame_get reserves one,
 * and an ALLOC queued behind them. The caller finishes each reservation with fsa_frame_for_reserved,
 * the lock held as this returns. */
static fsa_context *reserve_and_queue(alloc_fx *fx, ULONG frames, PVOID *waiting, PIO_STATUS_BLOCK iosb, KIRQL *irql)
{
    KSALLOCATOR_FRAMING f = fx_default_framing;
    f.Frames = frames;
    kstf_configure_pin_allocator(KSTF_PIN_FILTER_SPECIFIC);
    fx_open(fx, &f, NULL);
    fsa_context *c = FSA_FROM_FILE(km_handle_to_file(fx->alloc));
    KeAcquireSpinLock(&c->lock, irql);
    c->allocated += frames;
    KeReleaseSpinLock(&c->lock, *irql);
    *waiting = NULL;
    iosb->Status = STATUS_UNSUCCESSFUL; /* written only when the ALLOC completes */
    iosb->Information = 0xDEAD;
    if (fx_alloc_async(fx->alloc, waiting, iosb) != STATUS_PENDING)
        ktest_fail_at(__FILE__, __LINE__, "the ALLOC behind the reserved slot did not pend");
    KeAcquireSpinLock(&c->lock, irql);
    return c;
}

static void close_fs(alloc_fx *fx)
{
    fx_close_all(fx);
    kstf_configure_pin_allocator(KSTF_PIN_DEFAULT_ALLOCATOR);
    EXPECT_EQ(km_pool_outstanding_for_tag(FSA_TAG_FRAME), 0);
}

/* The pool refuses the reserving caller once: the waiter gets the slot and a block of its own. */
KTEST(fsa_internals, failed_reservation_serves_the_waiting_alloc)
{
    alloc_fx fx;
    PVOID waiting, frame = (PVOID)1;
    IO_STATUS_BLOCK iosb;
    KIRQL irql;
    fsa_context *c = reserve_and_queue(&fx, 1, &waiting, &iosb, &irql);
    km_fault_plan plan = { .fail_nth = 1 };
    km_fault_arm(&plan);
    EXPECT_STATUS(fsa_frame_for_reserved(c, irql, &frame), STATUS_INSUFFICIENT_RESOURCES);
    km_fault_disarm();
    EXPECT_EQ(km_io_pending_count(), 0);
    EXPECT_STATUS(iosb.Status, STATUS_SUCCESS);
    EXPECT_EQ(iosb.Information, sizeof(PVOID));
    EXPECT_TRUE(waiting != NULL);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 1);
    EXPECT_STATUS(fx_free(fx.alloc, waiting), STATUS_SUCCESS);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    close_fs(&fx);
}

/* The pool refuses every block: the waiter is completed with the pool's answer, not left waiting. */
KTEST(fsa_internals, failed_reservation_completes_the_waiter_when_the_pool_refuses_it_too)
{
    alloc_fx fx;
    PVOID waiting, frame = (PVOID)1;
    IO_STATUS_BLOCK iosb;
    KIRQL irql;
    fsa_context *c = reserve_and_queue(&fx, 1, &waiting, &iosb, &irql);
    km_fault_plan plan = { .site = "FsaF" };
    km_fault_arm(&plan);
    EXPECT_STATUS(fsa_frame_for_reserved(c, irql, &frame), STATUS_INSUFFICIENT_RESOURCES);
    km_fault_disarm();
    EXPECT_EQ(km_io_pending_count(), 0);
    EXPECT_STATUS(iosb.Status, STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_EQ(iosb.Information, 0);
    EXPECT_TRUE(waiting == NULL);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    EXPECT_STATUS(fx_alloc(fx.alloc, &waiting), STATUS_SUCCESS); /* the slot is free */
    close_fs(&fx);
}

/* Above PASSIVE_LEVEL the failing caller leaves the waiter to the work item, which serves it at
 * PASSIVE_LEVEL (the ALLOC's output may be pageable). */
KTEST(fsa_internals, failed_reservation_above_passive_leaves_the_waiter_to_the_work_item)
{
    alloc_fx fx;
    PVOID waiting, frame = (PVOID)1;
    IO_STATUS_BLOCK iosb;
    KIRQL irql, old;
    fsa_context *c = reserve_and_queue(&fx, 1, &waiting, &iosb, &irql);
    KeReleaseSpinLock(&c->lock, irql);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeAcquireSpinLock(&c->lock, &irql);
    km_fault_plan plan = { .fail_nth = 1 };
    km_fault_arm(&plan);
    EXPECT_STATUS(fsa_frame_for_reserved(c, irql, &frame), STATUS_INSUFFICIENT_RESOURCES);
    km_fault_disarm();
    KeLowerIrql(old);
    EXPECT_STATUS(iosb.Status, STATUS_UNSUCCESSFUL);
    EXPECT_EQ(km_io_pending_count(), 1);
    km_run_work_items();
    EXPECT_EQ(km_io_pending_count(), 0);
    EXPECT_STATUS(iosb.Status, STATUS_SUCCESS);
    EXPECT_TRUE(waiting != NULL);
    EXPECT_STATUS(fx_free(fx.alloc, waiting), STATUS_SUCCESS);
    close_fs(&fx);
}

/* Between a failed reservation giving its slot up and serving the ALLOC queued behind it, a new
 * request does not take the slot: a function-table caller is refused, a newer ALLOC queues behind. */
KTEST(fsa_internals, a_new_request_does_not_overtake_a_waiting_alloc)
{
    alloc_fx fx;
    PVOID waiting, frame = (PVOID)1;
    IO_STATUS_BLOCK iosb;
    KIRQL irql;
    fsa_context *c = reserve_and_queue(&fx, 1, &waiting, &iosb, &irql);
    c->allocated--; /* the failed reservation's step before it serves the waiter */
    KeReleaseSpinLock(&c->lock, irql);
    BOOLEAN at_limit = FALSE;
    EXPECT_STATUS(fsa_frame_get(c, &frame, &at_limit), STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_TRUE(at_limit);
    EXPECT_TRUE(frame == NULL);
    PVOID newer = NULL;
    IO_STATUS_BLOCK newer_iosb = { .Status = STATUS_UNSUCCESSFUL };
    EXPECT_STATUS(fx_alloc_async(fx.alloc, &newer, &newer_iosb), STATUS_PENDING);
    /* The failing caller goes on: its slot again, the pool refusing it once, then the waiters. */
    KeAcquireSpinLock(&c->lock, &irql);
    c->allocated++;
    km_fault_plan plan = { .fail_nth = 1 };
    km_fault_arm(&plan);
    EXPECT_STATUS(fsa_frame_for_reserved(c, irql, &frame), STATUS_INSUFFICIENT_RESOURCES);
    km_fault_disarm();
    EXPECT_STATUS(iosb.Status, STATUS_SUCCESS); /* the older ALLOC has the slot */
    EXPECT_TRUE(waiting != NULL);
    EXPECT_STATUS(newer_iosb.Status, STATUS_UNSUCCESSFUL); /* the newer one still waits */
    EXPECT_EQ(km_io_pending_count(), 1);
    EXPECT_STATUS(fx_free(fx.alloc, waiting), STATUS_SUCCESS);
    EXPECT_STATUS(newer_iosb.Status, STATUS_SUCCESS); /* the FREE handed it the frame */
    EXPECT_TRUE(newer == waiting);
    EXPECT_STATUS(fx_free(fx.alloc, newer), STATUS_SUCCESS);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    close_fs(&fx);
}

/* A paged allocator's frame headers are nonpaged: the lists are linked and searched under the spin
 * lock, at DISPATCH_LEVEL, where paged pool must not be touched. */
KTEST(fsa_internals, paged_frames_keep_their_headers_in_nonpaged_pool)
{
    alloc_fx fx;
    KSALLOCATOR_FRAMING f = fx_default_framing;
    f.PoolType = PagedPool;
    kstf_configure_pin_allocator(KSTF_PIN_FILTER_SPECIFIC);
    fx_open(&fx, &f, NULL);
    PVOID frame;
    ASSERT_STATUS(fx_alloc(fx.alloc, &frame), STATUS_SUCCESS);
    EXPECT_EQ(km_pool_outstanding_for_tag(FSA_TAG_BLOCK), 1);
    EXPECT_EQ(km_pool_outstanding_for_tag(FSA_TAG_FRAME), 1);
    fsa_context *c = FSA_FROM_FILE(km_handle_to_file(fx.alloc));
    fsa_block *block = CONTAINING_RECORD(c->outstanding.Flink, fsa_block, link);
    EXPECT_TRUE(block->frame == frame);
    EXPECT_TRUE((PUCHAR)frame < (PUCHAR)block || (PUCHAR)frame >= (PUCHAR)(block + 1)); /* not in the header */
    EXPECT_STATUS(fx_free(fx.alloc, frame), STATUS_SUCCESS);
    close_fs(&fx);
    EXPECT_EQ(km_pool_outstanding_for_tag(FSA_TAG_BLOCK), 0);
}

/* Frames 1, FREEFRAME enabled, the one slot reserved; with `refuse`, another request finds the
 * limit meanwhile. Then the pool refuses the reserving caller's block. Returns whether FREEFRAME was
 * signalled. */
static LONG failed_reservation_freeframe(BOOLEAN refuse)
{
    alloc_fx fx;
    KSALLOCATOR_FRAMING f = fx_default_framing;
    f.Frames = 1;
    kstf_configure_pin_allocator(KSTF_PIN_FILTER_SPECIFIC);
    fx_open(&fx, &f, NULL);
    KEVENT ev;
    KSEVENTDATA data;
    if (fx_enable_freeframe(fx.alloc, &data, &ev) != STATUS_SUCCESS)
        ktest_fail_at(__FILE__, __LINE__, "FREEFRAME not enabled");
    fsa_context *c = FSA_FROM_FILE(km_handle_to_file(fx.alloc));
    KIRQL irql;
    KeAcquireSpinLock(&c->lock, &irql);
    c->allocated++;
    KeReleaseSpinLock(&c->lock, irql);
    PVOID frame = (PVOID)1;
    if (refuse) {
        BOOLEAN at_limit = FALSE;
        EXPECT_STATUS(fsa_frame_get(c, &frame, &at_limit), STATUS_INSUFFICIENT_RESOURCES);
        EXPECT_TRUE(at_limit);
    }
    km_fault_plan plan = { .site = "FsaF" };
    km_fault_arm(&plan);
    KeAcquireSpinLock(&c->lock, &irql);
    EXPECT_STATUS(fsa_frame_for_reserved(c, irql, &frame), STATUS_INSUFFICIENT_RESOURCES);
    km_fault_disarm();
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    LONG signalled = KeReadStateEvent(&ev);
    close_fs(&fx);
    return signalled;
}

/* A function-table caller refused at the limit waits for FREEFRAME, and no frame will be freed: the
 * failure that freed the slot signals it. */
KTEST(fsa_internals, failed_reservation_signals_freeframe_to_a_refused_caller)
{
    EXPECT_EQ(failed_reservation_freeframe(TRUE), 1);
}

/* With no one refused, no frame came back and no one waits: no FREEFRAME. */
KTEST(fsa_internals, failed_reservation_alone_signals_no_freeframe)
{
    EXPECT_EQ(failed_reservation_freeframe(FALSE), 0);
}

/* FREEFRAME enabled on Frames `frames` (1 or 2), every slot reserved and an ALLOC queued behind them;
 * then, at DISPATCH_LEVEL, the pool refuses every reservation (the waiter is left to the work item)
 * and a request is refused behind the waiter. FREEFRAME is clear afterwards. */
static fsa_context *refused_behind_a_waiter(alloc_fx *fx, ULONG frames, KEVENT *ev, KSEVENTDATA *data,
                                            PVOID *waiting, PIO_STATUS_BLOCK iosb)
{
    KIRQL irql, old;
    fsa_context *c = reserve_and_queue(fx, frames, waiting, iosb, &irql);
    KeReleaseSpinLock(&c->lock, irql);
    if (fx_enable_freeframe(fx->alloc, data, ev) != STATUS_SUCCESS)
        ktest_fail_at(__FILE__, __LINE__, "FREEFRAME not enabled");
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    km_fault_plan plan = { .site = "FsaF" };
    km_fault_arm(&plan);
    PVOID frame = (PVOID)1;
    for (ULONG i = 0; i < frames; i++) {
        KeAcquireSpinLock(&c->lock, &irql);
        EXPECT_STATUS(fsa_frame_for_reserved(c, irql, &frame), STATUS_INSUFFICIENT_RESOURCES);
    }
    km_fault_disarm();
    KeLowerIrql(old);
    KeClearEvent(ev); /* the refused caller's pattern: clear, try, wait */
    BOOLEAN at_limit = FALSE;
    EXPECT_STATUS(fsa_frame_get(c, &frame, &at_limit), STATUS_INSUFFICIENT_RESOURCES); /* the waiter first */
    EXPECT_TRUE(at_limit);
    EXPECT_EQ(KeReadStateEvent(ev), 0);
    return c;
}

/* The waiter the caller was refused behind is cancelled before the work item serves it: the slot is
 * free and no frame will come back, so the cancel signals FREEFRAME. */
KTEST(fsa_internals, a_caller_refused_behind_a_cancelled_waiter_gets_freeframe)
{
    alloc_fx fx;
    KEVENT ev;
    KSEVENTDATA data;
    PVOID waiting;
    IO_STATUS_BLOCK iosb;
    fsa_context *c = refused_behind_a_waiter(&fx, 1, &ev, &data, &waiting, &iosb);
    IoCancelIrp(CONTAINING_RECORD(c->pending.Flink, IRP, Tail.Overlay.ListEntry));
    EXPECT_STATUS(iosb.Status, STATUS_CANCELLED);
    EXPECT_EQ(KeReadStateEvent(&ev), 1);
    km_run_work_items(); /* finds no waiter */
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    close_fs(&fx);
}

/* The work item serves the waiter and a slot is left: FREEFRAME tells the refused caller. */
KTEST(fsa_internals, a_caller_refused_behind_a_waiter_served_with_a_slot_left_gets_freeframe)
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
    close_fs(&fx);
}

/* The waiter takes the last slot: the refused caller would be refused again, so no FREEFRAME until a
 * frame comes back. */
KTEST(fsa_internals, a_caller_refused_behind_a_waiter_that_takes_the_last_slot_gets_no_freeframe)
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
    close_fs(&fx);
}
