/* test_alloc_object.c: the default allocator through the KS test filter: create paths
 * (KsCreateAllocator, KsUserCreateAllocator), ALLOC/FREE, the Frames limit and pending ALLOC,
 * close rules and the STATUS property (decisions Q7, Q8, Q10, Q15). */
#include "alloc_fixture.h"
#include "test_drivers.h"

KTEST(alloc_object, KsCreateAllocator_kernel_success_and_status)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    KSSTREAMALLOCATOR_STATUS st;
    ULONG_PTR info = 0;
    memset(&st, 0xEE, sizeof st);
    ASSERT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_STATUS,
                              KSPROPERTY_TYPE_GET, &st, sizeof st, &info, FALSE),
                  STATUS_SUCCESS);
    EXPECT_EQ(info, sizeof st);
    EXPECT_MEM_EQ(&st.Framing, &fx_default_framing, sizeof st.Framing);
    EXPECT_EQ(st.AllocatedFrames, 0);
    EXPECT_EQ(st.Reserved, 0);
    fx_close_all(&fx);
}

KTEST(alloc_object, KsCreateAllocator_invalid_framing)
{
    alloc_fx fx;
    fx_open_pin(&fx, NULL);
    KSALLOCATOR_FRAMING f = fx_default_framing;
    f.FileAlignment = 0x30; /* not 2^n-1: CVE-2024-38245 */
    HANDLE h = (HANDLE)0x1234;
    EXPECT_STATUS(KsCreateAllocator(fx.pin, &f, &h), STATUS_INVALID_PARAMETER);
    EXPECT_TRUE(h == NULL);
    f = fx_default_framing;
    f.FrameSize = 0;
    EXPECT_STATUS(KsCreateAllocator(fx.pin, &f, &h), STATUS_INVALID_PARAMETER);
    h = (HANDLE)0x1234;
    EXPECT_STATUS(KsCreateAllocator(fx.pin, NULL, &h), STATUS_INVALID_PARAMETER);
    EXPECT_TRUE(h == NULL); /* decisions Q7: NULL on every failure, a NULL framing too */
    EXPECT_STATUS(KsCreateAllocator(fx.pin, &f, NULL), STATUS_INVALID_PARAMETER);
    fx_close_all(&fx);
}

KTEST(alloc_object, KsUserCreateAllocator_win32_codes)
{
    alloc_fx fx;
    fx_open_pin(&fx, NULL);
    KSALLOCATOR_FRAMING f = fx_default_framing;
    HANDLE h = NULL;
    km_set_previous_mode(UserMode);
    EXPECT_EQ(KsUserCreateAllocator(fx.pin, &f, &h), ERROR_SUCCESS);
    km_set_previous_mode(KernelMode);
    EXPECT_TRUE(h != NULL && h != INVALID_HANDLE_VALUE);
    EXPECT_STATUS(ZwClose(h), STATUS_SUCCESS);
    f.Reserved = 1;
    h = NULL;
    km_set_previous_mode(UserMode);
    EXPECT_EQ(KsUserCreateAllocator(fx.pin, &f, &h), ERROR_INVALID_PARAMETER);
    km_set_previous_mode(KernelMode);
    EXPECT_TRUE(h == INVALID_HANDLE_VALUE);
    EXPECT_EQ(KsUserCreateAllocator(fx.pin, NULL, &h), ERROR_INVALID_PARAMETER);
    EXPECT_TRUE(h == INVALID_HANDLE_VALUE);
    EXPECT_EQ(KsUserCreateAllocator(fx.pin, &f, NULL), ERROR_INVALID_PARAMETER);
    fx_close_all(&fx);
}

/* Decisions Q7: a returned handle always comes with ERROR_SUCCESS, whatever success status the open
 * ended with (a handle next to an error code would leak); failures map through RtlNtStatusToDosError.
 * A scripted device stands in for a pin whose create answers each status. */
static NTSTATUS create_answer;
static NTSTATUS answer_create(PDEVICE_OBJECT DeviceObject, PIRP Irp) { return td_complete(Irp, create_answer, 0); }

KTEST(alloc_object, KsUserCreateAllocator_status_mapping)
{
    static const struct {
        NTSTATUS status;
        DWORD code;
    } cases[] = {
        { STATUS_SUCCESS, ERROR_SUCCESS },
        { (NTSTATUS)0x40000000L /* STATUS_OBJECT_NAME_EXISTS, a success status */, ERROR_SUCCESS },
        { STATUS_ACCESS_DENIED, ERROR_ACCESS_DENIED },
        { STATUS_OBJECT_NAME_NOT_FOUND, ERROR_FILE_NOT_FOUND },
        { STATUS_INSUFFICIENT_RESOURCES, ERROR_NO_SYSTEM_RESOURCES },
    };
    td_load();
    HANDLE pin;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &pin), STATUS_SUCCESS);
    td_on[IRP_MJ_CREATE] = answer_create;
    KSALLOCATOR_FRAMING f = fx_default_framing;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        create_answer = cases[i].status;
        HANDLE h = NULL;
        km_set_previous_mode(UserMode);
        EXPECT_EQ(KsUserCreateAllocator(pin, &f, &h), cases[i].code);
        km_set_previous_mode(KernelMode);
        if (NT_SUCCESS(cases[i].status)) {
            EXPECT_TRUE(h != NULL && h != INVALID_HANDLE_VALUE);
            EXPECT_STATUS(ZwClose(h), STATUS_SUCCESS);
        } else {
            EXPECT_TRUE(h == INVALID_HANDLE_VALUE);
        }
    }
    EXPECT_STATUS(ZwClose(pin), STATUS_SUCCESS);
}

KTEST(alloc_object, KsCreateAllocator_relative_to_filter_not_found)
{
    /* The filter has no allocator create item: the create item match fails (io's Q4 answer). */
    alloc_fx fx;
    fx_open_pin(&fx, NULL);
    KSALLOCATOR_FRAMING f = fx_default_framing;
    HANDLE h;
    EXPECT_STATUS(KsCreateAllocator(fx.filter, &f, &h), STATUS_OBJECT_NAME_NOT_FOUND);
    fx_close_all(&fx);
}

KTEST(alloc_object, alloc_free_roundtrip_alignment_and_count)
{
    static const ULONG aligns[] = { 0, 1, 3, 7, 15, 31, 63, 127, 255, 511, 1023, 2047, 4095 };
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        km_init();
        alloc_fx fx;
        KSALLOCATOR_FRAMING f = fx_default_framing;
        f.FileAlignment = aligns[i];
        f.FrameSize = 100;
        fx_open(&fx, &f, NULL);
        PVOID a, b;
        ASSERT_STATUS(fx_alloc(fx.alloc, &a), STATUS_SUCCESS);
        ASSERT_STATUS(fx_alloc(fx.alloc, &b), STATUS_SUCCESS);
        EXPECT_TRUE(a != NULL && b != NULL && a != b);
        EXPECT_EQ((ULONG_PTR)a & aligns[i], 0);
        EXPECT_EQ((ULONG_PTR)b & aligns[i], 0);
        memset(a, 0x11, 100); /* the whole frame is usable (ASan checks the bounds) */
        memset(b, 0x22, 100);
        EXPECT_EQ(fx_allocated_frames(fx.alloc), 2);
        EXPECT_STATUS(fx_free(fx.alloc, a), STATUS_SUCCESS);
        EXPECT_EQ(fx_allocated_frames(fx.alloc), 1);
        EXPECT_STATUS(fx_free(fx.alloc, b), STATUS_SUCCESS);
        EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
        fx_close_all(&fx);
        km_teardown();
    }
}

KTEST(alloc_object, free_unknown_or_twice_invalid_parameter)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    PVOID a;
    int local;
    ASSERT_STATUS(fx_alloc(fx.alloc, &a), STATUS_SUCCESS);
    EXPECT_STATUS(fx_free(fx.alloc, &local), STATUS_INVALID_PARAMETER);
    EXPECT_STATUS(fx_free(fx.alloc, (PUCHAR)a + 1), STATUS_INVALID_PARAMETER);
    EXPECT_STATUS(fx_free(fx.alloc, NULL), STATUS_INVALID_PARAMETER);
    EXPECT_STATUS(fx_free(fx.alloc, a), STATUS_SUCCESS);
    EXPECT_STATUS(fx_free(fx.alloc, a), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    fx_close_all(&fx);
}

KTEST(alloc_object, free_frame_of_other_allocator_invalid_parameter)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    HANDLE other;
    KSALLOCATOR_FRAMING f = fx_default_framing;
    ASSERT_STATUS(KsCreateAllocator(fx.pin, &f, &other), STATUS_SUCCESS);
    PVOID a;
    ASSERT_STATUS(fx_alloc(other, &a), STATUS_SUCCESS);
    EXPECT_STATUS(fx_free(fx.alloc, a), STATUS_INVALID_PARAMETER);
    EXPECT_STATUS(fx_free(other, a), STATUS_SUCCESS);
    EXPECT_STATUS(ZwClose(other), STATUS_SUCCESS);
    fx_close_all(&fx);
}

KTEST(alloc_object, user_mode_alloc_free_refused)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    PVOID frame = NULL;
    ULONG_PTR info = 7;
    EXPECT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_TYPE_SEND, &frame, sizeof frame, &info,
                            TRUE),
                  STATUS_INVALID_DEVICE_REQUEST);
    EXPECT_EQ(info, 0);
    EXPECT_TRUE(frame == NULL);
    PVOID k;
    ASSERT_STATUS(fx_alloc(fx.alloc, &k), STATUS_SUCCESS);
    EXPECT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_FREE, KSMETHOD_TYPE_SEND, &k, sizeof k, &info, TRUE),
                  STATUS_INVALID_DEVICE_REQUEST);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 1);
    EXPECT_STATUS(fx_free(fx.alloc, k), STATUS_SUCCESS);
    fx_close_all(&fx);
}

KTEST(alloc_object, frames_limit_pends_and_free_completes)
{
    alloc_fx fx;
    KSALLOCATOR_FRAMING f = fx_default_framing;
    f.Frames = 2;
    fx_open(&fx, &f, NULL);
    PVOID a, b;
    ASSERT_STATUS(fx_alloc(fx.alloc, &a), STATUS_SUCCESS);
    ASSERT_STATUS(fx_alloc(fx.alloc, &b), STATUS_SUCCESS);
    /* Third ALLOC: no frame may be handed out -> pending (ksmethod-streamallocator-alloc). */
    PVOID pending_frame = NULL;
    IO_STATUS_BLOCK iosb = { { STATUS_UNSUCCESSFUL }, 0 };
    EXPECT_STATUS(fx_alloc_async(fx.alloc, &pending_frame, &iosb), STATUS_PENDING);
    EXPECT_EQ(km_io_pending_count(), 1);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 2);
    /* FREE hands a frame to the pending ALLOC. */
    EXPECT_STATUS(fx_free(fx.alloc, a), STATUS_SUCCESS);
    EXPECT_EQ(km_io_pending_count(), 0);
    EXPECT_STATUS(iosb.Status, STATUS_SUCCESS);
    EXPECT_EQ(iosb.Information, sizeof(PVOID));
    EXPECT_TRUE(pending_frame != NULL);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 2);
    EXPECT_STATUS(fx_free(fx.alloc, pending_frame), STATUS_SUCCESS);
    EXPECT_STATUS(fx_free(fx.alloc, b), STATUS_SUCCESS);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    fx_close_all(&fx);
}

KTEST(alloc_object, close_cancels_pending_alloc_and_reclaims_frames)
{
    alloc_fx fx;
    KSALLOCATOR_FRAMING f = fx_default_framing;
    f.Frames = 1;
    fx_open(&fx, &f, NULL);
    PVOID a;
    ASSERT_STATUS(fx_alloc(fx.alloc, &a), STATUS_SUCCESS);
    PVOID pending_frame = NULL;
    IO_STATUS_BLOCK iosb = { { STATUS_UNSUCCESSFUL }, 77 };
    EXPECT_STATUS(fx_alloc_async(fx.alloc, &pending_frame, &iosb), STATUS_PENDING);
    /* Close with one frame out and one ALLOC pending: decisions Q15. Teardown checks for leaks. */
    EXPECT_STATUS(ZwClose(fx.alloc), STATUS_SUCCESS);
    fx.alloc = NULL;
    EXPECT_STATUS(iosb.Status, STATUS_CANCELLED);
    EXPECT_EQ(iosb.Information, 0);
    EXPECT_TRUE(pending_frame == NULL);
    EXPECT_EQ(km_io_pending_count(), 0);
    EXPECT_EQ(km_pool_outstanding_for_tag(0x4661734B /* KsaF */), 0);
    EXPECT_EQ(km_pool_outstanding_for_tag(0x4F61734B /* KsaO */), 0);
    fx_close_all(&fx);
}

KTEST(alloc_object, paged_pool_allocator_frames_but_no_function_table)
{
    alloc_fx fx;
    KSALLOCATOR_FRAMING f = fx_default_framing;
    f.PoolType = PagedPool;
    fx_open(&fx, &f, NULL);
    PVOID a;
    ASSERT_STATUS(fx_alloc(fx.alloc, &a), STATUS_SUCCESS);
    /* The frame's record is apart, in nonpaged pool: records are linked and searched under the spin
     * lock, at DISPATCH_LEVEL, where a paged block must not be touched. */
    EXPECT_EQ(km_pool_outstanding_for_tag(0x5261734B /* KsaR */), 1);
    KSSTREAMALLOCATOR_FUNCTIONTABLE t;
    ULONG_PTR info = 9;
    EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE,
                              KSPROPERTY_TYPE_GET, &t, sizeof t, &info, FALSE),
                  STATUS_NOT_SUPPORTED);
    EXPECT_EQ(info, 0);
    EXPECT_STATUS(fx_free(fx.alloc, a), STATUS_SUCCESS);
    EXPECT_EQ(km_pool_outstanding_for_tag(0x5261734B /* KsaR */), 0);
    /* No record: no frame, and the paged block goes back (the teardown's leak check). */
    km_fault_plan plan = { .site = "KsaR" };
    km_fault_arm(&plan);
    EXPECT_STATUS(fx_alloc(fx.alloc, &a), STATUS_INSUFFICIENT_RESOURCES);
    km_fault_disarm();
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    fx_close_all(&fx);
}

KTEST(alloc_object, nonpaged_nx_allocator)
{
    alloc_fx fx;
    KSALLOCATOR_FRAMING f = fx_default_framing;
    f.PoolType = NonPagedPoolNx;
    f.Frames = 0; /* no limit */
    fx_open(&fx, &f, NULL);
    PVOID frames[20];
    for (int i = 0; i < 20; i++)
        ASSERT_STATUS(fx_alloc(fx.alloc, &frames[i]), STATUS_SUCCESS);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 20);
    for (int i = 0; i < 20; i++)
        EXPECT_STATUS(fx_free(fx.alloc, frames[i]), STATUS_SUCCESS);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    fx_close_all(&fx);
}

KTEST(alloc_object, pool_failure_on_alloc_insufficient_resources)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    km_fault_plan plan = { 0, 0, "KsaF" };
    km_fault_arm(&plan);
    PVOID a = (PVOID)1;
    ULONG_PTR info = 5;
    EXPECT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_TYPE_SEND, &a, sizeof a, &info, FALSE),
                  STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_EQ(info, 0);
    km_fault_disarm();
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    fx_close_all(&fx);
}

KTEST(alloc_object, unknown_ioctl_invalid_device_request)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    UCHAR buf[32];
    ULONG_PTR info = 3;
    EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_RESET_STATE, buf, sizeof buf, buf, sizeof buf, &info, FALSE),
                  STATUS_INVALID_DEVICE_REQUEST);
    EXPECT_EQ(info, 0);
    EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_WRITE_STREAM, buf, sizeof buf, buf, sizeof buf, &info, FALSE),
                  STATUS_INVALID_DEVICE_REQUEST);
    fx_close_all(&fx);
}

/* A FREE while an ALLOC waits hands that very frame over ("complete one with the freed frame",
 * filter-specific-allocators), also where frames come from external callbacks or paged pool: no new
 * frame is obtained, so a failure to get one at that moment cannot fail the waiting ALLOC (found by
 * the release gate's session fuzzing). `tag` fails every new frame from now on. */
static void free_hands_over(const kstf_allocator_config *config, POOL_TYPE pool, const char *tag)
{
    alloc_fx fx;
    KSALLOCATOR_FRAMING f = fx_default_framing;
    f.Frames = 1;
    f.PoolType = pool;
    fx_open(&fx, &f, config);
    PVOID a;
    ASSERT_STATUS(fx_alloc(fx.alloc, &a), STATUS_SUCCESS);
    PVOID waiting = NULL;
    IO_STATUS_BLOCK iosb = { { STATUS_UNSUCCESSFUL }, 77 };
    ASSERT_STATUS(fx_alloc_async(fx.alloc, &waiting, &iosb), STATUS_PENDING);
    km_fault_plan plan = { .site = tag };
    km_fault_arm(&plan);
    EXPECT_STATUS(fx_free(fx.alloc, a), STATUS_SUCCESS);
    km_fault_disarm();
    EXPECT_STATUS(iosb.Status, STATUS_SUCCESS);
    EXPECT_EQ(iosb.Information, sizeof(PVOID));
    EXPECT_TRUE(waiting == a);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 1);
    EXPECT_STATUS(fx_free(fx.alloc, waiting), STATUS_SUCCESS);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    fx_close_all(&fx);
}

KTEST(alloc_object, free_hands_the_frame_to_a_waiting_alloc_external_callbacks)
{
    static const kstf_allocator_config external = { .pass_default_allocate = TRUE, .pass_default_free = TRUE };
    free_hands_over(&external, NonPagedPool, "KtfF"); /* the callbacks' frames */
}

KTEST(alloc_object, free_hands_the_frame_to_a_waiting_alloc_paged_pool)
{
    free_hands_over(NULL, PagedPool, "KsaF"); /* the lookaside's frame blocks */
}
