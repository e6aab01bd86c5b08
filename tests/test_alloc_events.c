/* test_alloc_events.c: the FREEFRAME event requests: flags, sizes, notification types, disable-all (Q9, Q14). */
#include "alloc_fixture.h"

#define TAG_KS_EVENT 0x7645734B /* KsEv: KSEVENT_ENTRY allocations */

/* IOCTL_KS_ENABLE_EVENT for FREEFRAME with these request Flags and this output (the KSEVENTDATA). */
static NTSTATUS freeframe_request(HANDLE h, ULONG flags, void *out, ULONG out_len, ULONG_PTR *info)
{
    return fx_event_enable(h, KSEVENT_STREAMALLOCATOR_FREEFRAME, flags, out, out_len, info, FALSE);
}

/* One ALLOC and FREE by IOCTL at PASSIVE_LEVEL: FREEFRAME fires on the FREE (Q9). */
static void alloc_and_free_one(HANDLE h)
{
    PVOID frame;
    ASSERT_STATUS(fx_alloc(h, &frame), STATUS_SUCCESS);
    EXPECT_STATUS(fx_free(h, frame), STATUS_SUCCESS);
}

/* Q14: an event has no description and FREEFRAME no support handler, so SETSUPPORT and
 * BASICSUPPORT answer STATUS_SUCCESS, Information 0, whatever the output length, writing nothing. */
KTEST(alloc_events, support_queries_success_information_0_any_output)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    static const ULONG flags[] = { KSEVENT_TYPE_SETSUPPORT, KSEVENT_TYPE_BASICSUPPORT };
    static const ULONG lens[] = { 0, 2, 40 };
    for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
            UCHAR out[40], untouched[40];
            memset(out, 0xEE, sizeof out);
            memset(untouched, 0xEE, sizeof untouched);
            ULONG_PTR info = 0xDEAD;
            NTSTATUS s = freeframe_request(fx.alloc, flags[f], lens[l] != 0 ? out : NULL, lens[l], &info);
            if (s != STATUS_SUCCESS || info != 0)
                ktest_fail_at(__FILE__, __LINE__, "flags 0x%X, output %lu: status 0x%08X, Information %lu",
                              (unsigned)flags[f], (unsigned long)lens[l], (unsigned)s, (unsigned long)info);
            EXPECT_MEM_EQ(out, untouched, sizeof out);
        }
    }
    EXPECT_EQ(km_pool_outstanding_for_tag(TAG_KS_EVENT), 0); /* nothing was enabled */
    fx_close_all(&fx);
}

/* Q14: the event request Flags must be ENABLE or ONESHOT (or a support query): 0 is
 * STATUS_INVALID_PARAMETER; buffered events (ENABLEBUFFERED, QUERYBUFFER) are not modelled:
 * STATUS_NOT_SUPPORTED. Nothing is enabled by any of them. */
KTEST(alloc_events, enable_flags_zero_and_buffered_refused)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    KEVENT ev;
    KSEVENTDATA data;
    fx_event_object_data(&data, &ev);
    ULONG_PTR info = 0xDEAD;
    EXPECT_STATUS(freeframe_request(fx.alloc, 0, &data, sizeof data, &info), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(info, 0);
    info = 0xDEAD;
    EXPECT_STATUS(freeframe_request(fx.alloc, KSEVENT_TYPE_ENABLEBUFFERED, &data, sizeof data, &info),
                  STATUS_NOT_SUPPORTED);
    EXPECT_EQ(info, 0);
    info = 0xDEAD;
    EXPECT_STATUS(freeframe_request(fx.alloc, KSEVENT_TYPE_QUERYBUFFER, &data, sizeof data, &info),
                  STATUS_NOT_SUPPORTED);
    EXPECT_EQ(info, 0);
    EXPECT_EQ(km_pool_outstanding_for_tag(TAG_KS_EVENT), 0);
    alloc_and_free_one(fx.alloc);
    EXPECT_EQ(KeReadStateEvent(&ev), 0); /* no entry was left behind to signal */
    fx_close_all(&fx);
}

/* Q14: ONESHOT is accepted like ENABLE (STATUS_SUCCESS, Information 0); the FREE after it signals
 * the event (Q9), and only once (KSEVENT_TYPE_ONESHOT: KsGenerateEvent fires a one-shot entry once). */
KTEST(alloc_events, oneshot_enable_succeeds_and_fires_once)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    KEVENT ev;
    KSEVENTDATA data;
    fx_event_object_data(&data, &ev);
    ULONG_PTR info = 0xDEAD;
    ASSERT_STATUS(freeframe_request(fx.alloc, KSEVENT_TYPE_ONESHOT, &data, sizeof data, &info), STATUS_SUCCESS);
    EXPECT_EQ(info, 0);
    EXPECT_EQ(km_pool_outstanding_for_tag(TAG_KS_EVENT), 1);
    alloc_and_free_one(fx.alloc);
    EXPECT_EQ(KeReadStateEvent(&ev), 1);
    KeClearEvent(&ev);
    alloc_and_free_one(fx.alloc);
    EXPECT_EQ(KeReadStateEvent(&ev), 0);
    fx_close_all(&fx); /* the entry goes with the allocator (Q15); teardown checks the pool */
}

/* Q14: ENABLE and ONESHOT check sizes as a GET does, MinData being a KSEVENTDATA: no output is the
 * size query (STATUS_BUFFER_OVERFLOW, Information 32). */
KTEST(alloc_events, enable_without_output_is_a_size_query)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    EXPECT_EQ(sizeof(KSEVENTDATA), 32);
    static const ULONG flags[] = { KSEVENT_TYPE_ENABLE, KSEVENT_TYPE_ONESHOT };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        ULONG_PTR info = 0xDEAD;
        EXPECT_STATUS(freeframe_request(fx.alloc, flags[i], NULL, 0, &info), STATUS_BUFFER_OVERFLOW);
        EXPECT_EQ(info, 32);
    }
    EXPECT_EQ(km_pool_outstanding_for_tag(TAG_KS_EVENT), 0);
    fx_close_all(&fx);
}

/* Q9: only KSEVENTF_EVENT_OBJECT and KSEVENTF_SEMAPHORE_OBJECT are modelled; the semaphore-handle
 * and both work-item notifications are STATUS_NOT_SUPPORTED (their pointers look valid, so the type
 * alone is refused), with Information 0 and no entry left. */
KTEST(alloc_events, semaphore_handle_and_work_item_notifications_not_supported)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    WORK_QUEUE_ITEM work;
    memset(&work, 0, sizeof work);
    static const ULONG types[] = { KSEVENTF_SEMAPHORE_HANDLE, KSEVENTF_WORKITEM, KSEVENTF_KSWORKITEM };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        KSEVENTDATA data;
        memset(&data, 0, sizeof data);
        data.NotificationType = types[i];
        if (types[i] == KSEVENTF_SEMAPHORE_HANDLE) {
            data.SemaphoreHandle.Semaphore = (HANDLE)(ULONG_PTR)0x40;
            data.SemaphoreHandle.Adjustment = 1;
        } else {
            data.WorkItem.WorkQueueItem = &work; /* KsWorkItem.WorkQueueItem is the same field */
        }
        ULONG_PTR info = 0xDEAD;
        NTSTATUS s = freeframe_request(fx.alloc, KSEVENT_TYPE_ENABLE, &data, sizeof data, &info);
        if (s != STATUS_NOT_SUPPORTED || info != 0)
            ktest_fail_at(__FILE__, __LINE__, "NotificationType 0x%X: status 0x%08X, Information %lu",
                          (unsigned)types[i], (unsigned)s, (unsigned long)info);
    }
    EXPECT_EQ(km_pool_outstanding_for_tag(TAG_KS_EVENT), 0);
    fx_close_all(&fx);
}

/* KsDisableEvent: a kernel IOCTL_KS_DISABLE_EVENT with no input (NULL or zero length) disables every
 * event this file object enabled (STATUS_SUCCESS, Information 0): the entries are freed and a later
 * FREE signals none of them. */
KTEST(alloc_events, disable_without_input_disables_every_event)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    KEVENT ev;
    KSEVENTDATA ev_data;
    fx_event_object_data(&ev_data, &ev);
    KSEMAPHORE sem;
    KeInitializeSemaphore(&sem, 0, 100);
    KSEVENTDATA sem_data;
    memset(&sem_data, 0, sizeof sem_data);
    sem_data.NotificationType = KSEVENTF_SEMAPHORE_OBJECT;
    sem_data.SemaphoreObject.Semaphore = &sem;
    sem_data.SemaphoreObject.Adjustment = 1;
    /* First with a NULL buffer and no length, then with a buffer and a zero length. */
    static const BOOLEAN with_buffer[] = { FALSE, TRUE };
    for (size_t round = 0; round < 2; round++) {
        ASSERT_STATUS(freeframe_request(fx.alloc, KSEVENT_TYPE_ENABLE, &ev_data, sizeof ev_data, NULL),
                      STATUS_SUCCESS);
        ASSERT_STATUS(freeframe_request(fx.alloc, KSEVENT_TYPE_ENABLE, &sem_data, sizeof sem_data, NULL),
                      STATUS_SUCCESS);
        EXPECT_EQ(km_pool_outstanding_for_tag(TAG_KS_EVENT), 2);
        alloc_and_free_one(fx.alloc); /* both are live */
        EXPECT_EQ(KeReadStateEvent(&ev), 1);
        EXPECT_EQ(sem.Header.SignalState, 1);
        KeClearEvent(&ev);
        sem.Header.SignalState = 0;
        ULONG_PTR info = 0xDEAD;
        EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_DISABLE_EVENT, with_buffer[round] ? &ev_data : NULL, 0, NULL, 0,
                               &info, FALSE),
                      STATUS_SUCCESS);
        EXPECT_EQ(info, 0);
        EXPECT_EQ(km_pool_outstanding_for_tag(TAG_KS_EVENT), 0);
        alloc_and_free_one(fx.alloc);
        EXPECT_EQ(KeReadStateEvent(&ev), 0);
        EXPECT_EQ(sem.Header.SignalState, 0);
        /* Each is gone: disabling it by its KSEVENTDATA finds nothing. */
        EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_DISABLE_EVENT, &ev_data, sizeof ev_data, NULL, 0, NULL, FALSE),
                      STATUS_UNSUCCESSFUL);
        EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_DISABLE_EVENT, &sem_data, sizeof sem_data, NULL, 0, NULL, FALSE),
                      STATUS_UNSUCCESSFUL);
    }
    fx_close_all(&fx);
}

/* The event entry ('KsEv') cannot be allocated: the ENABLE fails with STATUS_INSUFFICIENT_RESOURCES,
 * Information 0, and nothing is enabled (the fault sweep's rule for a failing pool allocation). */
KTEST(alloc_events, event_entry_pool_failure_insufficient_resources)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    KEVENT ev;
    KSEVENTDATA data;
    fx_event_object_data(&data, &ev);
    km_fault_plan plan = { .site = "KsEv" };
    km_fault_arm(&plan);
    ULONG_PTR info = 0xDEAD;
    EXPECT_STATUS(freeframe_request(fx.alloc, KSEVENT_TYPE_ENABLE, &data, sizeof data, &info),
                  STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_EQ(info, 0);
    EXPECT_EQ(km_fault_injected(), 1);
    km_fault_disarm();
    EXPECT_EQ(km_pool_outstanding_for_tag(TAG_KS_EVENT), 0);
    alloc_and_free_one(fx.alloc);
    EXPECT_EQ(KeReadStateEvent(&ev), 0);
    EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_DISABLE_EVENT, &data, sizeof data, NULL, 0, NULL, FALSE),
                  STATUS_UNSUCCESSFUL); /* never enabled */
    /* With the pool back the same request works. */
    EXPECT_STATUS(freeframe_request(fx.alloc, KSEVENT_TYPE_ENABLE, &data, sizeof data, NULL), STATUS_SUCCESS);
    alloc_and_free_one(fx.alloc);
    EXPECT_EQ(KeReadStateEvent(&ev), 1);
    fx_close_all(&fx);
}
