/* test_ks_dispatch.c: KsDispatchIrp routing (device header -> filter -> pin -> child), create-item
 * matching (our Q4 answers), dispatch-table routing and the KS helper stubs. */
#include "test_ks_driver.h"

KTEST(ks, KsDispatchIrp_routes_filter_pin_child)
{
    kd_load();
    HANDLE f, p, c;
    ASSERT_STATUS(kd_open(NULL, KD_DEVICE L"\\Filter", &f), STATUS_SUCCESS);
    EXPECT_TRUE(kd_seen_item == &kd_device_items[0]);
    ASSERT_STATUS(kd_open(f, L"Pin", &p), STATUS_SUCCESS);
    EXPECT_TRUE(kd_seen_item == &kd_filter_children[1]);
    ASSERT_STATUS(kd_open(p, L"Child\\params", &c), STATUS_SUCCESS);
    EXPECT_TRUE(kd_seen_item == &kd_pin_children[0]);
    EXPECT_STATUS(kd_send(c), STATUS_SUCCESS);
    EXPECT_STATUS(kd_send(p), STATUS_SUCCESS);
    EXPECT_STATUS(kd_send(f), STATUS_SUCCESS);
    EXPECT_TRUE(strcmp(kd_log, "fpcicipif") == 0);
    ZwClose(c);
    ZwClose(p);
    ZwClose(f);
    EXPECT_TRUE(strcmp(kd_log, "fpcicipifxxx") == 0);
}

KTEST(ks, create_matching_is_case_insensitive_and_skips_one_backslash)
{
    kd_load();
    HANDLE f, p, q;
    ASSERT_STATUS(kd_open(NULL, KD_DEVICE L"\\fILTER", &f), STATUS_SUCCESS);
    ASSERT_STATUS(kd_open(f, L"\\PIN", &p), STATUS_SUCCESS);
    EXPECT_TRUE(kd_seen_item == &kd_filter_children[1]);
    /* A second backslash starts an empty class: the wildcard takes it. */
    ASSERT_STATUS(kd_open(f, L"\\\\Pin", &q), STATUS_SUCCESS);
    EXPECT_TRUE(kd_seen_item == &kd_filter_children[0]);
    ZwClose(q);
    ZwClose(p);
    ZwClose(f);
}

KTEST(ks, create_matching_wildcard_only_when_nothing_else_matches)
{
    kd_load();
    HANDLE f, a, b, c;
    ASSERT_STATUS(kd_open(NULL, KD_DEVICE L"\\Filter", &f), STATUS_SUCCESS);
    ASSERT_STATUS(kd_open(f, L"Pin\\x", &a), STATUS_SUCCESS);
    EXPECT_TRUE(kd_seen_item == &kd_filter_children[1]);
    ASSERT_STATUS(kd_open(f, L"Pins", &b), STATUS_SUCCESS); /* lengths differ: not "Pin" */
    EXPECT_TRUE(kd_seen_item == &kd_filter_children[0]);
    ASSERT_STATUS(kd_open(f, L"Pi", &c), STATUS_SUCCESS);
    EXPECT_TRUE(kd_seen_item == &kd_filter_children[0]);
    EXPECT_STATUS(kd_send(b), STATUS_INVALID_DEVICE_REQUEST); /* wildcard object: no ioctl entry */
    ZwClose(c);
    ZwClose(b);
    ZwClose(a);
    ZwClose(f);
}

KTEST(ks, create_matching_odd_trailing_byte_is_ignored)
{
    kd_load();
    HANDLE f, p;
    ASSERT_STATUS(kd_open(NULL, KD_DEVICE L"\\Filter", &f), STATUS_SUCCESS);
    ASSERT_STATUS(kd_open_len(f, L"Pin!", 7, &p), STATUS_SUCCESS);
    EXPECT_TRUE(kd_seen_item == &kd_filter_children[1]);
    ZwClose(p);
    ZwClose(f);
}

KTEST(ks, create_matching_no_match_NULL_create_and_NOPARAMETERS)
{
    kd_load();
    HANDLE f, p, c;
    ASSERT_STATUS(kd_open(NULL, KD_DEVICE L"\\Filter", &f), STATUS_SUCCESS);
    ASSERT_STATUS(kd_open(f, L"Pin", &p), STATUS_SUCCESS);
    EXPECT_STATUS(kd_open(p, L"Nothing", &c), STATUS_OBJECT_NAME_NOT_FOUND);
    EXPECT_STATUS(kd_open(p, L"Skipped", &c), STATUS_OBJECT_NAME_NOT_FOUND);
    EXPECT_STATUS(kd_open(p, L"NoParam\\x", &c), STATUS_INVALID_PARAMETER);
    EXPECT_STATUS(kd_open(p, L"NoParam\\", &c), STATUS_INVALID_PARAMETER);
    EXPECT_STATUS(kd_open(NULL, KD_DEVICE L"\\Pin", &c), STATUS_OBJECT_NAME_NOT_FOUND);
    EXPECT_TRUE(strcmp(kd_log, "fp") == 0);
    ASSERT_STATUS(kd_open(p, L"noparam", &c), STATUS_SUCCESS);
    EXPECT_TRUE(kd_seen_item == &kd_pin_children[1]);
    ZwClose(c);
    ZwClose(p);
    ZwClose(f);
}

static NTSTATUS plain_entry(PDRIVER_OBJECT drv, PUNICODE_STRING reg)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\Device\\NoHeader");
    PDEVICE_OBJECT dev;
    NTSTATUS status = IoCreateDevice(drv, sizeof(PVOID), &name, FILE_DEVICE_KS, 0, FALSE, &dev);
    KsSetMajorFunctionHandler(drv, IRP_MJ_CREATE);
    KsSetMajorFunctionHandler(drv, IRP_MJ_DEVICE_CONTROL);
    return status;
}

static NTSTATUS plain_create(PDEVICE_OBJECT dev, PIRP irp) { return kd_finish(irp, STATUS_SUCCESS); }

KTEST(ks, KsDispatchIrp_without_headers_is_invalid_device_request)
{
    PDRIVER_OBJECT drv;
    ASSERT_STATUS(km_driver_load(L"Plain", plain_entry, &drv), STATUS_SUCCESS);
    HANDLE h;
    EXPECT_STATUS(kd_open(NULL, L"\\Device\\NoHeader\\Filter", &h), STATUS_INVALID_DEVICE_REQUEST);
    /* Opened through a non-KS create, the object has no header in FsContext. */
    drv->MajorFunction[IRP_MJ_CREATE] = plain_create;
    ASSERT_STATUS(kd_open(NULL, L"\\Device\\NoHeader", &h), STATUS_SUCCESS);
    EXPECT_TRUE(km_handle_to_file(h)->FsContext == NULL);
    EXPECT_STATUS(kd_send(h), STATUS_INVALID_DEVICE_REQUEST);
    EXPECT_STATUS(ZwClose(h), STATUS_SUCCESS);
}

KTEST(ks, KsSetMajorFunctionHandler_rules)
{
    kd_load();
    DRIVER_OBJECT drv = { 0 };
    EXPECT_STATUS(KsSetMajorFunctionHandler(&drv, IRP_MJ_DEVICE_CONTROL | KSDISPATCH_FASTIO), STATUS_NOT_IMPLEMENTED);
    EXPECT_STATUS(KsSetMajorFunctionHandler(&drv, IRP_MJ_PNP), STATUS_INVALID_PARAMETER);
    EXPECT_TRUE(drv.MajorFunction[IRP_MJ_PNP] == NULL);
    EXPECT_STATUS(KsSetMajorFunctionHandler(&drv, IRP_MJ_WRITE), STATUS_SUCCESS);
    EXPECT_TRUE(drv.MajorFunction[IRP_MJ_WRITE] == KsDispatchIrp);
    EXPECT_FALSE(KsDispatchFastIoDeviceControlFailure(NULL, TRUE, NULL, 0, NULL, 0, 0, NULL, NULL));
    EXPECT_FALSE(KsDispatchFastReadFailure(NULL, NULL, 0, TRUE, 0, NULL, NULL, NULL));
    EXPECT_FALSE(KsDispatchFastWriteFailure(NULL, NULL, 0, TRUE, 0, NULL, NULL, NULL));
}

KTEST(ks, KsAllocateObjectHeader_pool_failure_fails_the_create)
{
    kd_load();
    HANDLE f;
    km_fault_plan plan = { .site = "KSoh" };
    km_fault_arm(&plan);
    EXPECT_STATUS(kd_open(NULL, KD_DEVICE L"\\Filter", &f), STATUS_INSUFFICIENT_RESOURCES);
    km_fault_disarm();
    EXPECT_EQ(km_handle_count(), 0);
}

KTEST(ks, create_with_empty_name_is_a_zero_length_class)
{
    /* A relative open with no name at all (FileName.Buffer NULL) is matched as an empty class:
     * only the wildcard item can take it. Found by the create_irp seed raw_lengths.ops. */
    kd_load();
    HANDLE f, p, c;
    ASSERT_STATUS(kd_open(NULL, KD_DEVICE L"\\Filter", &f), STATUS_SUCCESS);
    ASSERT_STATUS(kd_open_len(f, NULL, 0, &c), STATUS_SUCCESS);
    EXPECT_TRUE(kd_seen_item == &kd_filter_children[0]);
    ASSERT_STATUS(kd_open(f, L"Pin", &p), STATUS_SUCCESS);
    /* The pin has no wildcard: an empty name finds nothing. */
    HANDLE none = NULL;
    EXPECT_STATUS(kd_open_len(p, NULL, 0, &none), STATUS_OBJECT_NAME_NOT_FOUND);
    ZwClose(p);
    ZwClose(c);
    ZwClose(f);
}
