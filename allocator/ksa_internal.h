/* ksa_internal.h: private to allocator/: helpers shared between the allocator's files, the pool
 * tags it uses and the allocator object's layout. Includes only WDK headers. */
#ifndef KSA_INTERNAL_H
#define KSA_INTERNAL_H

#include <ntddk.h>
#include <ks.h>

/* Pool tags (bytes in memory order; decisions Q3 documents KSA_TAG_FRAMING for callers). */
#define KSA_TAG_FRAMING 0x4361734Bu   /* "KsaC": framing copy returned by KsValidateAllocatorCreateRequest */
#define KSA_TAG_OBJECT  0x4F61734Bu   /* "KsaO": the allocator object */
#define KSA_TAG_FRAME   0x4661734Bu   /* "KsaF": frame blocks (lookaside entries) */
#define KSA_TAG_RECORD  0x5261734Bu   /* "KsaR": tracking records of paged and externally allocated frames */
#define KSA_TAG_NAME    0x4E61734Bu   /* "KsaN": the create name KsCreateAllocator builds */

/* Bytes in the allocator create name: class text (38 WCHARs), one '\', the raw framing. */
#define KSA_CLASS_CHARS 38u
#define KSA_NAME_BYTES ((KSA_CLASS_CHARS + 1u) * sizeof(WCHAR) + sizeof(KSALLOCATOR_FRAMING))

/* Every documented OPTIONF_ and REQUIREMENTF_ bit (decisions Q1). */
#define KSA_FRAMING_FLAGS_VALID 0x8000001Fu

/* Parses FileName of an allocator create request (decisions Q2, Q18) and validates the framing
 * (Q1, Q6). Reads only FileName.Length bytes and copies the framing out with memcpy. */
NTSTATUS ksa_parse_create_name(const UNICODE_STRING *FileName, KSALLOCATOR_FRAMING *Framing);
/* Field rules of KSALLOCATOR_FRAMING alone (decisions Q1, Q6). */
NTSTATUS ksa_validate_framing(const KSALLOCATOR_FRAMING *Framing);
/* TRUE when Mask is 2^n-1 and at most PAGE_SIZE-1 (CVE-2024-38245; decisions Q6). */
BOOLEAN ksa_alignment_mask_valid(ULONG Mask);
/* Fills Name (caller buffer of KSA_NAME_BYTES) with KSSTRING_Allocator + '\' + framing. */
VOID ksa_build_create_name(PWCHAR Name, const KSALLOCATOR_FRAMING *Framing);

/* ---- The default allocator object (FsContext of an allocator file object) ------------------- */

/* One outstanding frame. Nonpaged list frames keep it at the start of their lookaside block; paged
 * frames and frames from an external DefaultAllocate get a separate nonpaged KSA_TAG_RECORD
 * allocation, since records are linked and searched under the spin lock. */
typedef struct ksa_frame_record {
    LIST_ENTRY link;
    PVOID frame;
    PVOID block; /* a paged frame's lookaside block; NULL otherwise */
} ksa_frame_record;

typedef struct ksa_allocator {
    KSOBJECT_HEADER header;            /* first field: KsDispatchIrp finds it here (decisions Q5) */
    PKSOBJECT_CREATE_ITEM create_item; /* KSCREATE_ITEM_IRP_STORAGE at create (Ex remark, Q5) */
    PFILE_OBJECT file_object;
    KSALLOCATOR_FRAMING framing;       /* validated copy; InitializeAllocator may keep its address */
    KSPIN_LOCK lock;                   /* guards every field below */
    ULONG outstanding;                 /* frames handed out (and reserved) now: AllocatedFrames (Q10) */
    LIST_ENTRY frames;                 /* ksa_frame_record of outstanding frames */
    LIST_ENTRY pending;                /* ALLOC IRPs waiting for a frame (Tail.Overlay.ListEntry) */
    LIST_ENTRY spares;                 /* frames freed while ALLOCs waited, kept for them (paged/external) */
    LIST_ENTRY events;                 /* FREEFRAME KSEVENT_ENTRYs */
    BOOLEAN paged;                     /* PoolType is PagedPool: no function table (Q17) */
    BOOLEAN list_frames;               /* frames from the nonpaged lookaside list (not paged, not external) */
    BOOLEAN closed;
    BOOLEAN work_queued;               /* the work item is queued; it holds a reference to file_object */
    BOOLEAN refused;                   /* a request was refused since FREEFRAME was last signalled:
                                        * ksa_refusal_over_locked signals it once nothing would (Q9) */
    ULONG list_limit;                  /* ksa_list_limit(): outstanding < list_limit lets AllocateFrame take
                                        * the one-section path */
    SIZE_T block_size;                 /* lookaside entry size: record + alignment slack + frame (a paged
                                        * block's record space goes unused: its record is nonpaged) */
    ksa_frame_record *reuse;           /* list_frames: the block of the frame freed last, or NULL. The next
                                        * list frame is taken from here before the lookaside list, so a
                                        * round trip takes the spin lock only (issue 3, README) */
    union {
        NPAGED_LOOKASIDE_LIST nonpaged;
        PAGED_LOOKASIDE_LIST paged;
    } lookaside;
    BOOLEAN lookaside_live;
    PIO_WORKITEM work_item;
    PVOID context;                     /* InitializeAllocator's result, or NULL */
    PFNKSDEFAULTALLOCATE external_allocate;
    PFNKSDEFAULTFREE external_free;
    PFNKSDELETEALLOCATOR external_delete;
} ksa_allocator;

#define KSA_FROM_FILE(FileObject) ((ksa_allocator *)(FileObject)->FsContext)

/* Frames from the nonpaged list, open and no ALLOC waiting: Frames, or MAXULONG for no limit; else
 * 0, so every allocation takes the path that checks the rest. Caller holds the lock. */
static inline ULONG ksa_list_limit(const ksa_allocator *a)
{
    if (!a->list_frames || a->closed || !IsListEmpty(&a->pending))
        return 0;
    return a->framing.Frames != 0 ? a->framing.Frames : MAXULONG;
}

/* ksa_frames.c */
/* ALLOC: hands out one frame, or queues Irp (marked pending, cancellable) when it must wait for
 * one: STATUS_PENDING, or STATUS_CANCELLED when it was cancelled already and the caller completes
 * it (decisions Q8). */
NTSTATUS ksa_frame_allocate_or_queue(ksa_allocator *Allocator, PIRP Irp, PVOID *Frame);
/* Takes back a frame; FALSE when this allocator has not handed it out. */
BOOLEAN ksa_frame_free(ksa_allocator *Allocator, PVOID Frame);
/* Close: completes what is still queued, frees every outstanding frame. PASSIVE_LEVEL. */
VOID ksa_frames_rundown(ksa_allocator *Allocator);
NTSTATUS ksa_function_allocate_frame(PFILE_OBJECT FileObject, PVOID *Frame);
VOID ksa_function_free_frame(PFILE_OBJECT FileObject, PVOID Frame);

/* ksa_automation.c: the allocator's property, method and event sets and the IOCTL dispatcher. */
NTSTATUS ksa_dispatch_device_control(PDEVICE_OBJECT DeviceObject, PIRP Irp);

#endif /* KSA_INTERNAL_H */
