/* ksa_frames.c: the default allocator's frames: allocation from a lookaside list (the block freed
 * last kept in front of it) or an external allocator, the Frames limit, exact AllocatedFrames, frame
 * ownership checks, the pending-ALLOC queue with cancellation, and the function table usable at
 * DISPATCH_LEVEL (facts §5.2, §5.3). */
#include "ksa_internal.h"

#define KSA_BUGCHECK_BAD_POOL_CALLER 0x000000C2u
#define KSA_BUGCHECK_FOREIGN_FRAME 0x4B534131u /* "KSA1": FreeFrame of a frame not handed out */

/* Obtains storage for one frame, outside the lock (paged pool cannot be touched at DISPATCH_LEVEL):
 * from DefaultAllocate, or a paged lookaside block (nonpaged list frames take ksa_frame_from_list).
 * Its record is a separate nonpaged allocation: records are linked and searched under the spin lock,
 * at DISPATCH_LEVEL, where a paged block must not be touched. */
static ksa_frame_record *ksa_record_obtain(ksa_allocator *a)
{
    ULONG_PTR mask = a->framing.FileAlignment;
    PVOID block = NULL, frame;
    if (a->external_allocate != NULL) {
        frame = a->external_allocate(a->context);
        if (frame == NULL)
            return NULL;
        if (((ULONG_PTR)frame & mask) != 0) {
            /* decisions (callbacks): a frame violating the framing is never handed out. */
            a->external_free(a->context, frame);
            return NULL;
        }
    } else {
        block = ExAllocateFromPagedLookasideList(&a->lookaside.paged);
        if (block == NULL)
            return NULL;
        /* A nonpaged block's layout (record space unused), aligned up: FileAlignment is 2^n-1 (Q6). */
        frame = (PVOID)(((ULONG_PTR)((ksa_frame_record *)block + 1) + mask) & ~mask);
    }
    ksa_frame_record *record = ExAllocatePoolWithTag(NonPagedPool, sizeof *record, KSA_TAG_RECORD);
    if (record == NULL) {
        if (block != NULL)
            ExFreeToPagedLookasideList(&a->lookaside.paged, block);
        else
            a->external_free(a->context, frame);
        return NULL;
    }
    record->frame = frame;
    record->block = block;
    return record;
}

static VOID ksa_record_release(ksa_allocator *a, ksa_frame_record *record)
{
    if (a->list_frames) {
        ExFreeToNPagedLookasideList(&a->lookaside.nonpaged, record); /* the record starts the block */
        return;
    }
    if (record->block != NULL)
        ExFreeToPagedLookasideList(&a->lookaside.paged, record->block);
    else
        a->external_free(a->context, record->frame);
    ExFreePoolWithTag(record, KSA_TAG_RECORD);
}

/* A frame from the nonpaged lookaside list, the limit checked; caller holds the lock, which this drops.
 * The block of the frame freed last comes first: under the lock already held it costs no locked
 * operation, where the list takes its own (Windows: an interlocked S-list pop). Reusing it is the
 * "reusing discarded frames" of ks-allocators (facts §5.3). */
static inline __attribute__((always_inline)) NTSTATUS ksa_frame_from_list(ksa_allocator *a, KIRQL irql, PVOID *Frame)
{
    ksa_frame_record *record = a->reuse;
    if (record != NULL)
        a->reuse = NULL;
    else
        record = ExAllocateFromNPagedLookasideList(&a->lookaside.nonpaged);
    if (__builtin_expect(record == NULL, 0)) {
        KeReleaseSpinLock(&a->lock, irql);
        *Frame = NULL;
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    /* Over-allocated by the mask, then aligned up: FileAlignment is 2^n-1 (decisions Q6). */
    ULONG_PTR mask = a->framing.FileAlignment;
    PVOID frame = (PVOID)(((ULONG_PTR)(record + 1) + mask) & ~mask);
    record->frame = frame;
    a->outstanding++;
    InsertTailList(&a->frames, &record->link);
    *Frame = frame; /* the caller's variable: nothing but the result is needed after the release */
    KeReleaseSpinLock(&a->lock, irql);
    return STATUS_SUCCESS;
}

/* Signals FREEFRAME: a slot came free. Caller holds the lock. */
static VOID ksa_signal_freeframe_locked(ksa_allocator *a)
{
    a->refused = FALSE;
    for (PLIST_ENTRY e = a->events.Flink; e != &a->events; e = e->Flink)
        KsGenerateEvent(CONTAINING_RECORD(e, KSEVENT_ENTRY, ListEntry));
}

/* TRUE when a new request gets no frame now: the Frames limit, or ALLOCs already waiting, which
 * come first (decisions: the freed frame completes the oldest waiting ALLOC). Caller holds the lock. */
static BOOLEAN ksa_must_wait(const ksa_allocator *a)
{
    return (BOOLEAN)((a->framing.Frames != 0 && a->outstanding >= a->framing.Frames) || !IsListEmpty(&a->pending));
}

/* A request refused since the last FREEFRAME learns only from FREEFRAME that it may try again. When
 * what refused it goes without a frame coming back (a failed reservation gave its slot up, or the
 * ALLOCs it was refused behind were cancelled or served with a slot left), signal it now (decisions
 * Q9). Caller holds the lock. */
static VOID ksa_refusal_over_locked(ksa_allocator *a)
{
    if (a->refused && !a->closed && !ksa_must_wait(a))
        ksa_signal_freeframe_locked(a);
}

static VOID ksa_waiters_act(ksa_allocator *a, BOOLEAN queue, BOOLEAN service);
static VOID ksa_waiters_locked(ksa_allocator *a, KIRQL irql, BOOLEAN *queue, BOOLEAN *service);

/* Paged pool cannot be touched at DISPATCH_LEVEL and an external DefaultAllocate runs at the
 * caller's IRQL: reserve the slot so concurrent callers cannot exceed Frames, obtain the storage
 * outside the lock, then record it. Called with the lock held and the limit checked; drops it.
 * `servicing`: the caller is ksa_service_pending, which goes on to the next waiter itself. */
__attribute__((noinline)) static NTSTATUS ksa_frame_allocate_unlocked(ksa_allocator *a, KIRQL irql, PVOID *Frame,
                                                                      BOOLEAN servicing)
{
    ksa_frame_record *record = NULL;
    if (!IsListEmpty(&a->spares)) /* a frame freed for a waiting ALLOC: hand it over as it is */
        record = CONTAINING_RECORD(RemoveHeadList(&a->spares), ksa_frame_record, link);
    a->outstanding++;
    if (record == NULL) {
        KeReleaseSpinLock(&a->lock, irql);
        record = ksa_record_obtain(a);
        KeAcquireSpinLock(&a->lock, &irql);
        if (record == NULL) {
            /* The slot is free again. An ALLOC that found it reserved and queued meanwhile would
             * otherwise wait for a FREE that may never come. */
            BOOLEAN queue = FALSE, service = FALSE;
            a->outstanding--;
            ksa_refusal_over_locked(a);
            if (!servicing)
                ksa_waiters_locked(a, irql, &queue, &service);
            KeReleaseSpinLock(&a->lock, irql);
            ksa_waiters_act(a, queue, service);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
    }
    InsertTailList(&a->frames, &record->link);
    KeReleaseSpinLock(&a->lock, irql);
    *Frame = record->frame;
    return STATUS_SUCCESS;
}

/* A frame for a caller that may have one now (open, under the Frames limit). Caller holds the
 * lock; this drops it. */
static NTSTATUS ksa_frame_take_locked(ksa_allocator *a, KIRQL irql, PVOID *Frame, BOOLEAN servicing)
{
    if (!a->list_frames)
        return ksa_frame_allocate_unlocked(a, irql, Frame, servicing);
    return ksa_frame_from_list(a, irql, Frame);
}

/* Every case but a list frame under list_limit: closed, the Frames limit, waiting ALLOCs, paged or
 * external storage. Caller holds the lock; this drops it. */
__attribute__((noinline)) static NTSTATUS ksa_frame_allocate_locked(ksa_allocator *a, KIRQL irql, PVOID *Frame)
{
    *Frame = NULL;
    if (a->closed || ksa_must_wait(a)) {
        if (!a->closed)
            a->refused = TRUE;
        KeReleaseSpinLock(&a->lock, irql);
        return STATUS_INSUFFICIENT_RESOURCES; /* decisions Q8 */
    }
    return ksa_frame_take_locked(a, irql, Frame, FALSE);
}

/* Inline into the function table. Below list_limit the allocator is open, under its Frames limit,
 * has no ALLOC waiting and takes frames from the nonpaged list. */
static inline __attribute__((always_inline)) NTSTATUS ksa_frame_allocate_inline(ksa_allocator *a, PVOID *Frame)
{
    KIRQL irql;
    KeAcquireSpinLock(&a->lock, &irql);
    if (__builtin_expect(a->outstanding >= a->list_limit, 0))
        return ksa_frame_allocate_locked(a, irql, Frame);
    return ksa_frame_from_list(a, irql, Frame);
}

/* Caller holds the lock: list_limit after `pending` or `closed` changed (see ksa_internal.h). */
static VOID ksa_refresh_list_limit(ksa_allocator *a)
{
    a->list_limit = ksa_list_limit(a);
}

static VOID ksa_cancel_alloc(PDEVICE_OBJECT DeviceObject, PIRP Irp);

/* Queues an ALLOC IRP, already marked pending, with our cancel routine. Caller holds the lock.
 * FALSE when it was cancelled before and our routine will not run: the caller completes it. */
static BOOLEAN ksa_queue_locked(ksa_allocator *a, PIRP Irp)
{
    IoSetCancelRoutine(Irp, ksa_cancel_alloc);
    if (Irp->Cancel && IoSetCancelRoutine(Irp, NULL) != NULL)
        return FALSE;
    InsertTailList(&a->pending, &Irp->Tail.Overlay.ListEntry);
    ksa_refresh_list_limit(a);
    return TRUE;
}

NTSTATUS ksa_frame_allocate_or_queue(ksa_allocator *a, PIRP Irp, PVOID *Frame)
{
    KIRQL irql;
    KeAcquireSpinLock(&a->lock, &irql);
    if (a->closed || !ksa_must_wait(a))
        return ksa_frame_allocate_locked(a, irql, Frame);
    /* Checked and queued in one critical section: a FREE in between would find no waiter to
     * complete, and this ALLOC would wait with a frame free. */
    *Frame = NULL;
    IoMarkIrpPending(Irp);
    BOOLEAN queued = ksa_queue_locked(a, Irp);
    KeReleaseSpinLock(&a->lock, irql);
    return queued ? STATUS_PENDING : STATUS_CANCELLED;
}

static VOID ksa_service_pending(ksa_allocator *a);

/* Queued with a reference to the file object, so IRP_MJ_CLOSE cannot run until this is done. */
static VOID ksa_work_routine(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    ksa_allocator *a = Context;
    PFILE_OBJECT file = a->file_object;
    KIRQL irql;
    KeAcquireSpinLock(&a->lock, &irql);
    a->work_queued = FALSE;
    KeReleaseSpinLock(&a->lock, irql);
    ksa_service_pending(a);
    ObDereferenceObject(file); /* the last reference sends IRP_MJ_CLOSE, which frees `a` */
}

/* Caller holds the lock, taken at `irql`, and a slot may have come free: decides whether waiting
 * ALLOC IRPs get their chance directly (at PASSIVE_LEVEL) or from a work item (filter-specific-
 * allocators, facts §5.2 step 2). */
static VOID ksa_waiters_locked(ksa_allocator *a, KIRQL irql, BOOLEAN *queue, BOOLEAN *service)
{
    *queue = *service = FALSE;
    if (IsListEmpty(&a->pending) || a->closed)
        return;
    if (irql == PASSIVE_LEVEL)
        *service = TRUE;
    else if (!a->work_queued)
        *queue = a->work_queued = TRUE;
}

/* Carries out what ksa_waiters_locked decided, after the lock is dropped. */
static VOID ksa_waiters_act(ksa_allocator *a, BOOLEAN queue, BOOLEAN service)
{
    if (queue) {
        ObReferenceObject(a->file_object); /* our caller holds one: the object cannot be closed yet */
        IoQueueWorkItem(a->work_item, ksa_work_routine, DelayedWorkQueue, a);
    }
    if (service)
        ksa_service_pending(a);
}

/* After a frame came back (caller holds the lock, taken at `irql`): signal FREEFRAME, then
 * ksa_waiters_locked. */
static VOID ksa_frame_returned_locked(ksa_allocator *a, KIRQL irql, BOOLEAN *queue, BOOLEAN *service)
{
    ksa_signal_freeframe_locked(a);
    ksa_waiters_locked(a, irql, queue, service);
}

/* ksa_frame_returned_locked and ksa_waiters_act around dropping the lock (taken at `irql`). */
__attribute__((noinline)) static VOID ksa_frame_returned_unlock(ksa_allocator *a, KIRQL irql)
{
    BOOLEAN queue, service;
    ksa_frame_returned_locked(a, irql, &queue, &service);
    KeReleaseSpinLock(&a->lock, irql);
    ksa_waiters_act(a, queue, service);
}

/* The outstanding record of Frame, or NULL when this allocator has not handed it out. Caller holds
 * the lock. Scans from both ends at once, newest first: clients return frames either LIFO (a
 * scratch frame) or FIFO (a ring of frames in flight), and both are found in the first step. */
static ksa_frame_record *ksa_find_outstanding(ksa_allocator *a, PVOID Frame)
{
    PLIST_ENTRY newer = a->frames.Blink, older = a->frames.Flink;
    while (newer != &a->frames) {
        ksa_frame_record *record = CONTAINING_RECORD(newer, ksa_frame_record, link);
        if (record->frame == Frame)
            return record;
        if (newer == older)
            break; /* the two ends met: every record was compared */
        record = CONTAINING_RECORD(older, ksa_frame_record, link);
        if (record->frame == Frame)
            return record;
        newer = newer->Blink;
        if (newer == older)
            break;
        older = older->Flink;
    }
    return NULL;
}

/* Paged pool and an external DefaultFree are released at the caller's IRQL, outside the lock.
 * Called with the lock held and the record unlinked; drops it. While ALLOCs wait, the frame is kept
 * for them instead (filter-specific-allocators: FreeFrame "must complete one with the freed frame"):
 * releasing it and obtaining another could fail where the hand-over cannot (found by the gate). */
__attribute__((noinline)) static VOID ksa_frame_free_unlocked(ksa_allocator *a, KIRQL irql, ksa_frame_record *found)
{
    BOOLEAN queue, service;
    if (!IsListEmpty(&a->pending) && !a->closed) {
        InsertTailList(&a->spares, &found->link);
    } else {
        KeReleaseSpinLock(&a->lock, irql);
        ksa_record_release(a, found);
        KeAcquireSpinLock(&a->lock, &irql);
    }
    ksa_frame_returned_locked(a, irql, &queue, &service);
    KeReleaseSpinLock(&a->lock, irql);
    ksa_waiters_act(a, queue, service);
}

/* Inline into both entry points (the IOCTL's ksa_frame_free and the function table). */
static inline __attribute__((always_inline)) BOOLEAN ksa_frame_free_inline(ksa_allocator *a, PVOID Frame)
{
    KIRQL irql;
    KeAcquireSpinLock(&a->lock, &irql);
    ksa_frame_record *found = ksa_find_outstanding(a, Frame);
    if (found == NULL) {
        KeReleaseSpinLock(&a->lock, irql);
        return FALSE;
    }
    RemoveEntryList(&found->link);
    a->outstanding--;
    if (!a->list_frames) {
        ksa_frame_free_unlocked(a, irql, found);
        return TRUE;
    }
    /* The steps of ksa_frame_free_unlocked in one critical section: the block is kept for the next
     * allocation (the one kept before goes back to the list, so reuse stays newest first) before
     * FREEFRAME is signalled and pending ALLOCs are looked at. */
    if (a->reuse != NULL)
        ExFreeToNPagedLookasideList(&a->lookaside.nonpaged, a->reuse);
    a->reuse = found;
    if (__builtin_expect(IsListEmpty(&a->events) && IsListEmpty(&a->pending), 1)) {
        KeReleaseSpinLock(&a->lock, irql); /* no FREEFRAME to signal, no ALLOC waiting */
        return TRUE;
    }
    ksa_frame_returned_unlock(a, irql);
    return TRUE;
}

BOOLEAN ksa_frame_free(ksa_allocator *a, PVOID Frame)
{
    return ksa_frame_free_inline(a, Frame);
}

static VOID ksa_complete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
}

static VOID ksa_cancel_alloc(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    IoReleaseCancelSpinLock(Irp->CancelIrql);
    ksa_allocator *a = KSA_FROM_FILE(IoGetCurrentIrpStackLocation(Irp)->FileObject);
    KIRQL irql;
    KeAcquireSpinLock(&a->lock, &irql);
    RemoveEntryList(&Irp->Tail.Overlay.ListEntry);
    InitializeListHead(&Irp->Tail.Overlay.ListEntry);
    ksa_refresh_list_limit(a);
    ksa_refusal_over_locked(a);
    KeReleaseSpinLock(&a->lock, irql);
    ksa_complete(Irp, STATUS_CANCELLED, 0); /* decisions Q15 */
}

/* Takes the oldest pending IRP whose cancel routine we could clear, or NULL. Caller holds the lock. */
static PIRP ksa_dequeue_locked(ksa_allocator *a)
{
    PIRP irp = NULL;
    while (irp == NULL && !IsListEmpty(&a->pending)) {
        PIRP candidate = CONTAINING_RECORD(RemoveHeadList(&a->pending), IRP, Tail.Overlay.ListEntry);
        InitializeListHead(&candidate->Tail.Overlay.ListEntry); /* a racing cancel routine unlinks harmlessly */
        if (IoSetCancelRoutine(candidate, NULL) != NULL)
            irp = candidate;
    }
    ksa_refresh_list_limit(a);
    return irp;
}

/* Releases the frames kept for ALLOCs that no longer wait (cancelled, or served otherwise). */
static VOID ksa_release_spares(ksa_allocator *a)
{
    for (;;) {
        KIRQL irql;
        KeAcquireSpinLock(&a->lock, &irql);
        ksa_frame_record *spare = NULL;
        if (!IsListEmpty(&a->spares) && (IsListEmpty(&a->pending) || a->closed))
            spare = CONTAINING_RECORD(RemoveHeadList(&a->spares), ksa_frame_record, link);
        KeReleaseSpinLock(&a->lock, irql);
        if (spare == NULL)
            return;
        ksa_record_release(a, spare);
    }
}

/* Completes waiting ALLOCs, oldest first, while frames are free. Each is taken off the queue and
 * given its slot in one critical section, so no other request can take the slot in between. */
static VOID ksa_service_pending(ksa_allocator *a)
{
    for (;;) {
        KIRQL irql;
        KeAcquireSpinLock(&a->lock, &irql);
        if (a->closed || (a->framing.Frames != 0 && a->outstanding >= a->framing.Frames)) {
            KeReleaseSpinLock(&a->lock, irql); /* closing, or the next FREE comes back here */
            return;
        }
        PIRP irp = ksa_dequeue_locked(a);
        if (irp == NULL) {
            ksa_refusal_over_locked(a);
            KeReleaseSpinLock(&a->lock, irql);
            ksa_release_spares(a);
            return;
        }
        PVOID frame;
        NTSTATUS status = ksa_frame_take_locked(a, irql, &frame, TRUE);
        if (!NT_SUCCESS(status)) {
            ksa_complete(irp, status, 0);
            continue;
        }
        /* ALLOC is kernel-only (decisions Q8), so UserBuffer is kernel memory of >= sizeof(PVOID). */
        memcpy(irp->UserBuffer, &frame, sizeof frame);
        ksa_complete(irp, STATUS_SUCCESS, sizeof frame);
    }
}

VOID ksa_frames_rundown(ksa_allocator *a)
{
    KIRQL irql;
    KeAcquireSpinLock(&a->lock, &irql);
    a->closed = TRUE;
    ksa_refresh_list_limit(a);
    KeReleaseSpinLock(&a->lock, irql);
    /* The I/O manager cancels pending IRPs before IRP_MJ_CLOSE; anything left is completed here. */
    for (;;) {
        KeAcquireSpinLock(&a->lock, &irql);
        PIRP irp = ksa_dequeue_locked(a);
        KeReleaseSpinLock(&a->lock, irql);
        if (irp == NULL)
            break;
        ksa_complete(irp, STATUS_CANCELLED, 0);
    }
    ksa_release_spares(a);
    /* decisions Q15: outstanding frames are reclaimed. */
    for (;;) {
        KeAcquireSpinLock(&a->lock, &irql);
        ksa_frame_record *record = NULL;
        if (!IsListEmpty(&a->frames)) {
            record = CONTAINING_RECORD(RemoveHeadList(&a->frames), ksa_frame_record, link);
            a->outstanding--;
        }
        KeReleaseSpinLock(&a->lock, irql);
        if (record == NULL)
            break;
        ksa_record_release(a, record);
    }
    KeAcquireSpinLock(&a->lock, &irql);
    ksa_frame_record *kept = a->reuse;
    a->reuse = NULL;
    KeReleaseSpinLock(&a->lock, irql);
    if (kept != NULL)
        ksa_record_release(a, kept); /* before the close deletes the list */
}

/* KSSTREAMALLOCATOR_FUNCTIONTABLE.AllocateFrame (DDI nc-ks-pfnallocator_allocateframe).
 * <= DISPATCH_LEVEL; no frame free: *Frame = NULL and STATUS_INSUFFICIENT_RESOURCES (decisions Q8). */
NTSTATUS ksa_function_allocate_frame(PFILE_OBJECT FileObject, PVOID *Frame)
{
    if (FileObject == NULL || Frame == NULL)
        return STATUS_INVALID_PARAMETER;
    return ksa_frame_allocate_inline(KSA_FROM_FILE(FileObject), Frame);
}

/* KSSTREAMALLOCATOR_FUNCTIONTABLE.FreeFrame (DDI nc-ks-pfnallocator_freeframe). <= DISPATCH_LEVEL.
 * A frame this allocator did not hand out is a broken kernel contract: bugcheck (decisions). */
VOID ksa_function_free_frame(PFILE_OBJECT FileObject, PVOID Frame)
{
    ksa_allocator *a = KSA_FROM_FILE(FileObject);
    if (!ksa_frame_free_inline(a, Frame))
        KeBugCheckEx(KSA_BUGCHECK_BAD_POOL_CALLER, KSA_BUGCHECK_FOREIGN_FRAME, (ULONG_PTR)Frame, (ULONG_PTR)a, 0);
}
