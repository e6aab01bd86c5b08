/* fsa.h: private to allocator_fs/, the filter-specific allocator of the test filter's pin: its
 * context (FsContext, KS object header first), pool tags and the routines its files share. */
#ifndef FSA_H
#define FSA_H

#include <ntddk.h>
#include <ks.h>

#define FSA_TAG_CONTEXT 0x43617346u /* "FsaC": the allocator context */
#define FSA_TAG_FRAME   0x46617346u /* "FsaF": frame storage, from the framing's PoolType */
#define FSA_TAG_BLOCK   0x42617346u /* "FsaB": the nonpaged header of each frame */

/* One frame: its list link, its storage and where the frame starts in it. The header is nonpaged
 * whatever the PoolType, since the lists are linked and searched under the spin lock, at
 * DISPATCH_LEVEL, where paged pool must not be touched. A block is on exactly one list: the
 * allocator's free pool, its outstanding list or its handing list. */
typedef struct fsa_block {
    LIST_ENTRY link;
    PVOID storage;
    PVOID frame;
    PIRP waiter; /* on the handing list: the ALLOC this frame goes to */
} fsa_block;

typedef struct fsa_context {
    KSOBJECT_HEADER header;      /* first field: KsDispatchIrp finds the dispatch table here */
    KSALLOCATOR_FRAMING framing; /* the validated request, copied out of the caller's pool copy */
    KSPIN_LOCK lock;             /* guards the lists and counters below */
    LIST_ENTRY outstanding;      /* fsa_block of frames handed out */
    LIST_ENTRY free_pool;        /* fsa_block kept for reuse until close */
    LIST_ENTRY pending;          /* ALLOC IRPs waiting for a frame (Tail.Overlay.ListEntry) */
    LIST_ENTRY events;           /* FREEFRAME KSEVENT_ENTRYs */
    LIST_ENTRY handing;          /* fsa_block freed above PASSIVE_LEVEL to a waiting ALLOC, which the
                                  * work item completes (its output may be pageable) */
    ULONG allocated;             /* frames outstanding, and slots reserved while a block is made */
    PFILE_OBJECT file;           /* this allocator's file object */
    PIO_WORKITEM work_item;      /* completes ALLOCs at PASSIVE_LEVEL; holds a reference to `file` */
    BOOLEAN work_queued;
    BOOLEAN closing;
    BOOLEAN refused;             /* a request was refused since FREEFRAME was last signalled:
                                  * fsa_refusal_over_locked signals it once nothing would */
} fsa_context;

#define FSA_FROM_FILE(FileObject) ((fsa_context *)(FileObject)->FsContext)

/* fsa_frames.c */
/* One frame; *AtLimit is TRUE when the Frames limit, or ALLOCs waiting before it (not the pool),
 * stopped it. */
NTSTATUS fsa_frame_get(fsa_context *Context, PVOID *Frame, BOOLEAN *AtLimit);
/* fsa_frame_get's second half: a frame for the slot the caller reserved (lock held at Irql,
 * `allocated` counting the slot; drops the lock). When the pool refuses, the slot is free again and
 * ALLOCs that queued meanwhile are served (above PASSIVE_LEVEL by the work item); a request refused
 * meanwhile is told by FREEFRAME once nothing would refuse it. Declared for tests/test_fsa_internals.c. */
NTSTATUS fsa_frame_for_reserved(fsa_context *Context, KIRQL Irql, PVOID *Frame);
/* Takes a frame back into the pool; FALSE if this allocator did not hand it out. */
BOOLEAN fsa_frame_put(fsa_context *Context, PVOID Frame);
/* An ALLOC that found the Frames limit: FSA_QUEUED (marked pending, with a cancel routine),
 * FSA_CANCELLED (cancelled first; marked pending, the caller completes it) or FSA_RETRY (a frame came
 * back meanwhile and no ALLOC waits before it; nothing done, try fsa_frame_get again). */
typedef enum { FSA_QUEUED, FSA_CANCELLED, FSA_RETRY } fsa_pend_result;
fsa_pend_result fsa_pend_alloc(fsa_context *Context, PIRP Irp);
/* Close: cancels what is queued and returns every block to the pool. PASSIVE_LEVEL. */
VOID fsa_frames_close(fsa_context *Context);
NTSTATUS fsa_table_allocate(PFILE_OBJECT FileObject, PVOID *Frame);
VOID fsa_table_free(PFILE_OBJECT FileObject, PVOID Frame);

/* fsa_ioctl.c */
NTSTATUS fsa_device_control(PDEVICE_OBJECT DeviceObject, PIRP Irp);

/* fsa_create.c: the pin's allocator create-item handler (DRIVER_DISPATCH; completes the IRP). */
DRIVER_DISPATCH FsaCreateAllocator;

#endif /* FSA_H */
