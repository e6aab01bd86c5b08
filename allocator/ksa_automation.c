/* ksa_automation.c: the default allocator's automation: KSPROPSETID_StreamAllocator
 * (FUNCTIONTABLE, STATUS), KSMETHODSETID_StreamAllocator (ALLOC, FREE), KSEVENTSETID_StreamAllocator
 * (FREEFRAME) and the IRP_MJ_DEVICE_CONTROL dispatcher that routes the four KS IOCTLs to them. */
#include "ksa_internal.h"

static NTSTATUS ksa_get_function_table(PIRP Irp, PKSIDENTIFIER Request, PVOID Data)
{
    ksa_allocator *a = KSA_FROM_FILE(IoGetCurrentIrpStackLocation(Irp)->FileObject);
    if (Irp->RequestorMode != KernelMode)
        return STATUS_INVALID_DEVICE_REQUEST; /* kernel only (ksproperty-streamallocator-functiontable) */
    if (a->paged)
        return STATUS_NOT_SUPPORTED; /* decisions Q17: paged pool cannot serve DISPATCH_LEVEL */
    KSSTREAMALLOCATOR_FUNCTIONTABLE table = { ksa_function_allocate_frame, ksa_function_free_frame };
    memcpy(Data, &table, sizeof table);
    Irp->IoStatus.Information = sizeof table;
    return STATUS_SUCCESS;
}

static NTSTATUS ksa_get_status(PIRP Irp, PKSIDENTIFIER Request, PVOID Data)
{
    ksa_allocator *a = KSA_FROM_FILE(IoGetCurrentIrpStackLocation(Irp)->FileObject);
    KSSTREAMALLOCATOR_STATUS status;
    KIRQL irql;
    memset(&status, 0, sizeof status);
    KeAcquireSpinLock(&a->lock, &irql);
    status.Framing = a->framing;
    status.AllocatedFrames = a->outstanding; /* decisions Q10 */
    KeReleaseSpinLock(&a->lock, irql);
    memcpy(Data, &status, sizeof status);
    Irp->IoStatus.Information = sizeof status;
    return STATUS_SUCCESS;
}

static NTSTATUS ksa_method_alloc(PIRP Irp, PKSIDENTIFIER Request, PVOID Data)
{
    ksa_allocator *a = KSA_FROM_FILE(IoGetCurrentIrpStackLocation(Irp)->FileObject);
    if (Irp->RequestorMode != KernelMode)
        return STATUS_INVALID_DEVICE_REQUEST; /* decisions Q8: kernel VAs must not reach user mode */
    PVOID frame;
    NTSTATUS status = ksa_frame_allocate_or_queue(a, Irp, &frame);
    if (status == STATUS_SUCCESS) {
        memcpy(Data, &frame, sizeof frame);
        Irp->IoStatus.Information = sizeof frame;
        return STATUS_SUCCESS;
    }
    if (status == STATUS_CANCELLED) { /* marked pending, never queued: complete it here */
        Irp->IoStatus.Status = STATUS_CANCELLED;
        Irp->IoStatus.Information = 0;
        IoCompleteRequest(Irp, IO_NO_INCREMENT);
        return STATUS_PENDING;
    }
    return status; /* STATUS_PENDING (ksmethod-streamallocator-alloc: until a FREE), or the failure */
}

static NTSTATUS ksa_method_free(PIRP Irp, PKSIDENTIFIER Request, PVOID Data)
{
    ksa_allocator *a = KSA_FROM_FILE(IoGetCurrentIrpStackLocation(Irp)->FileObject);
    if (Irp->RequestorMode != KernelMode)
        return STATUS_INVALID_DEVICE_REQUEST; /* decisions Q8 */
    PVOID frame;
    memcpy(&frame, Data, sizeof frame);
    return ksa_frame_free(a, frame) ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

static NTSTATUS ksa_add_freeframe_event(PIRP Irp, PKSEVENTDATA EventData, PKSEVENT_ENTRY EventEntry)
{
    ksa_allocator *a = KSA_FROM_FILE(IoGetCurrentIrpStackLocation(Irp)->FileObject);
    if (EventData->NotificationType != KSEVENTF_EVENT_OBJECT &&
        EventData->NotificationType != KSEVENTF_SEMAPHORE_OBJECT)
        return STATUS_NOT_SUPPORTED; /* decisions Q9 */
    KIRQL irql;
    KeAcquireSpinLock(&a->lock, &irql);
    InsertTailList(&a->events, &EventEntry->ListEntry);
    KeReleaseSpinLock(&a->lock, irql);
    return STATUS_SUCCESS;
}

static DEFINE_KSPROPERTY_TABLE(ksa_property_items){
    DEFINE_KSPROPERTY_ITEM(KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE, ksa_get_function_table, sizeof(KSPROPERTY),
                           sizeof(KSSTREAMALLOCATOR_FUNCTIONTABLE), NULL, NULL, 0, NULL, NULL, 0),
    DEFINE_KSPROPERTY_ITEM(KSPROPERTY_STREAMALLOCATOR_STATUS, ksa_get_status, sizeof(KSPROPERTY),
                           sizeof(KSSTREAMALLOCATOR_STATUS), NULL, NULL, 0, NULL, NULL, 0),
};
static DEFINE_KSPROPERTY_SET_TABLE(ksa_property_sets){
    DEFINE_KSPROPERTY_SET(&KSPROPSETID_StreamAllocator, RTL_NUMBER_OF(ksa_property_items), ksa_property_items, 0,
                          NULL),
};

static DEFINE_KSMETHOD_TABLE(ksa_method_items){
    DEFINE_KSMETHOD_ITEM(KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_TYPE_WRITE, ksa_method_alloc, sizeof(KSMETHOD),
                         sizeof(PVOID), NULL),
    DEFINE_KSMETHOD_ITEM(KSMETHOD_STREAMALLOCATOR_FREE, KSMETHOD_TYPE_READ, ksa_method_free, sizeof(KSMETHOD),
                         sizeof(PVOID), NULL),
};
static DEFINE_KSMETHOD_SET_TABLE(ksa_method_sets){
    DEFINE_KSMETHOD_SET(&KSMETHODSETID_StreamAllocator, RTL_NUMBER_OF(ksa_method_items), ksa_method_items, 0, NULL),
};

/* INTERNAL_FREEFRAME is deliberately absent: clients must not enable it (decisions Q9). */
static DEFINE_KSEVENT_TABLE(ksa_event_items){
    DEFINE_KSEVENT_ITEM(KSEVENT_STREAMALLOCATOR_FREEFRAME, sizeof(KSEVENTDATA), 0, ksa_add_freeframe_event, NULL,
                        NULL),
};
static DEFINE_KSEVENT_SET_TABLE(ksa_event_sets){
    DEFINE_KSEVENT_SET(&KSEVENTSETID_StreamAllocator, RTL_NUMBER_OF(ksa_event_items), ksa_event_items),
};

/* IRP_MJ_DEVICE_CONTROL of an allocator file object: the four KS IOCTLs; anything else is
 * STATUS_INVALID_DEVICE_REQUEST. Completes the IRP unless a handler left it pending. */
NTSTATUS ksa_dispatch_device_control(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PAGED_CODE();
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    ksa_allocator *a = KSA_FROM_FILE(stack->FileObject);
    NTSTATUS status;
    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_KS_PROPERTY:
        status = KsPropertyHandler(Irp, RTL_NUMBER_OF(ksa_property_sets), ksa_property_sets);
        break;
    case IOCTL_KS_METHOD:
        status = KsMethodHandler(Irp, RTL_NUMBER_OF(ksa_method_sets), ksa_method_sets);
        break;
    case IOCTL_KS_ENABLE_EVENT:
    case IOCTL_KS_DISABLE_EVENT:
        if (Irp->RequestorMode != KernelMode) {
            status = STATUS_INVALID_DEVICE_REQUEST; /* decisions Q9: FREEFRAME serves kernel clients */
            Irp->IoStatus.Information = 0;
            break;
        }
        status = stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_KS_ENABLE_EVENT
                     ? KsEnableEvent(Irp, RTL_NUMBER_OF(ksa_event_sets), ksa_event_sets, &a->events,
                                     KSEVENTS_SPINLOCK, &a->lock)
                     : KsDisableEvent(Irp, &a->events, KSEVENTS_SPINLOCK, &a->lock);
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
