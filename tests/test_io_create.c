/* test_io_create.c: create name resolution (absolute and relative), the byte-exact FileName copy
 * (facts Q18 decisions), the IRP_MJ_CREATE parameters and bad input. */
#include "test_drivers.h"

static UNICODE_STRING seen_name;
static UCHAR seen_bytes[256];
static PFILE_OBJECT seen_related;
static IO_STACK_LOCATION seen_stack;
static KPROCESSOR_MODE seen_mode;
static PFILE_OBJECT seen_original;

static NTSTATUS record_create(PDEVICE_OBJECT dev, PIRP irp)
{
    PIO_STACK_LOCATION s = IoGetCurrentIrpStackLocation(irp);
    seen_stack = *s;
    seen_name = s->FileObject->FileName;
    if (seen_name.Buffer != NULL)
        memcpy(seen_bytes, seen_name.Buffer, seen_name.MaximumLength);
    seen_related = s->FileObject->RelatedFileObject;
    seen_mode = irp->RequestorMode;
    seen_original = irp->Tail.Overlay.OriginalFileObject;
    EXPECT_TRUE(s->DeviceObject == dev);
    return td_complete(irp, STATUS_SUCCESS, FILE_OPENED);
}

KTEST(io, ZwCreateFile_absolute_routes_case_insensitively_and_passes_the_rest)
{
    td_load();
    td_on[IRP_MJ_CREATE] = record_create;
    HANDLE h;
    IO_STATUS_BLOCK iosb = { .Status = -1 };
    static const WCHAR path[] = L"\\device\\TESTDEV\\Sub\\x";
    ASSERT_STATUS(td_open_bytes(NULL, path, sizeof path - 2, sizeof path, &h, &iosb), STATUS_SUCCESS);
    EXPECT_STATUS(iosb.Status, STATUS_SUCCESS);
    EXPECT_EQ(iosb.Information, FILE_OPENED);
    EXPECT_EQ(seen_name.Length, 12);        /* "\Sub\x" */
    EXPECT_EQ(seen_name.MaximumLength, 14); /* the caller's slack comes along */
    EXPECT_MEM_EQ(seen_bytes, L"\\Sub\\x", 14);
    EXPECT_TRUE(seen_related == NULL);
    EXPECT_TRUE(seen_original == km_handle_to_file(h));
    EXPECT_TRUE(km_handle_to_file(h)->DeviceObject == td_device);
    ZwClose(h);
}

KTEST(io, ZwCreateFile_device_name_alone_gives_empty_FileName)
{
    td_load();
    td_on[IRP_MJ_CREATE] = record_create;
    HANDLE h;
    IO_STATUS_BLOCK iosb;
    static const WCHAR path[] = TD_DEVICE_NAME;
    ASSERT_STATUS(td_open_bytes(NULL, path, sizeof path - 2, sizeof path - 2, &h, &iosb), STATUS_SUCCESS);
    EXPECT_EQ(seen_name.Length, 0);
    EXPECT_TRUE(seen_name.Buffer == NULL);
    ZwClose(h);
}

KTEST(io, ZwCreateFile_unknown_or_partial_device_name_not_found)
{
    td_load();
    HANDLE h = (HANDLE)1;
    EXPECT_STATUS(td_open(NULL, L"\\Device\\TestDevX", &h), STATUS_OBJECT_NAME_NOT_FOUND);
    EXPECT_TRUE(h == NULL);
    EXPECT_STATUS(td_open(NULL, L"\\Device\\Test", &h), STATUS_OBJECT_NAME_NOT_FOUND);
    EXPECT_STATUS(td_open(NULL, L"\\Device\\Nothing", &h), STATUS_OBJECT_NAME_NOT_FOUND);
    EXPECT_EQ(strlen(td_log), 0);
    EXPECT_EQ(km_handle_count(), 0);
}

KTEST(io, ZwCreateFile_relative_copies_name_byte_exact)
{
    td_load();
    HANDLE root, child;
    IO_STATUS_BLOCK iosb;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &root), STATUS_SUCCESS);
    td_on[IRP_MJ_CREATE] = record_create;
    /* Odd Length, odd MaximumLength, embedded zero code units, bytes past Length. */
    static const UCHAR name[] = { 'A', 0, 0, 0, 'B', 0, 0x5c, 0, 0xff, 0xee, 0x11 };
    ASSERT_STATUS(td_open_bytes(root, name, 7, 11, &child, &iosb), STATUS_SUCCESS);
    EXPECT_EQ(seen_name.Length, 7);
    EXPECT_EQ(seen_name.MaximumLength, 11);
    EXPECT_TRUE((const void *)seen_name.Buffer != (const void *)name);
    EXPECT_MEM_EQ(seen_bytes, name, 11);
    EXPECT_TRUE(seen_related == km_handle_to_file(root));
    EXPECT_TRUE(km_handle_to_file(child)->DeviceObject == td_device);
    ZwClose(child);
    ZwClose(root);
}

KTEST(io, ZwCreateFile_relative_NULL_or_empty_name_gives_NULL_buffer)
{
    td_load();
    HANDLE root, child;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &root), STATUS_SUCCESS);
    td_on[IRP_MJ_CREATE] = record_create;
    OBJECT_ATTRIBUTES oa;
    IO_STATUS_BLOCK iosb;
    InitializeObjectAttributes(&oa, NULL, 0, root, NULL);
    ASSERT_STATUS(ZwCreateFile(&child, 0, &oa, &iosb, NULL, 0, 0, FILE_OPEN, 0, NULL, 0), STATUS_SUCCESS);
    EXPECT_TRUE(seen_name.Buffer == NULL && seen_name.Length == 0 && seen_name.MaximumLength == 0);
    ZwClose(child);
    HANDLE child2;
    ASSERT_STATUS(td_open_bytes(root, L"", 0, 0, &child2, &iosb), STATUS_SUCCESS);
    EXPECT_TRUE(seen_name.Buffer == NULL);
    ZwClose(child2);
    ZwClose(root);
}

KTEST(io, ZwCreateFile_Length_above_MaximumLength_is_name_invalid)
{
    td_load();
    HANDLE root, child;
    IO_STATUS_BLOCK iosb;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &root), STATUS_SUCCESS);
    EXPECT_STATUS(td_open_bytes(root, L"abc", 6, 4, &child, &iosb), STATUS_OBJECT_NAME_INVALID);
    EXPECT_STATUS(td_open_bytes(NULL, TD_DEVICE_NAME, 8, 6, &child, &iosb), STATUS_OBJECT_NAME_INVALID);
    EXPECT_TRUE(strcmp(td_log, "c") == 0); /* only the root's create reached the driver */
    ZwClose(root);
}

KTEST(io, ZwCreateFile_bad_arguments)
{
    td_load();
    HANDLE h;
    IO_STATUS_BLOCK iosb;
    UNICODE_STRING us = RTL_CONSTANT_STRING(TD_DEVICE_NAME);
    OBJECT_ATTRIBUTES oa;
    InitializeObjectAttributes(&oa, &us, 0, NULL, NULL);
    EXPECT_STATUS(ZwCreateFile(NULL, 0, &oa, &iosb, NULL, 0, 0, FILE_OPEN, 0, NULL, 0), STATUS_INVALID_PARAMETER);
    EXPECT_STATUS(ZwCreateFile(&h, 0, NULL, &iosb, NULL, 0, 0, FILE_OPEN, 0, NULL, 0), STATUS_INVALID_PARAMETER);
    EXPECT_STATUS(ZwCreateFile(&h, 0, &oa, NULL, NULL, 0, 0, FILE_OPEN, 0, NULL, 0), STATUS_INVALID_PARAMETER);
    InitializeObjectAttributes(&oa, &us, 0, (HANDLE)(uintptr_t)40, NULL);
    EXPECT_STATUS(ZwCreateFile(&h, 0, &oa, &iosb, NULL, 0, 0, FILE_OPEN, 0, NULL, 0), STATUS_INVALID_HANDLE);
    InitializeObjectAttributes(&oa, NULL, 0, NULL, NULL);
    EXPECT_STATUS(ZwCreateFile(&h, 0, &oa, &iosb, NULL, 0, 0, FILE_OPEN, 0, NULL, 0), STATUS_OBJECT_NAME_INVALID);
    EXPECT_EQ(strlen(td_log), 0);
}

KTEST(io, ZwCreateFile_closed_root_handle_is_invalid)
{
    td_load();
    HANDLE root, child;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &root), STATUS_SUCCESS);
    ZwClose(root);
    EXPECT_STATUS(td_open(root, L"x", &child), STATUS_INVALID_HANDLE);
}

KTEST(io, create_parameters_and_requestor_mode)
{
    td_load();
    td_on[IRP_MJ_CREATE] = record_create;
    HANDLE h;
    IO_STATUS_BLOCK iosb;
    UNICODE_STRING us = RTL_CONSTANT_STRING(TD_DEVICE_NAME);
    OBJECT_ATTRIBUTES oa;
    InitializeObjectAttributes(&oa, &us, 0, NULL, NULL);
    ASSERT_STATUS(ZwCreateFile(&h, GENERIC_READ | SYNCHRONIZE, &oa, &iosb, NULL, FILE_ATTRIBUTE_NORMAL,
                               FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN_IF, 0xAB000040, NULL, 0),
                  STATUS_SUCCESS);
    EXPECT_EQ(seen_stack.MajorFunction, IRP_MJ_CREATE);
    EXPECT_EQ(seen_stack.Parameters.Create.Options, (FILE_OPEN_IF << 24) | 0x000040);
    EXPECT_EQ(seen_stack.Parameters.Create.ShareAccess, FILE_SHARE_READ | FILE_SHARE_WRITE);
    EXPECT_EQ(seen_stack.Parameters.Create.FileAttributes, FILE_ATTRIBUTE_NORMAL);
    ASSERT_TRUE(seen_stack.Parameters.Create.SecurityContext != NULL);
    EXPECT_EQ(seen_mode, KernelMode);
    ZwClose(h);
    km_set_previous_mode(UserMode);
    ASSERT_STATUS(NtCreateFile(&h, 0, &oa, &iosb, NULL, 0, 0, FILE_OPEN, 0, NULL, 0), STATUS_SUCCESS);
    EXPECT_EQ(seen_mode, UserMode);
    NtClose(h);
    ASSERT_STATUS(IoCreateFile(&h, 0, &oa, &iosb, NULL, 0, 0, FILE_OPEN, 0, NULL, 0, CreateFileTypeNone, NULL, 0),
                  STATUS_SUCCESS);
    EXPECT_EQ(seen_mode, KernelMode);
    ZwClose(h);
}

static NTSTATUS fail_create(PDEVICE_OBJECT dev, PIRP irp) { return td_complete(irp, STATUS_ACCESS_DENIED, 0); }

KTEST(io, failed_create_gives_no_handle_and_no_close)
{
    td_load();
    td_on[IRP_MJ_CREATE] = fail_create;
    HANDLE h = (HANDLE)1;
    IO_STATUS_BLOCK iosb;
    EXPECT_STATUS(td_open_bytes(NULL, TD_DEVICE_NAME, 30, 32, &h, &iosb), STATUS_ACCESS_DENIED);
    EXPECT_STATUS(iosb.Status, STATUS_ACCESS_DENIED);
    EXPECT_TRUE(h == NULL);
    EXPECT_EQ(km_handle_count(), 0);
    EXPECT_TRUE(strcmp(td_log, "c") == 0);
}

static PIRP parked;
static NTSTATUS pend_create(PDEVICE_OBJECT dev, PIRP irp)
{
    parked = irp;
    IoMarkIrpPending(irp);
    return STATUS_PENDING;
}

static VOID complete_parked(PDEVICE_OBJECT dev, PVOID ctx)
{
    td_complete(parked, STATUS_SUCCESS, 0);
    IoFreeWorkItem(ctx);
}

static NTSTATUS pend_create_with_work_item(PDEVICE_OBJECT dev, PIRP irp)
{
    PIO_WORKITEM wi = IoAllocateWorkItem(dev);
    pend_create(dev, irp);
    IoQueueWorkItem(wi, complete_parked, DelayedWorkQueue, wi);
    return STATUS_PENDING;
}

KTEST(io, pending_create_completed_by_a_work_item_succeeds)
{
    td_load();
    td_on[IRP_MJ_CREATE] = pend_create_with_work_item;
    HANDLE h;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &h), STATUS_SUCCESS);
    EXPECT_TRUE(km_handle_to_file(h) != NULL);
    EXPECT_EQ(km_io_pending_count(), 0);
    ZwClose(h);
}

KTEST(io, pending_create_never_completed_returns_pending_without_handle)
{
    td_load();
    td_on[IRP_MJ_CREATE] = pend_create;
    HANDLE h = (HANDLE)1;
    EXPECT_STATUS(td_open(NULL, TD_DEVICE_NAME, &h), STATUS_PENDING);
    EXPECT_TRUE(h == NULL);
    EXPECT_EQ(km_io_pending_count(), 1);
    /* Completing it later (success) opens and immediately closes the orphan file object. */
    td_complete(parked, STATUS_SUCCESS, 0);
    km_run_work_items();
    EXPECT_EQ(km_io_pending_count(), 0);
    EXPECT_TRUE(strcmp(td_log, "cC") == 0);
}

KTEST_NEGATIVE(io, ZwCreateFile_above_passive, IRQL_TOO_HIGH)
{
    td_load();
    KIRQL old;
    HANDLE h;
    KeRaiseIrql(APC_LEVEL, &old);
    td_open(NULL, TD_DEVICE_NAME, &h);
}
