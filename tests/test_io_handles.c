/* test_io_handles.c: handle numbering and reuse, bad handles, object references and the deferred
 * IRP_MJ_CLOSE of a referenced file object. */
#include "test_drivers.h"

KTEST(io, handles_are_multiples_of_4_lowest_free_reused)
{
    td_load();
    HANDLE h[3];
    for (int i = 0; i < 3; i++)
        ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &h[i]), STATUS_SUCCESS);
    EXPECT_EQ((uintptr_t)h[0], 4);
    EXPECT_EQ((uintptr_t)h[1], 8);
    EXPECT_EQ((uintptr_t)h[2], 12);
    EXPECT_EQ(km_handle_count(), 3);
    EXPECT_STATUS(ZwClose(h[0]), STATUS_SUCCESS);
    EXPECT_STATUS(ZwClose(h[1]), STATUS_SUCCESS);
    HANDLE again;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &again), STATUS_SUCCESS);
    EXPECT_EQ((uintptr_t)again, 4);
    EXPECT_EQ(km_handle_count(), 2);
}

KTEST(io, ZwClose_bad_handles)
{
    td_load();
    HANDLE h;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &h), STATUS_SUCCESS);
    EXPECT_STATUS(ZwClose(h), STATUS_SUCCESS);
    EXPECT_STATUS(ZwClose(h), STATUS_INVALID_HANDLE);
    EXPECT_STATUS(NtClose(NULL), STATUS_INVALID_HANDLE);
    EXPECT_STATUS(ZwClose((HANDLE)(uintptr_t)6), STATUS_INVALID_HANDLE);
    EXPECT_STATUS(ZwClose((HANDLE)(uintptr_t)0x4000), STATUS_INVALID_HANDLE);
    EXPECT_STATUS(ZwClose(INVALID_HANDLE_VALUE), STATUS_INVALID_HANDLE);
    EXPECT_TRUE(km_handle_to_file(h) == NULL);
}

KTEST(io, ObReferenceObjectByHandle_types_and_bad_handles)
{
    td_load();
    HANDLE h, ev_handle;
    KEVENT ev;
    KeInitializeEvent(&ev, NotificationEvent, FALSE);
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &h), STATUS_SUCCESS);
    ASSERT_STATUS(km_event_handle_open(&ev, &ev_handle), STATUS_SUCCESS);
    PVOID obj = (PVOID)1;
    EXPECT_STATUS(ObReferenceObjectByHandle((HANDLE)(uintptr_t)64, 0, NULL, KernelMode, &obj, NULL),
                  STATUS_INVALID_HANDLE);
    EXPECT_TRUE(obj == NULL);
    EXPECT_STATUS(ObReferenceObjectByHandle(ev_handle, 0, *IoFileObjectType, KernelMode, &obj, NULL),
                  STATUS_OBJECT_TYPE_MISMATCH);
    EXPECT_STATUS(ObReferenceObjectByHandle(ev_handle, 0, NULL, KernelMode, &obj, NULL), STATUS_SUCCESS);
    EXPECT_TRUE(obj == &ev);
    EXPECT_STATUS(ObReferenceObjectByHandle(h, 0, *IoFileObjectType, UserMode, &obj, NULL), STATUS_SUCCESS);
    EXPECT_TRUE(obj == km_handle_to_file(h));
    EXPECT_EQ(ObfReferenceObject(obj), 3); /* handle + two references */
    EXPECT_EQ(ObfDereferenceObject(obj), 2);
    EXPECT_EQ(ObfDereferenceObject(obj), 1);
    EXPECT_STATUS(ZwClose(ev_handle), STATUS_SUCCESS);
    EXPECT_STATUS(ZwClose(h), STATUS_SUCCESS);
}

KTEST(io, IRP_MJ_CLOSE_deferred_while_referenced)
{
    td_load();
    HANDLE h;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &h), STATUS_SUCCESS);
    PFILE_OBJECT fo;
    ASSERT_STATUS(ObReferenceObjectByHandle(h, 0, *IoFileObjectType, KernelMode, (PVOID *)&fo, NULL), STATUS_SUCCESS);
    EXPECT_STATUS(ZwClose(h), STATUS_SUCCESS);
    EXPECT_TRUE(strcmp(td_log, "cu") == 0); /* cleanup at last handle, no close yet */
    EXPECT_TRUE(fo->DeviceObject == td_device);
    ObDereferenceObject(fo);
    EXPECT_TRUE(strcmp(td_log, "cuC") == 0);
}

KTEST_NEGATIVE(io, ObfDereferenceObject_unknown_object, API_INVALID_PARAMETER)
{
    static int not_an_object;
    ObfDereferenceObject(&not_an_object);
}
