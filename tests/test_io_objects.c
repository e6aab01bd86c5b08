/* test_io_objects.c: drivers, devices, the device namespace, default dispatch and driver unload. */
#include "test_drivers.h"

static ULONG seen_flags;
static PVOID seen_ext;
static NTSTATUS entry_two_devices(PDRIVER_OBJECT drv, PUNICODE_STRING reg)
{
    UNICODE_STRING a = RTL_CONSTANT_STRING(L"\\Device\\Dup"), b = RTL_CONSTANT_STRING(L"\\DEVICE\\dup");
    PDEVICE_OBJECT d1, d2 = (PDEVICE_OBJECT)1;
    NTSTATUS status = IoCreateDevice(drv, 24, &a, FILE_DEVICE_KS, 0, FALSE, &d1);
    if (!NT_SUCCESS(status))
        return status;
    seen_flags = d1->Flags;
    seen_ext = d1->DeviceExtension;
    EXPECT_EQ(d1->StackSize, 1);
    EXPECT_TRUE(d1->DriverObject == drv && drv->DeviceObject == d1);
    static const UCHAR zero[24];
    EXPECT_MEM_EQ(d1->DeviceExtension, zero, 24);
    EXPECT_STATUS(IoCreateDevice(drv, 0, &b, FILE_DEVICE_KS, 0, FALSE, &d2), STATUS_OBJECT_NAME_COLLISION);
    EXPECT_TRUE(d2 == NULL);
    return STATUS_SUCCESS;
}

KTEST(io, IoCreateDevice_initializing_zeroed_extension_and_collision)
{
    PDRIVER_OBJECT drv;
    ASSERT_STATUS(km_driver_load(L"Dup", entry_two_devices, &drv), STATUS_SUCCESS);
    EXPECT_TRUE((seen_flags & DO_DEVICE_INITIALIZING) != 0);
    EXPECT_TRUE(seen_ext != NULL);
    /* Windows clears the flag on devices DriverEntry created. */
    EXPECT_EQ(drv->DeviceObject->Flags & DO_DEVICE_INITIALIZING, 0);
    EXPECT_TRUE(drv->DeviceObject->NextDevice == NULL);
}

KTEST(io, km_driver_load_default_dispatch_is_invalid_device_request)
{
    td_load();
    td_driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = td_driver->MajorFunction[IRP_MJ_READ];
    HANDLE h;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &h), STATUS_SUCCESS);
    IO_STATUS_BLOCK iosb = { .Status = 12345, .Information = 7 };
    EXPECT_STATUS(td_ioctl(h, TD_IOCTL(99, METHOD_BUFFERED), NULL, 0, NULL, 0, &iosb), STATUS_INVALID_DEVICE_REQUEST);
    EXPECT_STATUS(iosb.Status, STATUS_INVALID_DEVICE_REQUEST);
    EXPECT_EQ(iosb.Information, 0);
    EXPECT_STATUS(ZwClose(h), STATUS_SUCCESS);
}

static NTSTATUS entry_fails(PDRIVER_OBJECT drv, PUNICODE_STRING reg)
{
    UNICODE_STRING a = RTL_CONSTANT_STRING(L"\\Device\\Failing");
    PDEVICE_OBJECT d;
    EXPECT_STATUS(IoCreateDevice(drv, 8, &a, FILE_DEVICE_KS, 0, FALSE, &d), STATUS_SUCCESS);
    return STATUS_INSUFFICIENT_RESOURCES;
}

KTEST(io, km_driver_load_failed_entry_removes_its_devices)
{
    PDRIVER_OBJECT drv = (PDRIVER_OBJECT)1;
    EXPECT_STATUS(km_driver_load(L"Failing", entry_fails, &drv), STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_TRUE(drv == NULL);
    HANDLE h;
    EXPECT_STATUS(td_open(NULL, L"\\Device\\Failing", &h), STATUS_OBJECT_NAME_NOT_FOUND);
}

KTEST(io, IoDeleteDevice_removes_the_name)
{
    td_load();
    HANDLE h;
    IoDeleteDevice(td_device);
    EXPECT_TRUE(td_driver->DeviceObject == NULL);
    EXPECT_STATUS(td_open(NULL, TD_DEVICE_NAME, &h), STATUS_OBJECT_NAME_NOT_FOUND);
}

KTEST(io, IoDeleteDevice_while_open_keeps_the_object_until_close)
{
    td_load();
    HANDLE h;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &h), STATUS_SUCCESS);
    IoDeleteDevice(td_device);
    EXPECT_TRUE(km_handle_to_file(h)->DeviceObject == td_device);
    EXPECT_STATUS(ZwClose(h), STATUS_SUCCESS);
    EXPECT_TRUE(strcmp(td_log, "cuC") == 0);
}

KTEST(io, km_teardown_unloads_drivers_after_closing_handles)
{
    td_load();
    HANDLE h;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &h), STATUS_SUCCESS);
    km_teardown();
    EXPECT_EQ(td_unloads, 1);
    EXPECT_TRUE(strcmp(td_log, "cuC") == 0);
    km_init();
    EXPECT_EQ(km_handle_count(), 0);
}

KTEST(io, IoGetRelatedDeviceObject_is_the_file_objects_device)
{
    td_load();
    HANDLE h;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &h), STATUS_SUCCESS);
    EXPECT_TRUE(IoGetRelatedDeviceObject(km_handle_to_file(h)) == td_device);
    ZwClose(h);
}
