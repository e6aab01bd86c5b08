/* ks_test_filter.c: the KS test filter driver (see ks_test_filter.h), written as a driver author
 * would: WDK headers only, KS object headers as the first field of every FsContext. */
#include "ks_test_filter.h"

#define KSTF_TAG_OBJECT 0x4F66744Bu /* "KtfO": filter and pin contexts */
#define KSTF_TAG_FRAME  0x4666744Bu /* "KtfF": frames of the external allocator */

typedef struct {
    KSOBJECT_HEADER header; /* first field (KSDISPATCH_TABLE page) */
} kstf_object;

static kstf_allocator_config kstf_config;
static kstf_callback_counts kstf_counts;
static kstf_pin_allocator kstf_pin_hosts;

VOID kstf_configure_pin_allocator(kstf_pin_allocator Which)
{
    kstf_pin_hosts = Which;
}

VOID kstf_configure_allocator(const kstf_allocator_config *Config)
{
    kstf_config = *Config;
    memset(&kstf_counts, 0, sizeof kstf_counts);
}

VOID kstf_get_callback_counts(kstf_callback_counts *Counts)
{
    *Counts = kstf_counts;
}

/* ---- The external allocator callbacks ------------------------------------------------------- */
/* Without InitializeAllocator the driver has no framing: it serves page-aligned 4 KB frames, which
 * satisfy any framing of at most 4096 bytes (the tests' default is 256 bytes, 64-byte aligned). */
static const KSALLOCATOR_FRAMING kstf_default_framing = { { 0 }, NonPagedPool, 0, 4096, { 0xFFF }, 0 };

/* The context is the framing this allocator serves, one per allocator. With DeleteAllocator it is a
 * pool copy that DeleteAllocator frees. Without it nobody could free a copy, so the context is the
 * allocator's own framing, which lives as long as the allocator (decisions, "InitializeAllocator
 * present"; a pin's InitializeAllocator "may keep the framing/pin pointers", facts §1.3). A
 * single static copy shared by such allocators let the latest create change the frames of earlier
 * ones (found by the session fuzzer: AllocateFrame failed on a frame aligned for another allocator). */
static NTSTATUS kstf_initialize_allocator(PVOID InitialContext, PKSALLOCATOR_FRAMING AllocatorFraming, PVOID *Context)
{
    kstf_counts.initialize_calls++;
    kstf_counts.last_initialize_context = InitialContext;
    kstf_counts.last_framing = *AllocatorFraming;
    if (!NT_SUCCESS(kstf_config.initialize_status))
        return kstf_config.initialize_status;
    if (!kstf_config.pass_delete_allocator) {
        *Context = AllocatorFraming;
        return kstf_config.initialize_status;
    }
    PKSALLOCATOR_FRAMING copy = ExAllocatePoolWithTag(NonPagedPool, sizeof *copy, KSTF_TAG_OBJECT);
    if (copy == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    *copy = *AllocatorFraming;
    *Context = copy;
    return kstf_config.initialize_status;
}

/* Frames are over-allocated; the block's address sits just before the frame. */
static PVOID kstf_default_allocate(PVOID Context)
{
    kstf_counts.allocate_calls++;
    kstf_counts.last_context = Context;
    const KSALLOCATOR_FRAMING *framing = Context != NULL ? Context : &kstf_default_framing;
    if (kstf_config.allocate_hook != NULL && kstf_config.allocate_hook())
        return NULL;
    if (kstf_config.allocate_fails)
        return NULL;
    ULONG_PTR mask = framing->FileAlignment;
    SIZE_T size = sizeof(PVOID) + mask + 1 + framing->FrameSize;
    PUCHAR block = ExAllocatePoolWithTag(NonPagedPool, size, KSTF_TAG_FRAME);
    if (block == NULL)
        return NULL;
    ULONG_PTR frame = ((ULONG_PTR)block + sizeof(PVOID) + mask) & ~mask;
    if (kstf_config.allocate_misaligned)
        frame += 1; /* still inside the block: mask + 1 bytes of slack were added */
    memcpy((PUCHAR)frame - sizeof(PVOID), &block, sizeof block);
    return (PVOID)frame;
}

static VOID kstf_default_free(PVOID Context, PVOID Buffer)
{
    kstf_counts.free_calls++;
    kstf_counts.last_context = Context;
    PVOID block;
    memcpy(&block, (PUCHAR)Buffer - sizeof(PVOID), sizeof block);
    ExFreePoolWithTag(block, KSTF_TAG_FRAME);
}

static VOID kstf_delete_allocator(PVOID Context)
{
    kstf_counts.delete_calls++;
    kstf_counts.last_context = Context;
    /* DeleteAllocator is only passed together with it, so a context here is always InitializeAllocator's
     * pool copy (decided by the allocator's own context, never by the configuration at delete time,
     * which a later create may have changed: that once leaked the context). */
    if (Context != NULL)
        ExFreePoolWithTag(Context, KSTF_TAG_OBJECT);
}

/* ---- Allocator create item on the pin --------------------------------------------------------- */
static NTSTATUS kstf_create_allocator(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    const kstf_allocator_config *c = &kstf_config;
    if (kstf_pin_hosts == KSTF_PIN_FILTER_SPECIFIC)
        return KSTF_FILTER_SPECIFIC_CREATE(DeviceObject, Irp); /* completes the IRP itself */
    /* The create handler completes the IRP: KsCreateDefaultAllocator(Ex) does not (facts §1.3). */
    NTSTATUS status =
        c->plain ? KsCreateDefaultAllocator(Irp)
                 : KsCreateDefaultAllocatorEx(Irp, c->pass_initialize_context ? KSTF_INITIALIZE_CONTEXT : NULL,
                                              c->pass_default_allocate ? kstf_default_allocate : NULL,
                                              c->pass_default_free ? kstf_default_free : NULL,
                                              c->pass_initialize_allocator ? kstf_initialize_allocator : NULL,
                                              c->pass_delete_allocator ? kstf_delete_allocator : NULL);
    Irp->IoStatus.Status = status;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

/* ---- Pin ---------------------------------------------------------------------------------------- */
static const KSALLOCATOR_FRAMING_EX kstf_framing_ex = {
    1, 0, { 1, 1, 0 }, 0,
    { { { 0x4a6d5fc4, 0x7895, 0x11d1, { 0xb0, 0x69, 0x00, 0xa0, 0xc9, 0x06, 0x28, 0x02 } }, { 0 }, 0, 0, KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY, 4,
        { FILE_QUAD_ALIGNMENT }, 0, { 0, 0xFFFFFFFF, 1 }, { { 1024, 8192, 1 }, 0, 0 } } },
};

const KSALLOCATOR_FRAMING_EX *kstf_pin_framing_ex(void)
{
    return &kstf_framing_ex;
}

static NTSTATUS kstf_get_framing_ex(PIRP Irp, PKSIDENTIFIER Request, PVOID Data)
{
    memcpy(Data, &kstf_framing_ex, sizeof kstf_framing_ex);
    Irp->IoStatus.Information = sizeof kstf_framing_ex;
    return STATUS_SUCCESS;
}

static DEFINE_KSPROPERTY_TABLE(kstf_pin_properties){
    DEFINE_KSPROPERTY_ITEM(KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX, kstf_get_framing_ex, sizeof(KSPROPERTY),
                           sizeof(KSALLOCATOR_FRAMING_EX), NULL, NULL, 0, NULL, NULL, 0),
};
static DEFINE_KSPROPERTY_SET_TABLE(kstf_pin_property_sets){
    DEFINE_KSPROPERTY_SET(&KSPROPSETID_Connection, RTL_NUMBER_OF(kstf_pin_properties), kstf_pin_properties, 0, NULL),
};

static NTSTATUS kstf_complete(PIRP Irp, NTSTATUS status)
{
    Irp->IoStatus.Status = status;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

static NTSTATUS kstf_pin_ioctl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    if (stack->Parameters.DeviceIoControl.IoControlCode != IOCTL_KS_PROPERTY) {
        Irp->IoStatus.Information = 0;
        return kstf_complete(Irp, STATUS_INVALID_DEVICE_REQUEST);
    }
    return kstf_complete(Irp, KsPropertyHandler(Irp, RTL_NUMBER_OF(kstf_pin_property_sets), kstf_pin_property_sets));
}

static NTSTATUS kstf_object_close(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PFILE_OBJECT file = IoGetCurrentIrpStackLocation(Irp)->FileObject;
    kstf_object *object = file->FsContext;
    KsFreeObjectHeader(object->header);
    ExFreePoolWithTag(object, KSTF_TAG_OBJECT);
    file->FsContext = NULL;
    Irp->IoStatus.Information = 0;
    return kstf_complete(Irp, STATUS_SUCCESS);
}

static const KSDISPATCH_TABLE kstf_pin_dispatch = {
    kstf_pin_ioctl, KsDispatchInvalidDeviceRequest, KsDispatchInvalidDeviceRequest, KsDispatchInvalidDeviceRequest,
    kstf_object_close, KsDispatchInvalidDeviceRequest, KsDispatchInvalidDeviceRequest,
    KsDispatchFastIoDeviceControlFailure, KsDispatchFastReadFailure, KsDispatchFastWriteFailure,
};

static KSOBJECT_CREATE_ITEM kstf_pin_children[] = {
    DEFINE_KSCREATE_ITEM(kstf_create_allocator, KSSTRING_Allocator, NULL),
};

/* Creates a filter or pin object: a context whose first field is its object header. */
static NTSTATUS kstf_create_object(PIRP Irp, ULONG ChildCount, PKSOBJECT_CREATE_ITEM Children,
                                   const KSDISPATCH_TABLE *Table)
{
    PFILE_OBJECT file = IoGetCurrentIrpStackLocation(Irp)->FileObject;
    kstf_object *object = ExAllocatePoolWithTag(NonPagedPool, sizeof *object, KSTF_TAG_OBJECT);
    NTSTATUS status = STATUS_INSUFFICIENT_RESOURCES;
    if (object != NULL) {
        status = KsAllocateObjectHeader(&object->header, ChildCount, Children, Irp, Table);
        if (NT_SUCCESS(status))
            file->FsContext = object;
        else
            ExFreePoolWithTag(object, KSTF_TAG_OBJECT);
    }
    Irp->IoStatus.Information = 0;
    return kstf_complete(Irp, status);
}

static NTSTATUS kstf_create_pin(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    return kstf_create_object(Irp, RTL_NUMBER_OF(kstf_pin_children), kstf_pin_children, &kstf_pin_dispatch);
}

/* ---- Filter ------------------------------------------------------------------------------------- */
static const KSDISPATCH_TABLE kstf_filter_dispatch = {
    KsDispatchInvalidDeviceRequest, KsDispatchInvalidDeviceRequest, KsDispatchInvalidDeviceRequest,
    KsDispatchInvalidDeviceRequest, kstf_object_close, KsDispatchInvalidDeviceRequest,
    KsDispatchInvalidDeviceRequest, KsDispatchFastIoDeviceControlFailure, KsDispatchFastReadFailure,
    KsDispatchFastWriteFailure,
};

static KSOBJECT_CREATE_ITEM kstf_filter_children[] = {
    DEFINE_KSCREATE_ITEM(kstf_create_pin, KSSTRING_Pin, NULL),
};

static NTSTATUS kstf_create_filter(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    return kstf_create_object(Irp, RTL_NUMBER_OF(kstf_filter_children), kstf_filter_children, &kstf_filter_dispatch);
}

static KSOBJECT_CREATE_ITEM kstf_device_items[] = {
    DEFINE_KSCREATE_ITEM(kstf_create_filter, KSSTRING_Filter, NULL),
};

/* ---- Driver ------------------------------------------------------------------------------------- */
typedef struct {
    KSDEVICE_HEADER header; /* first field of the device extension (KS convention) */
} kstf_device_extension;

static VOID kstf_unload(PDRIVER_OBJECT DriverObject)
{
    for (PDEVICE_OBJECT device = DriverObject->DeviceObject; device != NULL;) {
        PDEVICE_OBJECT next = device->NextDevice;
        kstf_device_extension *ext = device->DeviceExtension;
        KsFreeDeviceHeader(ext->header);
        IoDeleteDevice(device);
        device = next;
    }
}

NTSTATUS kstf_driver_entry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(KSTF_DEVICE_NAME);
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(kstf_device_extension), &name, FILE_DEVICE_KS, 0, FALSE,
                                     &device);
    if (!NT_SUCCESS(status))
        return status;
    kstf_device_extension *ext = device->DeviceExtension;
    status = KsAllocateDeviceHeader(&ext->header, RTL_NUMBER_OF(kstf_device_items), kstf_device_items);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    static const ULONG majors[] = { IRP_MJ_CREATE, IRP_MJ_CLOSE, IRP_MJ_DEVICE_CONTROL };
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = KsDispatchIrp; /* KS completes cleanup itself */
    for (ULONG i = 0; i < RTL_NUMBER_OF(majors); i++)
        KsSetMajorFunctionHandler(DriverObject, majors[i]);
    DriverObject->DriverUnload = kstf_unload;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}
