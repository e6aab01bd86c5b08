/* fsa_ioctl.c: the filter-specific allocator serves its own IOCTLs: KSPROPSETID_StreamAllocator
 * (STATUS; FUNCTIONTABLE for nonpaged pools), KSMETHODSETID_StreamAllocator (ALLOC, FREE; "all
 * allocators must support" it) and the FREEFRAME event, with the KS automation handlers. */
#include "fsa.h"

static NTSTATUS fsa_get_status(PIRP Irp, PKSIDENTIFIER Request, PVOID Data)
{
    fsa_context *c = FSA_FROM_FILE(IoGetCurrentIrpStackLocation(Irp)->FileObject);
    KSSTREAMALLOCATOR_STATUS status;
    KIRQL irql;
    RtlZeroMemory(&status, sizeof status);
    KeAcquireSpinLock(&c->lock, &irql);
    status.Framing = c->framing;
    status.AllocatedFrames = c->allocated;
    KeReleaseSpinLock(&c->lock, irql);
    RtlCopyMemory(Data, &status, sizeof status);
    Irp->IoStatus.Information = sizeof status;
    return STATUS_SUCCESS;
}

static NTSTATUS fsa_get_function_table(PIRP Irp, PKSIDENTIFIER Request, PVOID Data)
{
    fsa_context *c = FSA_FROM_FILE(IoGetCurrentIrpStackLocation(Irp)->FileObject);
    if (Irp->RequestorMode != KernelMode)
        return STATUS_INVALID_DEVICE_REQUEST; /* the table holds kernel function pointers */
    if (c->framing.PoolType == PagedPool)
        return STATUS_NOT_SUPPORTED; /* AllocateFrame must work at DISPATCH_LEVEL */
    KSSTREAMALLOCATOR_FUNCTIONTABLE table = { fsa_table_allocate, fsa_table_free };
    RtlCopyMemory(Data, &table, sizeof table);
    Irp->IoStatus.Information = sizeof table;
    return STATUS_SUCCESS;
}

static NTSTATUS fsa_alloc(PIRP Irp, PKSIDENTIFIER Request, PVOID Data)
{
    fsa_context *c = FSA_FROM_FILE(IoGetCurrentIrpStackLocation(Irp)->FileObject);
    if (Irp->RequestorMode != KernelMode)
        return STATUS_INVALID_DEVICE_REQUEST; /* frames are kernel addresses */
    for (;;) {
        PVOID frame;
        BOOLEAN at_limit;
        NTSTATUS status = fsa_frame_get(c, &frame, &at_limit);
        if (NT_SUCCESS(status)) {
            RtlCopyMemory(Data, &frame, sizeof frame);
            Irp->IoStatus.Information = sizeof frame;
            return STATUS_SUCCESS;
        }
        if (!at_limit)
            return status;
        fsa_pend_result pended = fsa_pend_alloc(c, Irp);
        if (pended == FSA_RETRY)
            continue; /* a frame came back between the two looks */
        if (pended == FSA_CANCELLED) {
            Irp->IoStatus.Status = STATUS_CANCELLED;
            Irp->IoStatus.Information = 0;
            IoCompleteRequest(Irp, IO_NO_INCREMENT);
        }
        return STATUS_PENDING;
    }
}

static NTSTATUS fsa_free(PIRP Irp, PKSIDENTIFIER Request, PVOID Data)
{
    fsa_context *c = FSA_FROM_FILE(IoGetCurrentIrpStackLocation(Irp)->FileObject);
    if (Irp->RequestorMode != KernelMode)
        return STATUS_INVALID_DEVICE_REQUEST;
    PVOID frame;
    RtlCopyMemory(&frame, Data, sizeof frame);
    return fsa_frame_put(c, frame) ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

static NTSTATUS fsa_add_event(PIRP Irp, PKSEVENTDATA EventData, PKSEVENT_ENTRY EventEntry)
{
    fsa_context *c = FSA_FROM_FILE(IoGetCurrentIrpStackLocation(Irp)->FileObject);
    if (EventData->NotificationType != KSEVENTF_EVENT_OBJECT && EventData->NotificationType != KSEVENTF_SEMAPHORE_OBJECT)
        return STATUS_NOT_SUPPORTED;
    KIRQL irql;
    KeAcquireSpinLock(&c->lock, &irql);
    InsertTailList(&c->events, &EventEntry->ListEntry);
    KeReleaseSpinLock(&c->lock, irql);
    return STATUS_SUCCESS;
}

static DEFINE_KSPROPERTY_TABLE(fsa_properties){
    DEFINE_KSPROPERTY_ITEM(KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE, fsa_get_function_table, sizeof(KSPROPERTY),
                           sizeof(KSSTREAMALLOCATOR_FUNCTIONTABLE), NULL, NULL, 0, NULL, NULL, 0),
    DEFINE_KSPROPERTY_ITEM(KSPROPERTY_STREAMALLOCATOR_STATUS, fsa_get_status, sizeof(KSPROPERTY),
                           sizeof(KSSTREAMALLOCATOR_STATUS), NULL, NULL, 0, NULL, NULL, 0),
};
static DEFINE_KSPROPERTY_SET_TABLE(fsa_property_sets){
    DEFINE_KSPROPERTY_SET(&KSPROPSETID_StreamAllocator, RTL_NUMBER_OF(fsa_properties), fsa_properties, 0, NULL),
};
static DEFINE_KSMETHOD_TABLE(fsa_methods){
    DEFINE_KSMETHOD_ITEM(KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_TYPE_WRITE, fsa_alloc, sizeof(KSMETHOD), sizeof(PVOID),
                         NULL),
    DEFINE_KSMETHOD_ITEM(KSMETHOD_STREAMALLOCATOR_FREE, KSMETHOD_TYPE_READ, fsa_free, sizeof(KSMETHOD), sizeof(PVOID),
                         NULL),
};
static DEFINE_KSMETHOD_SET_TABLE(fsa_method_sets){
    DEFINE_KSMETHOD_SET(&KSMETHODSETID_StreamAllocator, RTL_NUMBER_OF(fsa_methods), fsa_methods, 0, NULL),
};
static DEFINE_KSEVENT_TABLE(fsa_events){
    DEFINE_KSEVENT_ITEM(KSEVENT_STREAMALLOCATOR_FREEFRAME, sizeof(KSEVENTDATA), 0, fsa_add_event, NULL, NULL),
};
static DEFINE_KSEVENT_SET_TABLE(fsa_event_sets){
    DEFINE_KSEVENT_SET(&KSEVENTSETID_StreamAllocator, RTL_NUMBER_OF(fsa_events), fsa_events),
};

/* IRP_MJ_DEVICE_CONTROL of the allocator file object. Completes the IRP unless it pends. */
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) NTSTATUS fsa_device_control(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    fsa_context *c = FSA_FROM_FILE(stack->FileObject);
    NTSTATUS status;
    PAGED_CODE();
    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_KS_PROPERTY:
        status = KsPropertyHandler(Irp, RTL_NUMBER_OF(fsa_property_sets), fsa_property_sets);
        break;
    case IOCTL_KS_METHOD:
        status = KsMethodHandler(Irp, RTL_NUMBER_OF(fsa_method_sets), fsa_method_sets);
        break;
    case IOCTL_KS_ENABLE_EVENT:
    case IOCTL_KS_DISABLE_EVENT:
        if (Irp->RequestorMode != KernelMode) { /* FREEFRAME serves function-table clients */
            status = STATUS_INVALID_DEVICE_REQUEST;
            Irp->IoStatus.Information = 0;
            break;
        }
        status = stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_KS_ENABLE_EVENT
                     ? KsEnableEvent(Irp, RTL_NUMBER_OF(fsa_event_sets), fsa_event_sets, &c->events,
                                     KSEVENTS_SPINLOCK, &c->lock)
                     : KsDisableEvent(Irp, &c->events, KSEVENTS_SPINLOCK, &c->lock);
        break;
    default:
        status = STATUS_INVALID_DEVICE_REQUEST;
        Irp->IoStatus.Information = 0;
        break;
    }
    if (status == STATUS_PENDING)
        return status;
    Irp->IoStatus.Status = status;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}
