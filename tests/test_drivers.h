/* test_drivers.h: a small scriptable test driver for the I/O manager tests: one named device whose
 * major functions run per-test handlers (default: complete STATUS_SUCCESS), with a log of the
 * majors it saw, plus create/ioctl helpers. Each test file gets its own copy (static). */
#ifndef TEST_DRIVERS_H
#define TEST_DRIVERS_H

#include <string.h>

#include "ktest.h"

#define TD_DEVICE_NAME L"\\Device\\TestDev"

static PDRIVER_OBJECT td_driver __attribute__((unused));
static PDEVICE_OBJECT td_device __attribute__((unused));
static PDRIVER_DISPATCH td_on[IRP_MJ_MAXIMUM_FUNCTION + 1];
static char td_log[64];     /* one letter per IRP seen: c=create, C=close, u=cleanup, i=ioctl */
static PIRP td_last_irp;
static ULONG td_ext_size = 16;
static int td_unloads;

static inline char td_letter(UCHAR major)
{
    switch (major) {
    case IRP_MJ_CREATE: return 'c';
    case IRP_MJ_CLOSE: return 'C';
    case IRP_MJ_CLEANUP: return 'u';
    case IRP_MJ_DEVICE_CONTROL: return 'i';
    default: return '?';
    }
}

static inline NTSTATUS td_complete(PIRP irp, NTSTATUS status, ULONG_PTR info)
{
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = info;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static inline NTSTATUS td_dispatch(PDEVICE_OBJECT dev, PIRP irp)
{
    UCHAR major = IoGetCurrentIrpStackLocation(irp)->MajorFunction;
    size_t n = strlen(td_log);
    if (n + 1 < sizeof td_log)
        td_log[n] = td_letter(major);
    td_last_irp = irp;
    if (td_on[major] != NULL)
        return td_on[major](dev, irp);
    return td_complete(irp, STATUS_SUCCESS, 0);
}

static inline VOID td_unload(PDRIVER_OBJECT drv) { td_unloads++; }

static inline NTSTATUS td_entry(PDRIVER_OBJECT drv, PUNICODE_STRING reg)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(TD_DEVICE_NAME);
    NTSTATUS status = IoCreateDevice(drv, td_ext_size, &name, FILE_DEVICE_KS, 0, FALSE, &td_device);
    if (!NT_SUCCESS(status))
        return status;
    drv->MajorFunction[IRP_MJ_CREATE] = td_dispatch;
    drv->MajorFunction[IRP_MJ_CLOSE] = td_dispatch;
    drv->MajorFunction[IRP_MJ_CLEANUP] = td_dispatch;
    drv->MajorFunction[IRP_MJ_DEVICE_CONTROL] = td_dispatch;
    drv->DriverUnload = td_unload;
    return STATUS_SUCCESS;
}

static inline void td_load(void)
{
    NTSTATUS status = km_driver_load(L"TestDriver", td_entry, &td_driver);
    ASSERT_STATUS(status, STATUS_SUCCESS);
}

/* Opens `len` bytes of `name` (absolute when root is NULL); MaximumLength = max. */
static inline NTSTATUS td_open_bytes(HANDLE root, const void *name, USHORT len, USHORT max, HANDLE *h, IO_STATUS_BLOCK *iosb)
{
    UNICODE_STRING us = { len, max, (PWSTR)name };
    OBJECT_ATTRIBUTES oa;
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, root, NULL);
    return ZwCreateFile(h, GENERIC_READ, &oa, iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0, FILE_OPEN, 0, NULL, 0);
}

static inline NTSTATUS td_open(HANDLE root, PCWSTR name, HANDLE *h)
{
    IO_STATUS_BLOCK iosb;
    size_t n = 0;
    while (name[n] != 0)
        n++;
    return td_open_bytes(root, name, (USHORT)(n * 2), (USHORT)(n * 2 + 2), h, &iosb);
}

static inline NTSTATUS td_ioctl(HANDLE h, ULONG code, void *in, ULONG inlen, void *out, ULONG outlen, IO_STATUS_BLOCK *iosb)
{
    return ZwDeviceIoControlFile(h, NULL, NULL, NULL, iosb, code, in, inlen, out, outlen);
}

#define TD_IOCTL(fn, method) CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800 + (fn), (method), FILE_ANY_ACCESS)

#endif /* TEST_DRIVERS_H */
