/* fsa_create.c: the allocator create item of a pin that implements its own allocator
 * (filter-specific-allocators, facts §1.4): validate the request, refuse what it cannot serve, put
 * its own context (KS object header first) in FsContext; and the allocator's close. */
#include "fsa.h"

static DRIVER_DISPATCH fsa_close;

static const KSDISPATCH_TABLE fsa_dispatch = {
    fsa_device_control,
    KsDispatchInvalidDeviceRequest, /* Read */
    KsDispatchInvalidDeviceRequest, /* Write */
    KsDispatchInvalidDeviceRequest, /* Flush */
    fsa_close,
    KsDispatchInvalidDeviceRequest, /* QuerySecurity */
    KsDispatchInvalidDeviceRequest, /* SetSecurity */
    KsDispatchFastIoDeviceControlFailure,
    KsDispatchFastReadFailure,
    KsDispatchFastWriteFailure,
};

#ifdef ALLOC_PRAGMA /* as in WDK samples; the harness's prelude makes the pragma harmless */
#pragma alloc_text(PAGE, FsaCreateAllocator)
#endif

static NTSTATUS fsa_complete_create(PIRP Irp, NTSTATUS Status)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

/* The pin's KSCREATE_ITEM for KSSTRING_Allocator. PASSIVE_LEVEL. */
_Use_decl_annotations_ NTSTATUS FsaCreateAllocator(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PFILE_OBJECT file = IoGetCurrentIrpStackLocation(Irp)->FileObject;
    PKSALLOCATOR_FRAMING framing = NULL;
    PAGED_CODE();
    NTSTATUS status = KsValidateAllocatorCreateRequest(Irp, &framing);
    if (!NT_SUCCESS(status))
        return fsa_complete_create(Irp, status);

    fsa_context *c = ExAllocatePoolWithTag(NonPagedPool, sizeof *c, FSA_TAG_CONTEXT);
    if (c == NULL) {
        ExFreePool(framing); /* the caller owns the validated copy */
        return fsa_complete_create(Irp, STATUS_INSUFFICIENT_RESOURCES);
    }
    RtlZeroMemory(c, sizeof *c);
    c->framing = *framing;
    ExFreePool(framing);
    KeInitializeSpinLock(&c->lock);
    InitializeListHead(&c->outstanding);
    InitializeListHead(&c->free_pool);
    InitializeListHead(&c->pending);
    InitializeListHead(&c->events);
    InitializeListHead(&c->handing);
    c->file = file;
    c->work_item = IoAllocateWorkItem(DeviceObject);
    if (c->work_item == NULL) {
        ExFreePoolWithTag(c, FSA_TAG_CONTEXT);
        return fsa_complete_create(Irp, STATUS_INSUFFICIENT_RESOURCES);
    }
    __try {
        status = KsAllocateObjectHeader(&c->header, 0, NULL, Irp, &fsa_dispatch);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        status = STATUS_INSUFFICIENT_RESOURCES; /* no SEH in the harness: never reached there */
    }
    if (!NT_SUCCESS(status)) {
        IoFreeWorkItem(c->work_item);
        ExFreePoolWithTag(c, FSA_TAG_CONTEXT);
        return fsa_complete_create(Irp, status);
    }
    file->FsContext = c;
    return fsa_complete_create(Irp, STATUS_SUCCESS);
}

/* IRP_MJ_CLOSE: the pool (free and outstanding frames) goes, events are disabled, then the context. */
static NTSTATUS fsa_close(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PFILE_OBJECT file = IoGetCurrentIrpStackLocation(Irp)->FileObject;
    fsa_context *c = FSA_FROM_FILE(file);
    PAGED_CODE();
    fsa_frames_close(c);
    KsFreeEventList(file, &c->events, KSEVENTS_SPINLOCK, &c->lock);
    KsFreeObjectHeader(c->header);
    IoFreeWorkItem(c->work_item); /* not queued: a queued one holds a reference to the file object */
    file->FsContext = NULL;
    ExFreePoolWithTag(c, FSA_TAG_CONTEXT);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}
