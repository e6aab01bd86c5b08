/* test_sync.c: events, semaphores, mutexes, fast mutexes and KeWaitForSingleObject. */
#include "ktest.h"

#include <pthread.h>

static LARGE_INTEGER sync_zero = { .QuadPart = 0 };
static LARGE_INTEGER sync_ten_ms = { .QuadPart = -100000 }; /* relative 10 ms, in 100 ns units */

KTEST(sync, KeSetEvent_notification_stays_signalled)
{
    KEVENT e;
    KeInitializeEvent(&e, NotificationEvent, FALSE);
    EXPECT_EQ(KeReadStateEvent(&e), 0);
    EXPECT_STATUS(KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &sync_zero), STATUS_TIMEOUT);
    EXPECT_EQ(KeSetEvent(&e, IO_NO_INCREMENT, FALSE), 0);
    EXPECT_EQ(KeSetEvent(&e, IO_NO_INCREMENT, FALSE), 1);
    EXPECT_STATUS(KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    EXPECT_STATUS(KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &sync_zero), STATUS_SUCCESS);
    EXPECT_EQ(KeResetEvent(&e), 1);
    EXPECT_EQ(KeReadStateEvent(&e), 0);
}

KTEST(sync, KeWaitForSingleObject_synchronization_event_resets)
{
    KEVENT e;
    KeInitializeEvent(&e, SynchronizationEvent, TRUE);
    EXPECT_EQ(KeReadStateEvent(&e), 1);
    EXPECT_STATUS(KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    EXPECT_EQ(KeReadStateEvent(&e), 0);
    EXPECT_STATUS(KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &sync_ten_ms), STATUS_TIMEOUT);
    KeSetEvent(&e, IO_NO_INCREMENT, FALSE);
    KeClearEvent(&e);
    EXPECT_STATUS(KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &sync_zero), STATUS_TIMEOUT);
}

KTEST(sync, KeWaitForSingleObject_zero_timeout_at_dispatch_is_allowed)
{
    KEVENT e;
    KeInitializeEvent(&e, NotificationEvent, TRUE);
    KIRQL old = KeRaiseIrqlToDpcLevel();
    EXPECT_STATUS(KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &sync_zero), STATUS_SUCCESS);
    KeLowerIrql(old);
}

static void *sync_setter(void *arg)
{
    KeSetEvent(arg, IO_NO_INCREMENT, FALSE);
    return NULL;
}

KTEST(sync, KeWaitForSingleObject_wakes_on_another_threads_KeSetEvent)
{
    static KEVENT e;
    KeInitializeEvent(&e, SynchronizationEvent, FALSE);
    pthread_t t;
    ASSERT_TRUE(pthread_create(&t, NULL, sync_setter, &e) == 0);
    EXPECT_STATUS(KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    pthread_join(t, NULL);
    EXPECT_EQ(KeReadStateEvent(&e), 0);
}

KTEST(sync, KeReleaseSemaphore_counts_up_to_limit)
{
    KSEMAPHORE s;
    KeInitializeSemaphore(&s, 1, 3);
    EXPECT_STATUS(KeWaitForSingleObject(&s, Executive, KernelMode, FALSE, &sync_zero), STATUS_SUCCESS);
    EXPECT_STATUS(KeWaitForSingleObject(&s, Executive, KernelMode, FALSE, &sync_zero), STATUS_TIMEOUT);
    EXPECT_EQ(KeReleaseSemaphore(&s, SEMAPHORE_INCREMENT, 3, FALSE), 0);
    for (int i = 0; i < 3; i++)
        EXPECT_STATUS(KeWaitForSingleObject(&s, Executive, KernelMode, FALSE, &sync_zero), STATUS_SUCCESS);
    EXPECT_STATUS(KeWaitForSingleObject(&s, Executive, KernelMode, FALSE, &sync_zero), STATUS_TIMEOUT);
}

KTEST(sync, KeWaitForSingleObject_mutex_is_recursive_for_its_owner)
{
    KMUTEX m;
    KeInitializeMutex(&m, 0);
    EXPECT_STATUS(KeWaitForMutexObject(&m, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    EXPECT_STATUS(KeWaitForMutexObject(&m, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    EXPECT_TRUE(m.OwnerThread == KeGetCurrentThread());
    EXPECT_EQ(KeReleaseMutex(&m, FALSE), -1);
    EXPECT_TRUE(m.OwnerThread == KeGetCurrentThread());
    EXPECT_EQ(KeReleaseMutex(&m, FALSE), 0); /* DDI: zero means released and now signalled */
    EXPECT_TRUE(m.OwnerThread == NULL);
    EXPECT_EQ(m.Header.SignalState, 1);
}

static void *sync_try_mutex(void *arg)
{
    return (void *)(uintptr_t)(KeWaitForSingleObject(arg, Executive, KernelMode, FALSE, &sync_zero) == STATUS_SUCCESS);
}

KTEST(sync, KeWaitForSingleObject_mutex_excludes_other_threads)
{
    static KMUTEX m;
    KeInitializeMutex(&m, 0);
    ASSERT_STATUS(KeWaitForSingleObject(&m, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    pthread_t t;
    void *got = (void *)1;
    ASSERT_TRUE(pthread_create(&t, NULL, sync_try_mutex, &m) == 0);
    pthread_join(t, &got);
    EXPECT_TRUE(got == NULL);
    KeReleaseMutex(&m, FALSE);
}

KTEST(sync, ExAcquireFastMutex_raises_to_apc_and_restores)
{
    FAST_MUTEX m;
    ExInitializeFastMutex(&m);
    ExAcquireFastMutex(&m);
    EXPECT_EQ(KeGetCurrentIrql(), APC_LEVEL);
    EXPECT_TRUE(m.Owner == (PVOID)KeGetCurrentThread());
    ExReleaseFastMutex(&m);
    EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    EXPECT_TRUE(ExTryToAcquireFastMutex(&m));
    EXPECT_EQ(KeGetCurrentIrql(), APC_LEVEL);
    ExReleaseFastMutex(&m);
}

static void *sync_try_fast(void *arg)
{
    BOOLEAN got = ExTryToAcquireFastMutex(arg);
    KIRQL irql = KeGetCurrentIrql();
    if (got)
        ExReleaseFastMutex(arg);
    return (void *)(uintptr_t)(got ? 100 + irql : irql);
}

KTEST(sync, ExTryToAcquireFastMutex_fails_while_owned)
{
    static FAST_MUTEX m;
    ExInitializeFastMutex(&m);
    ExAcquireFastMutex(&m);
    pthread_t t;
    void *got = NULL;
    ASSERT_TRUE(pthread_create(&t, NULL, sync_try_fast, &m) == 0);
    pthread_join(t, &got);
    EXPECT_EQ((uintptr_t)got, PASSIVE_LEVEL); /* refused, and its IRQL went back down */
    ExReleaseFastMutex(&m);
}

#define SYNC_THREADS 4
#define SYNC_ROUNDS 500
static struct {
    FAST_MUTEX fast;
    KMUTEX mutex;
    long fast_counter, mutex_counter;
} sync_shared;

static void *sync_worker(void *arg)
{
    for (int i = 0; i < SYNC_ROUNDS; i++) {
        ExAcquireFastMutex(&sync_shared.fast);
        sync_shared.fast_counter++;
        ExReleaseFastMutex(&sync_shared.fast);
        KeWaitForSingleObject(&sync_shared.mutex, Executive, KernelMode, FALSE, NULL);
        sync_shared.mutex_counter++;
        KeReleaseMutex(&sync_shared.mutex, FALSE);
    }
    return NULL;
}

KTEST(sync, mutexes_exclude_under_contention)
{
    ExInitializeFastMutex(&sync_shared.fast);
    KeInitializeMutex(&sync_shared.mutex, 0);
    pthread_t t[SYNC_THREADS];
    for (int i = 0; i < SYNC_THREADS; i++)
        ASSERT_TRUE(pthread_create(&t[i], NULL, sync_worker, NULL) == 0);
    for (int i = 0; i < SYNC_THREADS; i++)
        pthread_join(t[i], NULL);
    EXPECT_EQ(sync_shared.fast_counter, SYNC_THREADS * SYNC_ROUNDS);
    EXPECT_EQ(sync_shared.mutex_counter, SYNC_THREADS * SYNC_ROUNDS);
}
