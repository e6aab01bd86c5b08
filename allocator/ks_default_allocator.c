/* ks_default_allocator.c: KsCreateDefaultAllocator and KsCreateDefaultAllocatorEx: bind an
 * allocator create request's file object to a default allocator object, and its close. */
#include "ksa_internal.h"

static NTSTATUS ksa_dispatch_close(PDEVICE_OBJECT DeviceObject, PIRP Irp);

static const KSDISPATCH_TABLE ksa_dispatch_table = {
    ksa_dispatch_device_control,
    KsDispatchInvalidDeviceRequest, /* Read */
    KsDispatchInvalidDeviceRequest, /* Write */
    KsDispatchInvalidDeviceRequest, /* Flush */
    ksa_dispatch_close,
    KsDispatchInvalidDeviceRequest, /* QuerySecurity: security is not modelled (decisions Q20) */
    KsDispatchInvalidDeviceRequest, /* SetSecurity */
    KsDispatchFastIoDeviceControlFailure,
    KsDispatchFastReadFailure,
    KsDispatchFastWriteFailure,
};

/* decisions (callbacks): "external allocator supplied" means DefaultAllocate != NULL. */
static BOOLEAN ksa_callbacks_valid(PVOID InitializeContext, PFNKSDEFAULTALLOCATE DefaultAllocate,
                                   PFNKSDEFAULTFREE DefaultFree, PFNKSINITIALIZEALLOCATOR InitializeAllocator,
                                   PFNKSDELETEALLOCATOR DeleteAllocator)
{
    if (DefaultAllocate == NULL)
        return (BOOLEAN)(InitializeContext == NULL && DefaultFree == NULL && InitializeAllocator == NULL &&
                         DeleteAllocator == NULL);
    return (BOOLEAN)(DefaultFree != NULL);
}

/* KsCreateDefaultAllocatorEx (DDI nf-ks-kscreatedefaultallocatorex). Validates the create request
 * itself (KsValidateAllocatorCreateRequest), creates the allocator object with its object header
 * and dispatch table, and sets FileObject->FsContext to it. Neither completes the IRP nor sets
 * IoStatus. Callback rules and failure statuses: docs/decisions.md "Default allocator callbacks".
 * Frames come from a lookaside list of FrameSize + FileAlignment bytes (plus a tracking record,
 * which a paged frame keeps apart in nonpaged pool) in PoolType (a NonPagedPoolNx list is not
 * marked no-execute: decisions Q6), or from DefaultAllocate.
 * Not modelled: OPTIONF_SYSTEM_MEMORY off (on-board memory mapped by the sink, decisions Q6), security
 * queries through the create item. PASSIVE_LEVEL (decisions Q17). */
NTSTATUS NTAPI KsCreateDefaultAllocatorEx(PIRP Irp, PVOID InitializeContext, PFNKSDEFAULTALLOCATE DefaultAllocate,
                                          PFNKSDEFAULTFREE DefaultFree, PFNKSINITIALIZEALLOCATOR InitializeAllocator,
                                          PFNKSDELETEALLOCATOR DeleteAllocator)
{
    PAGED_CODE();
    if (Irp == NULL ||
        !ksa_callbacks_valid(InitializeContext, DefaultAllocate, DefaultFree, InitializeAllocator, DeleteAllocator))
        return STATUS_INVALID_PARAMETER;
    PKSALLOCATOR_FRAMING framing;
    NTSTATUS status = KsValidateAllocatorCreateRequest(Irp, &framing);
    if (!NT_SUCCESS(status))
        return status; /* including an IRP with no stack location or no file object */
    PFILE_OBJECT file = IoGetCurrentIrpStackLocation(Irp)->FileObject;

    ksa_allocator *a = ExAllocatePoolWithTag(NonPagedPool, sizeof *a, KSA_TAG_OBJECT);
    if (a == NULL) {
        status = STATUS_INSUFFICIENT_RESOURCES;
        goto free_framing;
    }
    memset(a, 0, sizeof *a);
    a->framing = *framing;
    a->create_item = KSCREATE_ITEM_IRP_STORAGE(Irp);
    a->file_object = file;
    KeInitializeSpinLock(&a->lock);
    InitializeListHead(&a->frames);
    InitializeListHead(&a->pending);
    InitializeListHead(&a->spares);
    InitializeListHead(&a->events);
    a->paged = (BOOLEAN)(a->framing.PoolType == PagedPool);
    a->external_allocate = DefaultAllocate;
    a->external_free = DefaultFree;

    a->work_item = IoAllocateWorkItem(file->DeviceObject);
    if (a->work_item == NULL) {
        status = STATUS_INSUFFICIENT_RESOURCES;
        goto free_object;
    }
    if (InitializeAllocator != NULL) {
        /* The framing handed over lives as long as the allocator (PFNKSPININITIALIZEALLOCATOR remark). */
        status = InitializeAllocator(InitializeContext, &a->framing, &a->context);
        if (!NT_SUCCESS(status))
            goto free_work_item;
    }
    a->external_delete = DeleteAllocator;
    if (DefaultAllocate == NULL) {
        a->block_size = sizeof(ksa_frame_record) + (SIZE_T)a->framing.FileAlignment + (SIZE_T)a->framing.FrameSize;
        if (a->paged)
            ExInitializePagedLookasideList(&a->lookaside.paged, NULL, NULL, 0, a->block_size, KSA_TAG_FRAME, 0);
        else
            ExInitializeNPagedLookasideList(&a->lookaside.nonpaged, NULL, NULL, 0, a->block_size, KSA_TAG_FRAME, 0);
        a->lookaside_live = TRUE;
        a->list_frames = (BOOLEAN)!a->paged;
        /* The framing is ours alone here (only an external InitializeAllocator may keep its address). */
        a->list_limit = ksa_list_limit(a);
    }
    status = KsAllocateObjectHeader(&a->header, 0, NULL, Irp, &ksa_dispatch_table);
    if (!NT_SUCCESS(status))
        goto delete_lookaside;
    file->FsContext = a;
    ExFreePoolWithTag(framing, KSA_TAG_FRAMING);
    return STATUS_SUCCESS;

delete_lookaside:
    if (a->lookaside_live) {
        if (a->paged)
            ExDeletePagedLookasideList(&a->lookaside.paged);
        else
            ExDeleteNPagedLookasideList(&a->lookaside.nonpaged);
    }
    if (a->external_delete != NULL)
        a->external_delete(a->context);
free_work_item:
    IoFreeWorkItem(a->work_item);
free_object:
    ExFreePoolWithTag(a, KSA_TAG_OBJECT);
free_framing:
    ExFreePoolWithTag(framing, KSA_TAG_FRAMING);
    return status;
}

/* KsCreateDefaultAllocator (DDI nf-ks-kscreatedefaultallocator): the Ex form without callbacks. */
NTSTATUS NTAPI KsCreateDefaultAllocator(PIRP Irp)
{
    return KsCreateDefaultAllocatorEx(Irp, NULL, NULL, NULL, NULL, NULL);
}

/* IRP_MJ_CLOSE: decisions Q15. A queued work item holds a reference to the file object, so none is
 * queued or running now. */
static NTSTATUS ksa_dispatch_close(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PAGED_CODE();
    PFILE_OBJECT file = IoGetCurrentIrpStackLocation(Irp)->FileObject;
    ksa_allocator *a = KSA_FROM_FILE(file);
    ksa_frames_rundown(a);
    KsFreeEventList(file, &a->events, KSEVENTS_SPINLOCK, &a->lock);
    if (a->lookaside_live) {
        if (a->paged)
            ExDeletePagedLookasideList(&a->lookaside.paged);
        else
            ExDeleteNPagedLookasideList(&a->lookaside.nonpaged);
        a->lookaside_live = FALSE;
    }
    if (a->external_delete != NULL)
        a->external_delete(a->context);
    KsFreeObjectHeader(a->header);
    file->FsContext = NULL;
    IoFreeWorkItem(a->work_item);
    ExFreePoolWithTag(a, KSA_TAG_OBJECT);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}
