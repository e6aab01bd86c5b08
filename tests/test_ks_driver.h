/* test_ks_driver.h: a small KS filter driver for the KS plumbing tests: device header with filter
 * create items; a filter object whose header has pin items; a pin whose header has child items.
 * Every object's context starts with its KSOBJECT_HEADER (the FsContext rule, facts Q5). */
#ifndef TEST_KS_DRIVER_H
#define TEST_KS_DRIVER_H

#include <string.h>

#include "ktest.h"

#define KD_DEVICE L"\\Device\\KsDev"
#define KD_TAG 0x7478436Bu /* 'kCxt' */

typedef struct {
    KSOBJECT_HEADER header; /* first: KsDispatchIrp finds it through FsContext */
    char kind;              /* 'f' filter, 'p' pin, 'c' child, 'w' wildcard */
} kd_context;

typedef struct {
    KSDEVICE_HEADER header; /* first field of the device extension */
} kd_extension;

static char kd_log[64];     /* create routine kinds in order, then 'i' + kind for ioctls, 'x' for close */
static PKSOBJECT_CREATE_ITEM kd_seen_item;
static bool kd_skip_header; /* create succeeds without an object header */
static bool kd_leak_header; /* close does not free the header */
static PDEVICE_OBJECT kd_device;

static inline void kd_note(char c)
{
    size_t n = strlen(kd_log);
    if (n + 1 < sizeof kd_log)
        kd_log[n] = c;
}

static inline NTSTATUS kd_finish(PIRP irp, NTSTATUS status)
{
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static inline NTSTATUS kd_ioctl(PDEVICE_OBJECT dev, PIRP irp)
{
    kd_context *ctx = IoGetCurrentIrpStackLocation(irp)->FileObject->FsContext;
    kd_note('i');
    kd_note(ctx->kind);
    return kd_finish(irp, STATUS_SUCCESS);
}

static inline NTSTATUS kd_close(PDEVICE_OBJECT dev, PIRP irp)
{
    kd_context *ctx = IoGetCurrentIrpStackLocation(irp)->FileObject->FsContext;
    kd_note('x');
    if (!kd_leak_header)
        KsFreeObjectHeader(ctx->header);
    ExFreePoolWithTag(ctx, KD_TAG);
    return kd_finish(irp, STATUS_SUCCESS);
}

static const KSDISPATCH_TABLE kd_table = { kd_ioctl, NULL, NULL, NULL, kd_close, NULL, NULL,
                                           KsDispatchFastIoDeviceControlFailure, KsDispatchFastReadFailure,
                                           KsDispatchFastWriteFailure };
/* No DeviceIoControl entry: KsDispatchIrp answers with KsDispatchInvalidDeviceRequest. */
static const KSDISPATCH_TABLE kd_table_no_ioctl = { NULL, NULL, NULL, NULL, kd_close, NULL, NULL, NULL, NULL, NULL };

static NTSTATUS kd_create_object(PIRP irp, char kind, ULONG n, PKSOBJECT_CREATE_ITEM items,
                                 const KSDISPATCH_TABLE *table);

static inline NTSTATUS kd_create_child(PDEVICE_OBJECT dev, PIRP irp)
{
    return kd_create_object(irp, 'c', 0, NULL, &kd_table);
}
static inline NTSTATUS kd_create_wild(PDEVICE_OBJECT dev, PIRP irp)
{
    return kd_create_object(irp, 'w', 0, NULL, &kd_table_no_ioctl);
}
static KSOBJECT_CREATE_ITEM kd_pin_children[] = {
    DEFINE_KSCREATE_ITEM(kd_create_child, L"Child", 0),
    DEFINE_KSCREATE_ITEMEX(kd_create_child, L"NoParam", 0, KSCREATE_ITEM_NOPARAMETERS),
    DEFINE_KSCREATE_ITEM(NULL, L"Skipped", 0),
};
static inline NTSTATUS kd_create_pin(PDEVICE_OBJECT dev, PIRP irp)
{
    return kd_create_object(irp, 'p', RTL_NUMBER_OF(kd_pin_children), kd_pin_children, &kd_table);
}
/* The wildcard is listed first: its position must not matter (facts §2.2). */
static KSOBJECT_CREATE_ITEM kd_filter_children[] = {
    DEFINE_KSCREATE_ITEMEX(kd_create_wild, L"", 0, KSCREATE_ITEM_WILDCARD),
    DEFINE_KSCREATE_ITEM(kd_create_pin, L"Pin", 0),
};
static inline NTSTATUS kd_create_filter(PDEVICE_OBJECT dev, PIRP irp)
{
    return kd_create_object(irp, 'f', RTL_NUMBER_OF(kd_filter_children), kd_filter_children, &kd_table);
}
static KSOBJECT_CREATE_ITEM kd_device_items[] = {
    DEFINE_KSCREATE_ITEM(kd_create_filter, L"Filter", 0),
};

static inline NTSTATUS kd_create_object(PIRP irp, char kind, ULONG n, PKSOBJECT_CREATE_ITEM items,
                                        const KSDISPATCH_TABLE *table)
{
    kd_note(kind);
    kd_seen_item = KSCREATE_ITEM_IRP_STORAGE(irp);
    PFILE_OBJECT fo = IoGetCurrentIrpStackLocation(irp)->FileObject;
    kd_context *ctx = ExAllocatePoolZero(NonPagedPoolNx, sizeof *ctx, KD_TAG);
    if (ctx == NULL)
        return kd_finish(irp, STATUS_INSUFFICIENT_RESOURCES);
    ctx->kind = kind;
    if (!kd_skip_header) {
        NTSTATUS status = KsAllocateObjectHeader(&ctx->header, n, items, irp, table);
        if (!NT_SUCCESS(status)) {
            ExFreePoolWithTag(ctx, KD_TAG);
            return kd_finish(irp, status);
        }
    }
    fo->FsContext = ctx;
    return kd_finish(irp, STATUS_SUCCESS);
}

static inline VOID kd_unload(PDRIVER_OBJECT drv)
{
    kd_extension *ext = kd_device->DeviceExtension;
    KsFreeDeviceHeader(ext->header);
    IoDeleteDevice(kd_device);
}

static inline NTSTATUS kd_entry(PDRIVER_OBJECT drv, PUNICODE_STRING reg)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(KD_DEVICE);
    NTSTATUS status = IoCreateDevice(drv, sizeof(kd_extension), &name, FILE_DEVICE_KS, 0, FALSE, &kd_device);
    if (!NT_SUCCESS(status))
        return status;
    kd_extension *ext = kd_device->DeviceExtension;
    status = KsAllocateDeviceHeader(&ext->header, RTL_NUMBER_OF(kd_device_items), kd_device_items);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(kd_device);
        return status;
    }
    KsSetMajorFunctionHandler(drv, IRP_MJ_CREATE);
    KsSetMajorFunctionHandler(drv, IRP_MJ_CLOSE);
    KsSetMajorFunctionHandler(drv, IRP_MJ_DEVICE_CONTROL);
    drv->MajorFunction[IRP_MJ_CLEANUP] = KsDispatchIrp;
    drv->DriverUnload = kd_unload;
    return STATUS_SUCCESS;
}

static inline void kd_load(void)
{
    PDRIVER_OBJECT drv;
    NTSTATUS status = km_driver_load(L"KsDriver", kd_entry, &drv);
    ASSERT_STATUS(status, STATUS_SUCCESS);
}

/* Opens `chars` code units of name (+ `extra` bytes of Length) relative to root (absolute when NULL). */
static inline NTSTATUS kd_open_len(HANDLE root, PCWSTR name, USHORT len, HANDLE *h)
{
    UNICODE_STRING us = { len, len, (PWSTR)name };
    OBJECT_ATTRIBUTES oa;
    IO_STATUS_BLOCK iosb;
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE, root, NULL);
    return ZwCreateFile(h, GENERIC_READ, &oa, &iosb, NULL, 0, 0, FILE_OPEN, 0, NULL, 0);
}

static inline NTSTATUS kd_open(HANDLE root, PCWSTR name, HANDLE *h)
{
    size_t n = 0;
    while (name[n] != 0)
        n++;
    return kd_open_len(root, name, (USHORT)(n * 2), h);
}

static inline NTSTATUS kd_send(HANDLE h)
{
    IO_STATUS_BLOCK iosb;
    return ZwDeviceIoControlFile(h, NULL, NULL, NULL, &iosb, IOCTL_KS_PROPERTY, NULL, 0, NULL, 0);
}

#endif /* TEST_KS_DRIVER_H */
