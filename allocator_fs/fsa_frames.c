/* fsa_frames.c: the filter-specific allocator's own frame pool: blocks made on demand from the
 * framing's PoolType, kept on a free list for reuse until close, the Frames limit, the pending
 * ALLOC queue (served directly by the FREE that makes a frame available, or by a caller whose
 * reserved slot came free again) and the function table. */
#include "fsa.h"

/* Makes a new block (outside the lock: paged pool is only touched at PASSIVE_LEVEL). */
static fsa_block *fsa_block_make(const fsa_context *c)
{
    ULONG_PTR mask = c->framing.FileAlignment;
    fsa_block *block = ExAllocatePoolWithTag(NonPagedPool, sizeof *block, FSA_TAG_BLOCK);
    if (block == NULL)
        return NULL;
    SIZE_T size = (SIZE_T)mask + (SIZE_T)c->framing.FrameSize;
    block->storage = ExAllocatePoolWithTag((POOL_TYPE)c->framing.PoolType, size, FSA_TAG_FRAME);
    if (block->storage == NULL) {
        ExFreePoolWithTag(block, FSA_TAG_BLOCK);
        return NULL;
    }
    block->frame = (PVOID)(((ULONG_PTR)block->storage + mask) & ~mask); /* FileAlignment is 2^n-1 */
    return block;
}

static VOID fsa_work(PDEVICE_OBJECT DeviceObject, PVOID Context);

/* TRUE when the caller is to queue the work item (lock held), which is then marked queued. */
static BOOLEAN fsa_work_claim_locked(fsa_context *c)
{
    if (c->work_queued)
        return FALSE;
    c->work_queued = TRUE;
    return TRUE;
}

/* Queues the work item that fsa_work_claim_locked claimed, with a reference to the file object so
 * IRP_MJ_CLOSE waits for it. Our caller holds a reference too (a handle, or the function table's
 * client), so the object cannot be closed before this one is taken. */
static VOID fsa_work_queue(fsa_context *c)
{
    ObReferenceObject(c->file);
    IoQueueWorkItem(c->work_item, fsa_work, DelayedWorkQueue, c);
}

static VOID fsa_complete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
}

/* Completes an ALLOC with its frame. PASSIVE_LEVEL: ALLOC is kernel-only and METHOD_NEITHER, so
 * UserBuffer is the kernel caller's own buffer of at least sizeof(PVOID), which may be pageable. */
static VOID fsa_complete_alloc(PIRP Irp, PVOID Frame)
{
    memcpy(Irp->UserBuffer, &Frame, sizeof Frame);
    fsa_complete(Irp, STATUS_SUCCESS, sizeof Frame);
}

/* A free slot now (lock held): open and under the Frames limit. */
static BOOLEAN fsa_slot_free_locked(const fsa_context *c)
{
    return (BOOLEAN)(!c->closing && (c->framing.Frames == 0 || c->allocated < c->framing.Frames));
}

/* A new request waits (lock held): no free slot, or ALLOCs already waiting, which come first (a
 * slot a failed reservation gave up is theirs; the failing caller is about to serve them). */
static BOOLEAN fsa_must_wait_locked(const fsa_context *c)
{
    return (BOOLEAN)(!fsa_slot_free_locked(c) || !IsListEmpty(&c->pending));
}

/* Signals FREEFRAME: a slot came free. Lock held. */
static VOID fsa_signal_freeframe_locked(fsa_context *c)
{
    c->refused = FALSE;
    for (PLIST_ENTRY e = c->events.Flink; e != &c->events; e = e->Flink)
        KsGenerateEvent(CONTAINING_RECORD(e, KSEVENT_ENTRY, ListEntry));
}

/* A request refused since the last FREEFRAME learns only from FREEFRAME that it may try again: when
 * what refused it goes without a frame coming back (a failed reservation gave its slot up, or the
 * ALLOCs ahead of it were cancelled or served with a slot left), signal it now. Lock held. */
static VOID fsa_refusal_over_locked(fsa_context *c)
{
    if (c->refused && !fsa_must_wait_locked(c))
        fsa_signal_freeframe_locked(c);
}

/* Takes the oldest pending ALLOC whose cancel routine could still be cleared. Lock held. */
static PIRP fsa_next_pending_locked(fsa_context *c)
{
    while (!IsListEmpty(&c->pending)) {
        PIRP irp = CONTAINING_RECORD(RemoveHeadList(&c->pending), IRP, Tail.Overlay.ListEntry);
        InitializeListHead(&irp->Tail.Overlay.ListEntry); /* a racing cancel routine unlinks harmlessly */
        if (IoSetCancelRoutine(irp, NULL) != NULL)
            return irp;
    }
    return NULL;
}

/* A block for a reserved slot: the lock is held at `irql` and `allocated` already counts the slot,
 * so concurrent callers cannot pass the limit while a block is made (outside the lock: paged pool is
 * only touched at PASSIVE_LEVEL). Drops the lock. NULL when the pool refused: the slot is free again. */
static fsa_block *fsa_block_for_reserved(fsa_context *c, KIRQL irql)
{
    fsa_block *block = NULL;
    if (!IsListEmpty(&c->free_pool))
        block = CONTAINING_RECORD(RemoveHeadList(&c->free_pool), fsa_block, link);
    KeReleaseSpinLock(&c->lock, irql);
    if (block == NULL)
        block = fsa_block_make(c);
    KeAcquireSpinLock(&c->lock, &irql);
    if (block != NULL) {
        InsertTailList(&c->outstanding, &block->link);
    } else {
        c->allocated--;
        fsa_refusal_over_locked(c);
    }
    KeReleaseSpinLock(&c->lock, irql);
    return block;
}

/* Waiting ALLOCs, oldest first, while slots are free. Each is taken off the queue and given its
 * slot in one critical section; one whose block the pool refuses completes with
 * STATUS_INSUFFICIENT_RESOURCES, as an ALLOC that found a slot free would (the default allocator
 * serves its waiters the same way). */
static VOID fsa_serve_waiters(fsa_context *c)
{
    for (;;) {
        KIRQL irql;
        KeAcquireSpinLock(&c->lock, &irql);
        PIRP irp = fsa_slot_free_locked(c) ? fsa_next_pending_locked(c) : NULL;
        if (irp == NULL) {
            fsa_refusal_over_locked(c);
            KeReleaseSpinLock(&c->lock, irql);
            return;
        }
        c->allocated++;
        fsa_block *block = fsa_block_for_reserved(c, irql);
        if (block == NULL) {
            fsa_complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
            continue;
        }
        fsa_complete_alloc(irp, block->frame);
    }
}

NTSTATUS fsa_frame_for_reserved(fsa_context *c, KIRQL irql, PVOID *Frame)
{
    fsa_block *block = fsa_block_for_reserved(c, irql);
    if (block == NULL) {
        /* An ALLOC that found the slot reserved queued meanwhile, and no FREE will come for it: served
         * now at PASSIVE_LEVEL, else by the work item (fsa_complete_alloc). */
        if (irql == PASSIVE_LEVEL) {
            fsa_serve_waiters(c);
        } else {
            KeAcquireSpinLock(&c->lock, &irql);
            BOOLEAN queue = !IsListEmpty(&c->pending) && !c->closing && fsa_work_claim_locked(c);
            KeReleaseSpinLock(&c->lock, irql);
            if (queue)
                fsa_work_queue(c);
        }
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    *Frame = block->frame;
    return STATUS_SUCCESS;
}

NTSTATUS fsa_frame_get(fsa_context *c, PVOID *Frame, BOOLEAN *AtLimit)
{
    KIRQL irql;
    *Frame = NULL;
    *AtLimit = FALSE;
    KeAcquireSpinLock(&c->lock, &irql);
    if (fsa_must_wait_locked(c)) {
        *AtLimit = (BOOLEAN)!c->closing;
        if (*AtLimit)
            c->refused = TRUE;
        KeReleaseSpinLock(&c->lock, irql);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    c->allocated++; /* reserved */
    return fsa_frame_for_reserved(c, irql, Frame);
}

BOOLEAN fsa_frame_put(fsa_context *c, PVOID Frame)
{
    KIRQL irql;
    fsa_block *found = NULL;
    KeAcquireSpinLock(&c->lock, &irql);
    for (PLIST_ENTRY e = c->outstanding.Blink; e != &c->outstanding; e = e->Blink) {
        fsa_block *block = CONTAINING_RECORD(e, fsa_block, link);
        if (block->frame == Frame) {
            found = block;
            break;
        }
    }
    if (found == NULL) {
        KeReleaseSpinLock(&c->lock, irql);
        return FALSE;
    }
    RemoveEntryList(&found->link);
    /* A waiting ALLOC takes the returned frame at once, at any IRQL: no pool call is needed
     * (filter-specific-allocators, facts §5.2 step 2). Above PASSIVE_LEVEL the work item completes
     * it (fsa_complete_alloc). */
    PIRP waiting = c->closing ? NULL : fsa_next_pending_locked(c);
    BOOLEAN queue = FALSE;
    if (waiting == NULL) {
        InsertHeadList(&c->free_pool, &found->link);
        c->allocated--;
    } else if (irql == PASSIVE_LEVEL) {
        InsertTailList(&c->outstanding, &found->link);
    } else {
        found->waiter = waiting;
        InsertTailList(&c->handing, &found->link);
        queue = fsa_work_claim_locked(c);
        waiting = NULL;
    }
    fsa_signal_freeframe_locked(c);
    KeReleaseSpinLock(&c->lock, irql);
    if (queue)
        fsa_work_queue(c);
    if (waiting != NULL)
        fsa_complete_alloc(waiting, found->frame);
    return TRUE;
}

/* The work item, at PASSIVE_LEVEL: completes the ALLOCs handed a frame above it, then serves
 * waiters a failed reservation left behind above it. */
static VOID fsa_work(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    fsa_context *c = Context;
    PFILE_OBJECT file = c->file;
    UNREFERENCED_PARAMETER(DeviceObject);
    for (;;) {
        KIRQL irql;
        KeAcquireSpinLock(&c->lock, &irql);
        fsa_block *block = NULL;
        if (!IsListEmpty(&c->handing)) {
            block = CONTAINING_RECORD(RemoveHeadList(&c->handing), fsa_block, link);
            InsertTailList(&c->outstanding, &block->link);
        } else {
            c->work_queued = FALSE;
        }
        KeReleaseSpinLock(&c->lock, irql);
        if (block == NULL)
            break;
        fsa_complete_alloc(block->waiter, block->frame);
    }
    fsa_serve_waiters(c);
    ObDereferenceObject(file); /* the last reference sends IRP_MJ_CLOSE, which frees `c` */
}

static VOID fsa_cancel_alloc(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    IoReleaseCancelSpinLock(Irp->CancelIrql);
    fsa_context *c = FSA_FROM_FILE(IoGetCurrentIrpStackLocation(Irp)->FileObject);
    KIRQL irql;
    KeAcquireSpinLock(&c->lock, &irql);
    RemoveEntryList(&Irp->Tail.Overlay.ListEntry);
    InitializeListHead(&Irp->Tail.Overlay.ListEntry);
    fsa_refusal_over_locked(c);
    KeReleaseSpinLock(&c->lock, irql);
    fsa_complete(Irp, STATUS_CANCELLED, 0);
}

fsa_pend_result fsa_pend_alloc(fsa_context *c, PIRP Irp)
{
    KIRQL irql;
    KeAcquireSpinLock(&c->lock, &irql);
    /* fsa_frame_get's look again, under the lock that FREE takes: a frame returned since then found
     * no waiter, and this ALLOC would wait with a frame free. */
    if (c->closing || !fsa_must_wait_locked(c)) {
        KeReleaseSpinLock(&c->lock, irql);
        return FSA_RETRY;
    }
    IoMarkIrpPending(Irp); /* "requests beyond the maximum number of frames are marked pending" */
    IoSetCancelRoutine(Irp, fsa_cancel_alloc);
    if (Irp->Cancel && IoSetCancelRoutine(Irp, NULL) != NULL) {
        KeReleaseSpinLock(&c->lock, irql);
        return FSA_CANCELLED; /* cancelled before it was queued: the caller completes it */
    }
    InsertTailList(&c->pending, &Irp->Tail.Overlay.ListEntry);
    KeReleaseSpinLock(&c->lock, irql);
    return FSA_QUEUED;
}

/* Frees every block of a list; the caller owns the list (closing is set, nothing else uses it). */
static VOID fsa_free_blocks(PLIST_ENTRY list)
{
    while (!IsListEmpty(list)) {
        fsa_block *block = CONTAINING_RECORD(RemoveHeadList(list), fsa_block, link);
        ExFreePoolWithTag(block->storage, FSA_TAG_FRAME);
        ExFreePoolWithTag(block, FSA_TAG_BLOCK);
    }
}

VOID fsa_frames_close(fsa_context *c)
{
    KIRQL irql;
    KeAcquireSpinLock(&c->lock, &irql);
    c->closing = TRUE;
    KeReleaseSpinLock(&c->lock, irql);
    for (;;) { /* the I/O manager cancelled pending IRPs after cleanup; anything left goes now */
        KeAcquireSpinLock(&c->lock, &irql);
        PIRP irp = fsa_next_pending_locked(c);
        KeReleaseSpinLock(&c->lock, irql);
        if (irp == NULL)
            break;
        fsa_complete(irp, STATUS_CANCELLED, 0);
    }
    /* Outstanding frames are reclaimed with the pool: a client's pointers die with the handle. */
    fsa_free_blocks(&c->outstanding);
    fsa_free_blocks(&c->free_pool);
    c->allocated = 0;
}

/* KSSTREAMALLOCATOR_FUNCTIONTABLE.AllocateFrame: <= DISPATCH_LEVEL, offered for nonpaged pools only. */
NTSTATUS fsa_table_allocate(PFILE_OBJECT FileObject, PVOID *Frame)
{
    BOOLEAN at_limit;
    if (FileObject == NULL || Frame == NULL)
        return STATUS_INVALID_PARAMETER;
    return fsa_frame_get(FSA_FROM_FILE(FileObject), Frame, &at_limit);
}

/* KSSTREAMALLOCATOR_FUNCTIONTABLE.FreeFrame: a frame this allocator did not hand out is ignored
 * (a deliberate difference from the default allocator's bugcheck: docs/filter-specific-allocator.md). */
VOID fsa_table_free(PFILE_OBJECT FileObject, PVOID Frame)
{
    if (FileObject != NULL)
        (VOID)fsa_frame_put(FSA_FROM_FILE(FileObject), Frame);
}
