/* ks_dispatch.c: KsDispatchIrp, create-item matching and the KS dispatch helpers (facts §1.6,
 * §2.2). Our answers to facts-file Q4 (none observed on Windows):
 *  - one leading '\' of FileName is skipped; the object class is the component up to the next '\'
 *    or the end (Length / 2 code units; an odd trailing byte is ignored);
 *  - classes compare case-insensitively (RtlUpcaseUnicodeChar) and must have equal lengths;
 *  - items with a NULL Create are skipped; a WILDCARD item matches only when no other item does;
 *  - a NOPARAMETERS item with anything after the class completes STATUS_INVALID_PARAMETER;
 *  - no match completes STATUS_OBJECT_NAME_NOT_FOUND.
 * The parent's object header is the first field of the structure RelatedFileObject->FsContext
 * points to (Q5: Microsoft's description, not ReactOS's FsContext2). */
#include "io_internal.h"

static NTSTATUS ks_complete(PIRP Irp, NTSTATUS status)
{
    Irp->IoStatus.Status = status;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

/* The header a driver keeps as the first field of *context, if it is a live header of that kind. */
static ks_header *ks_header_at(const void *context, ks_header_kind kind)
{
    return context != NULL ? ks_header_live(*(void *const *)context, kind) : NULL;
}

static bool ks_class_equal(const UNICODE_STRING *cls, const WCHAR *name, size_t chars)
{
    if (cls->Length / sizeof(WCHAR) != chars)
        return false;
    for (size_t i = 0; i < chars; i++)
        if (RtlUpcaseUnicodeChar(cls->Buffer[i]) != RtlUpcaseUnicodeChar(name[i]))
            return false;
    return true;
}

static NTSTATUS ks_dispatch_create(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PFILE_OBJECT file = IoGetCurrentIrpStackLocation(Irp)->FileObject;
    ks_header *parent = file->RelatedFileObject != NULL
                            ? ks_header_at(file->RelatedFileObject->FsContext, KS_HDR_OBJECT)
                            : ks_header_at(DeviceObject->DeviceExtension, KS_HDR_DEVICE);
    if (parent == NULL)
        return ks_complete(Irp, STATUS_INVALID_DEVICE_REQUEST);

    /* An empty name (Buffer NULL) is a zero-length class; never do arithmetic on the NULL pointer. */
    static const WCHAR empty_name[1];
    const WCHAR *name = file->FileName.Buffer != NULL ? file->FileName.Buffer : empty_name;
    size_t chars = file->FileName.Buffer != NULL ? file->FileName.Length / sizeof(WCHAR) : 0;
    size_t start = chars > 0 && name[0] == L'\\' ? 1 : 0;
    size_t end = start;
    while (end < chars && name[end] != L'\\')
        end++;
    PKSOBJECT_CREATE_ITEM match = NULL, wildcard = NULL;
    for (ULONG i = 0; i < parent->item_count && match == NULL; i++) {
        PKSOBJECT_CREATE_ITEM item = &parent->items[i];
        if (item->Create == NULL)
            continue;
        if (item->Flags & KSCREATE_ITEM_WILDCARD) {
            if (wildcard == NULL)
                wildcard = item;
        } else if (ks_class_equal(&item->ObjectClass, name + start, end - start))
            match = item;
    }
    if (match == NULL)
        match = wildcard;
    if (match == NULL)
        return ks_complete(Irp, STATUS_OBJECT_NAME_NOT_FOUND);
    if ((match->Flags & KSCREATE_ITEM_NOPARAMETERS) && end < chars)
        return ks_complete(Irp, STATUS_INVALID_PARAMETER);

    KSCREATE_ITEM_IRP_STORAGE(Irp) = match;
    NTSTATUS status = match->Create(DeviceObject, Irp);
    if (status != STATUS_PENDING && NT_SUCCESS(status)) {
        ks_header *own = ks_header_at(file->FsContext, KS_HDR_OBJECT);
        KM_VERIFY(KS_CREATE_NO_OBJECT_HEADER, own != NULL && own->file == file,
                  "create returned 0x%08X", (unsigned)status);
    }
    return status;
}

/* KsDispatchIrp (DDI ks/nf-ks-ksdispatchirp). IRP_MJ_CLEANUP completes STATUS_SUCCESS (a
 * KSDISPATCH_TABLE has no cleanup slot); majors KS does not route complete
 * STATUS_INVALID_DEVICE_REQUEST, as does an object without a live header in FsContext. */
NTSTATUS KsDispatchIrp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    if (stack->MajorFunction == IRP_MJ_CREATE)
        return ks_dispatch_create(DeviceObject, Irp);
    if (stack->MajorFunction == IRP_MJ_CLEANUP)
        return ks_complete(Irp, STATUS_SUCCESS);
    ks_header *h = stack->FileObject != NULL ? ks_header_at(stack->FileObject->FsContext, KS_HDR_OBJECT) : NULL;
    if (h == NULL)
        return ks_complete(Irp, STATUS_INVALID_DEVICE_REQUEST);
    PDRIVER_DISPATCH routine;
    switch (stack->MajorFunction) {
    case IRP_MJ_DEVICE_CONTROL: routine = h->table->DeviceIoControl; break;
    case IRP_MJ_READ: routine = h->table->Read; break;
    case IRP_MJ_WRITE: routine = h->table->Write; break;
    case IRP_MJ_FLUSH_BUFFERS: routine = h->table->Flush; break;
    case IRP_MJ_CLOSE: routine = h->table->Close; break;
    case IRP_MJ_QUERY_SECURITY: routine = h->table->QuerySecurity; break;
    case IRP_MJ_SET_SECURITY: routine = h->table->SetSecurity; break;
    default: return ks_complete(Irp, STATUS_INVALID_DEVICE_REQUEST);
    }
    return (routine != NULL ? routine : KsDispatchInvalidDeviceRequest)(DeviceObject, Irp);
}

/* KsSetMajorFunctionHandler (DDI ks/nf-ks-kssetmajorfunctionhandler). KSDISPATCH_FASTIO returns
 * STATUS_NOT_IMPLEMENTED: the model has no fast-I/O path to route. */
NTSTATUS KsSetMajorFunctionHandler(PDRIVER_OBJECT DriverObject, ULONG MajorFunction)
{
    if (MajorFunction & KSDISPATCH_FASTIO)
        return STATUS_NOT_IMPLEMENTED;
    switch (MajorFunction) {
    case IRP_MJ_CREATE:
    case IRP_MJ_CLOSE:
    case IRP_MJ_DEVICE_CONTROL:
    case IRP_MJ_READ:
    case IRP_MJ_WRITE:
    case IRP_MJ_FLUSH_BUFFERS:
    case IRP_MJ_QUERY_SECURITY:
    case IRP_MJ_SET_SECURITY:
        DriverObject->MajorFunction[MajorFunction] = KsDispatchIrp;
        return STATUS_SUCCESS;
    default:
        return STATUS_INVALID_PARAMETER;
    }
}

/* KsDispatchInvalidDeviceRequest (DDI ks/nf-ks-ksdispatchinvaliddevicerequest). */
NTSTATUS KsDispatchInvalidDeviceRequest(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    return ks_complete(Irp, STATUS_INVALID_DEVICE_REQUEST);
}

/* KsDispatchFastIoDeviceControlFailure (DDI ks/nf-ks-ksdispatchfastiodevicecontrolfailure). */
BOOLEAN KsDispatchFastIoDeviceControlFailure(PFILE_OBJECT FileObject, BOOLEAN Wait, PVOID InputBuffer,
                                             ULONG InputBufferLength, PVOID OutputBuffer, ULONG OutputBufferLength,
                                             ULONG IoControlCode, PIO_STATUS_BLOCK IoStatus,
                                             PDEVICE_OBJECT DeviceObject)
{
    return FALSE;
}

/* KsDispatchFastReadFailure (DDI ks/nf-ks-ksdispatchfastreadfailure); also KsDispatchFastWriteFailure. */
BOOLEAN KsDispatchFastReadFailure(PFILE_OBJECT FileObject, PLARGE_INTEGER FileOffset, ULONG Length, BOOLEAN Wait,
                                  ULONG LockKey, PVOID Buffer, PIO_STATUS_BLOCK IoStatus,
                                  PDEVICE_OBJECT DeviceObject)
{
    return FALSE;
}
