/* test_ks_object.c: KS device and object headers: allocation, IRQL rule, item-list validation, and
 * the verifier checks KS_CREATE_NO_OBJECT_HEADER, KS_BAD_CREATE_ITEMS and KS_OBJECT_HEADER_LEAK. */
#include "test_ks_driver.h"

KTEST(ks, KsAllocateDeviceHeader_is_pool_and_freed)
{
    KSDEVICE_HEADER h = NULL;
    ASSERT_STATUS(KsAllocateDeviceHeader(&h, 0, NULL), STATUS_SUCCESS);
    EXPECT_TRUE(h != NULL);
    EXPECT_EQ(km_pool_outstanding_for_tag(0x6864534Bu /* 'KSdh' */), 1);
    KsFreeDeviceHeader(h);
    EXPECT_EQ(km_pool_outstanding_for_tag(0x6864534Bu), 0);
    EXPECT_STATUS(KsAllocateDeviceHeader(NULL, 0, NULL), STATUS_INVALID_PARAMETER);
}

KTEST(ks, object_headers_use_tag_KSoh_and_live_until_close)
{
    kd_load();
    HANDLE f;
    ASSERT_STATUS(kd_open(NULL, KD_DEVICE L"\\Filter", &f), STATUS_SUCCESS);
    EXPECT_EQ(km_pool_outstanding_for_tag(0x686F534Bu /* 'KSoh' */), 1);
    kd_context *ctx = km_handle_to_file(f)->FsContext;
    EXPECT_TRUE(ctx != NULL && ctx->header != NULL && ctx->kind == 'f');
    ZwClose(f);
    EXPECT_EQ(km_pool_outstanding_for_tag(0x686F534Bu), 0);
}

KTEST(ks, child_keeps_parent_close_deferred)
{
    kd_load();
    HANDLE f, p;
    ASSERT_STATUS(kd_open(NULL, KD_DEVICE L"\\Filter", &f), STATUS_SUCCESS);
    ASSERT_STATUS(kd_open(f, L"Pin", &p), STATUS_SUCCESS);
    ZwClose(f);
    EXPECT_TRUE(strcmp(kd_log, "fp") == 0); /* the pin's RelatedFileObject keeps the filter open */
    ZwClose(p);
    EXPECT_TRUE(strcmp(kd_log, "fpxx") == 0);
}

KTEST_NEGATIVE(ks, create_success_without_object_header, KS_CREATE_NO_OBJECT_HEADER)
{
    kd_load();
    kd_skip_header = true;
    HANDLE f;
    kd_open(NULL, KD_DEVICE L"\\Filter", &f);
}

KTEST_NEGATIVE(ks, KsAllocateDeviceHeader_two_wildcards, KS_BAD_CREATE_ITEMS)
{
    static KSOBJECT_CREATE_ITEM items[] = {
        DEFINE_KSCREATE_ITEMEX(KsDispatchInvalidDeviceRequest, L"a", 0, KSCREATE_ITEM_WILDCARD),
        DEFINE_KSCREATE_ITEMEX(KsDispatchInvalidDeviceRequest, L"b", 0, KSCREATE_ITEM_WILDCARD),
    };
    KSDEVICE_HEADER h;
    KsAllocateDeviceHeader(&h, 2, items);
}

static KSOBJECT_CREATE_ITEM bad_items[] = {
    DEFINE_KSCREATE_ITEMEX(KsDispatchInvalidDeviceRequest, L"a", 0, KSCREATE_ITEM_WILDCARD | KSCREATE_ITEM_NOPARAMETERS),
};
static NTSTATUS create_with_bad_items(PDEVICE_OBJECT dev, PIRP irp)
{
    return kd_create_object(irp, 'b', 1, bad_items, &kd_table);
}
KTEST_NEGATIVE(ks, KsAllocateObjectHeader_wildcard_with_noparameters, KS_BAD_CREATE_ITEMS)
{
    kd_load();
    kd_device_items[0].Create = create_with_bad_items;
    HANDLE f;
    kd_open(NULL, KD_DEVICE L"\\Filter", &f);
}

KTEST_NEGATIVE(ks, close_without_KsFreeObjectHeader, KS_OBJECT_HEADER_LEAK)
{
    kd_load();
    kd_leak_header = true;
    HANDLE f;
    kd_open(NULL, KD_DEVICE L"\\Filter", &f);
    ZwClose(f);
}

static NTSTATUS create_at_dispatch(PDEVICE_OBJECT dev, PIRP irp)
{
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    return kd_create_object(irp, 'd', 0, NULL, &kd_table);
}
KTEST_NEGATIVE(ks, KsAllocateObjectHeader_at_dispatch, IRQL_TOO_HIGH)
{
    kd_load();
    kd_device_items[0].Create = create_at_dispatch;
    HANDLE f;
    kd_open(NULL, KD_DEVICE L"\\Filter", &f);
}
