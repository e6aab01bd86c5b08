/* test_verifier_negative_core.c: one negative test per core-services verifier check (IRQL, pool,
 * spin locks, mutexes, waits, lookaside lists, bugcheck): each must trip exactly its check. */
#include "ktest.h"

#include <pthread.h>

#define TAG_TEST 0x74736554 /* 'Test' */

/* ---- IRQL ----------------------------------------------------------------------------------- */
KTEST_NEGATIVE(irql_negative, KeRaiseIrql_to_lower, IRQL_RAISE_TO_LOWER)
{
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeRaiseIrql(APC_LEVEL, &old);
}

KTEST_NEGATIVE(irql_negative, KeLowerIrql_to_higher, IRQL_LOWER_TO_HIGHER)
{
    KeLowerIrql(APC_LEVEL);
}

KTEST_NEGATIVE(irql_negative, PAGED_CODE_at_dispatch, IRQL_PAGED_CODE)
{
    KeRaiseIrqlToDpcLevel();
    PAGED_CODE();
}

KTEST_NEGATIVE(irql_negative, ExAllocatePoolWithTag_above_dispatch, IRQL_TOO_HIGH)
{
    KIRQL old;
    KeRaiseIrql(HIGH_LEVEL, &old);
    ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST);
}

KTEST_NEGATIVE(irql_negative, KeRaiseIrql_beyond_high_level, API_INVALID_PARAMETER)
{
    KIRQL old;
    KeRaiseIrql(HIGH_LEVEL + 1, &old);
}

/* ---- Pool ----------------------------------------------------------------------------------- */
KTEST_NEGATIVE(pool_negative, ExAllocatePoolWithTag_paged_at_dispatch, IRQL_PAGED_POOL)
{
    KeRaiseIrqlToDpcLevel();
    ExAllocatePoolWithTag(PagedPool, 8, TAG_TEST);
}

KTEST_NEGATIVE(pool_negative, ExFreePool_paged_at_dispatch, IRQL_PAGED_POOL)
{
    PVOID p = ExAllocatePoolWithTag(PagedPool, 8, TAG_TEST);
    KeRaiseIrqlToDpcLevel();
    ExFreePool(p);
}

KTEST_NEGATIVE(pool_negative, leak_at_teardown, POOL_LEAK)
{
    ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST);
}

KTEST_NEGATIVE(pool_negative, ExFreePool_twice, POOL_FREE_UNKNOWN)
{
    PVOID p = ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST);
    ExFreePool(p);
    ExFreePool(p);
}

KTEST_NEGATIVE(pool_negative, ExFreePool_null, API_INVALID_PARAMETER)
{
    ExFreePool(NULL);
}

KTEST_NEGATIVE(pool_negative, ExFreePool_interior_pointer, POOL_FREE_UNKNOWN)
{
    PUCHAR p = ExAllocatePoolWithTag(NonPagedPool, 32, TAG_TEST);
    ExFreePool(p + 16);
}

KTEST_NEGATIVE(pool_negative, ExFreePoolWithTag_wrong_tag, POOL_TAG_MISMATCH)
{
    PVOID p = ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST);
    ExFreePoolWithTag(p, 0x656E6F4E);
}

KTEST_NEGATIVE(pool_negative, ExAllocatePoolWithTag_must_succeed, POOL_BAD_TYPE)
{
    ExAllocatePoolWithTag(NonPagedPoolMustSucceed, 8, TAG_TEST);
}

KTEST_NEGATIVE(pool_negative, ExAllocatePoolWithTag_garbage_type, POOL_BAD_TYPE)
{
    ExAllocatePoolWithTag((POOL_TYPE)0x1234, 8, TAG_TEST);
}

KTEST_NEGATIVE(pool_negative, ExAllocatePool2_two_kinds, API_INVALID_PARAMETER)
{
    ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_NON_PAGED, 8, TAG_TEST);
}

KTEST_NEGATIVE(pool_negative, ExAllocatePoolWithTag_zero_bytes, POOL_ZERO_SIZE)
{
    ExAllocatePoolWithTag(NonPagedPool, 0, TAG_TEST);
}

KTEST_NEGATIVE(pool_negative, ExAllocatePool2_raise_on_failure, BUGCHECK)
{
    km_fault_arm(&(km_fault_plan){ .fail_nth = 1 });
    ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_RAISE_ON_FAILURE, 8, TAG_TEST);
}

KTEST_NEGATIVE(bugcheck_negative, KeBugCheckEx, BUGCHECK)
{
    KeBugCheckEx(0xC2, 0, 0, 0, 0);
}

/* ---- Spin locks ----------------------------------------------------------------------------- */
KTEST_NEGATIVE(spinlock_negative, KeAcquireSpinLock_twice, SPINLOCK_RECURSIVE)
{
    KSPIN_LOCK lock;
    KIRQL old;
    KeInitializeSpinLock(&lock);
    KeAcquireSpinLock(&lock, &old);
    KeAcquireSpinLockAtDpcLevel(&lock);
}

static void *spinlock_negative_take(void *lock)
{
    KIRQL old;
    KeAcquireSpinLock(lock, &old);
    return NULL; /* exits holding it */
}

KTEST_NEGATIVE(spinlock_negative, KeReleaseSpinLock_by_other_thread, SPINLOCK_NOT_OWNER)
{
    static KSPIN_LOCK lock;
    KeInitializeSpinLock(&lock);
    pthread_t t;
    pthread_create(&t, NULL, spinlock_negative_take, &lock);
    pthread_join(t, NULL);
    KeRaiseIrqlToDpcLevel();
    KeReleaseSpinLock(&lock, PASSIVE_LEVEL);
}

KTEST_NEGATIVE(spinlock_negative, KeReleaseSpinLock_not_held, SPINLOCK_NOT_OWNER)
{
    KSPIN_LOCK lock;
    KeInitializeSpinLock(&lock);
    KeRaiseIrqlToDpcLevel();
    KeReleaseSpinLockFromDpcLevel(&lock);
}

KTEST_NEGATIVE(spinlock_negative, KeAcquireSpinLockAtDpcLevel_at_passive, SPINLOCK_WRONG_IRQL)
{
    KSPIN_LOCK lock;
    KeInitializeSpinLock(&lock);
    KeAcquireSpinLockAtDpcLevel(&lock);
}

KTEST_NEGATIVE(spinlock_negative, KeAcquireSpinLock_above_dispatch, SPINLOCK_WRONG_IRQL)
{
    KSPIN_LOCK lock;
    KIRQL old;
    KeInitializeSpinLock(&lock);
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeAcquireSpinLock(&lock, &old);
}

KTEST_NEGATIVE(spinlock_negative, KeAcquireSpinLock_uninitialised, API_INVALID_PARAMETER)
{
    KSPIN_LOCK *lock = ExAllocatePoolWithTag(NonPagedPool, sizeof *lock, TAG_TEST);
    KIRQL old;
    *lock = (KSPIN_LOCK)0xA5A5A5A5A5A5A5A5ull; /* what fresh pool holds in non-MSan builds */
    KeAcquireSpinLock(lock, &old);
}

/* ---- Mutexes and waits ---------------------------------------------------------------------- */
KTEST_NEGATIVE(sync_negative, KeReleaseMutex_not_owned, MUTEX_NOT_OWNER)
{
    KMUTEX m;
    KeInitializeMutex(&m, 0);
    KeReleaseMutex(&m, FALSE);
}

KTEST_NEGATIVE(sync_negative, ExReleaseFastMutex_not_owned, MUTEX_NOT_OWNER)
{
    FAST_MUTEX m;
    ExInitializeFastMutex(&m);
    ExReleaseFastMutex(&m);
}

KTEST_NEGATIVE(sync_negative, ExAcquireFastMutex_twice, MUTEX_RECURSIVE)
{
    FAST_MUTEX m;
    ExInitializeFastMutex(&m);
    ExAcquireFastMutex(&m);
    ExAcquireFastMutex(&m);
}

KTEST_NEGATIVE(sync_negative, ExAcquireFastMutex_at_dispatch, IRQL_TOO_HIGH)
{
    FAST_MUTEX m;
    ExInitializeFastMutex(&m);
    KeRaiseIrqlToDpcLevel();
    ExAcquireFastMutex(&m);
}

KTEST_NEGATIVE(sync_negative, KeWaitForSingleObject_infinite_at_dispatch, WAIT_AT_DISPATCH)
{
    KEVENT e;
    KeInitializeEvent(&e, NotificationEvent, TRUE);
    KeRaiseIrqlToDpcLevel();
    KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, NULL);
}

KTEST_NEGATIVE(sync_negative, KeWaitForSingleObject_uninitialised, API_INVALID_PARAMETER)
{
    KEVENT e;
    memset(&e, 0xA5, sizeof e);
    KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, NULL);
}

KTEST_NEGATIVE(sync_negative, KeReleaseSemaphore_past_limit, API_INVALID_PARAMETER)
{
    KSEMAPHORE s;
    KeInitializeSemaphore(&s, 1, 1);
    KeReleaseSemaphore(&s, SEMAPHORE_INCREMENT, 1, FALSE);
}

/* ---- Lookaside lists ------------------------------------------------------------------------ */
KTEST_NEGATIVE(lookaside_negative, not_deleted_at_teardown, LOOKASIDE_NOT_DELETED)
{
    static NPAGED_LOOKASIDE_LIST la;
    ExInitializeNPagedLookasideList(&la, NULL, NULL, 0, 8, TAG_TEST, 0);
}

KTEST_NEGATIVE(lookaside_negative, ExFreeToNPagedLookasideList_other_list, LOOKASIDE_WRONG_LIST)
{
    static NPAGED_LOOKASIDE_LIST a, b;
    ExInitializeNPagedLookasideList(&a, NULL, NULL, 0, 8, TAG_TEST, 0);
    ExInitializeNPagedLookasideList(&b, NULL, NULL, 0, 8, TAG_TEST, 0);
    ExFreeToNPagedLookasideList(&b, ExAllocateFromNPagedLookasideList(&a));
}

/* The entry handed out last is freed without the entry-map probe: that must not also let it be
 * freed a second time (it sits in the cache now, so it is not outstanding). */
KTEST_NEGATIVE(lookaside_negative, ExFreeToNPagedLookasideList_twice, LOOKASIDE_WRONG_LIST)
{
    static NPAGED_LOOKASIDE_LIST a;
    ExInitializeNPagedLookasideList(&a, NULL, NULL, 0, 8, TAG_TEST, 0);
    PVOID e = ExAllocateFromNPagedLookasideList(&a);
    ExFreeToNPagedLookasideList(&a, e);
    ExFreeToNPagedLookasideList(&a, e);
}

KTEST_NEGATIVE(lookaside_negative, ExFreeToNPagedLookasideList_pool_block, LOOKASIDE_WRONG_LIST)
{
    static NPAGED_LOOKASIDE_LIST a;
    ExInitializeNPagedLookasideList(&a, NULL, NULL, 0, 8, TAG_TEST, 0);
    ExFreeToNPagedLookasideList(&a, ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST));
}

KTEST_NEGATIVE(lookaside_negative, ExAllocateFromNPagedLookasideList_uninitialised, LOOKASIDE_NOT_INITIALIZED)
{
    static NPAGED_LOOKASIDE_LIST a;
    ExAllocateFromNPagedLookasideList(&a);
}

KTEST_NEGATIVE(lookaside_negative, ExFreeToNPagedLookasideList_after_delete, LOOKASIDE_NOT_INITIALIZED)
{
    static NPAGED_LOOKASIDE_LIST a;
    ExInitializeNPagedLookasideList(&a, NULL, NULL, 0, 8, TAG_TEST, 0);
    PVOID e = ExAllocateFromNPagedLookasideList(&a);
    ExDeleteNPagedLookasideList(&a);
    ExFreeToNPagedLookasideList(&a, e);
}

/* The model renumbers list slots from 0 at every reset (fuzzing stability): a list of an earlier run whose
 * slot a list of this run now holds is still not initialised (its cookie is not the new list's). */
KTEST_NEGATIVE(lookaside_negative, ExAllocateFromNPagedLookasideList_list_of_an_earlier_run, LOOKASIDE_NOT_INITIALIZED)
{
    static NPAGED_LOOKASIDE_LIST a, stale, b;
    ExInitializeNPagedLookasideList(&a, NULL, NULL, 0, 8, TAG_TEST, 0);
    stale = a;
    ExDeleteNPagedLookasideList(&a);
    km_teardown();
    km_init();
    ExInitializeNPagedLookasideList(&b, NULL, NULL, 0, 8, TAG_TEST, 0);
    EXPECT_EQ(b.L.Future[0], stale.L.Future[0]); /* the same slot */
    ExAllocateFromNPagedLookasideList(&stale);
}

KTEST_NEGATIVE(lookaside_negative, ExAllocateFromPagedLookasideList_on_npaged_list, LOOKASIDE_NOT_INITIALIZED)
{
    static NPAGED_LOOKASIDE_LIST a;
    ExInitializeNPagedLookasideList(&a, NULL, NULL, 0, 8, TAG_TEST, 0);
    ExAllocateFromPagedLookasideList((PPAGED_LOOKASIDE_LIST)&a);
}

KTEST_NEGATIVE(lookaside_negative, ExAllocateFromPagedLookasideList_at_dispatch, IRQL_PAGED_POOL)
{
    static PAGED_LOOKASIDE_LIST a;
    ExInitializePagedLookasideList(&a, NULL, NULL, 0, 8, TAG_TEST, 0);
    KeRaiseIrqlToDpcLevel();
    ExAllocateFromPagedLookasideList(&a);
}

KTEST_NEGATIVE(lookaside_negative, ExInitializeNPagedLookasideList_zero_size, API_INVALID_PARAMETER)
{
    static NPAGED_LOOKASIDE_LIST a;
    ExInitializeNPagedLookasideList(&a, NULL, NULL, 0, 0, TAG_TEST, 0);
}

/* ---- Rtl ------------------------------------------------------------------------------------ */
KTEST_NEGATIVE(rtl_negative, RtlCompareUnicodeString_length_without_buffer, API_INVALID_PARAMETER)
{
    UNICODE_STRING a, b = { 6, 6, NULL };
    RtlInitUnicodeString(&a, L"abc");
    RtlCompareUnicodeString(&a, &b, TRUE);
}
