/* sync.c: dispatcher objects (events, semaphores, mutexes), KeWaitForSingleObject and fast mutexes.
 * A blocked wait polls the object's state with sched_yield, since other host threads may signal it.
 * There is no wall clock in the model: a finite non-zero timeout polls a fixed number of times
 * (KM_WAIT_TIMEOUT_POLLS) and then returns STATUS_TIMEOUT, so a timed wait is deterministic. */
#define _POSIX_C_SOURCE 200809L /* sched_yield */
#include "irql_internal.h"

#include <sched.h>

#define KM_WAIT_TIMEOUT_POLLS 64

/* DISPATCHER_HEADER.Type values, as Windows numbers its dispatcher objects. */
enum { KM_OBJ_NOTIFICATION_EVENT = 0, KM_OBJ_SYNCHRONIZATION_EVENT = 1, KM_OBJ_MUTANT = 2, KM_OBJ_SEMAPHORE = 5 };

static void km_header_init(DISPATCHER_HEADER *h, UCHAR type, size_t size, LONG state)
{
    h->Type = type;
    h->Signalling = 0;
    h->Size = (UCHAR)(size / sizeof(LONG));
    h->Reserved1 = 0;
    InitializeListHead(&h->WaitListHead);
    __atomic_store_n(&h->SignalState, state, __ATOMIC_RELEASE);
}

/* Garbage (uninitialised or freed) objects fail API_INVALID_PARAMETER instead of hanging a wait. */
static void km_header_check(const void *object, const char *routine)
{
    KM_VERIFY(API_INVALID_PARAMETER, object != NULL, "%s(NULL)", routine);
    const DISPATCHER_HEADER *h = object;
    bool ok = false;
    switch (h->Type) {
    case KM_OBJ_NOTIFICATION_EVENT:
    case KM_OBJ_SYNCHRONIZATION_EVENT:
        ok = h->Size == sizeof(KEVENT) / sizeof(LONG);
        break;
    case KM_OBJ_MUTANT:
        ok = h->Size == sizeof(KMUTEX) / sizeof(LONG);
        break;
    case KM_OBJ_SEMAPHORE:
        ok = h->Size == sizeof(KSEMAPHORE) / sizeof(LONG);
        break;
    }
    KM_VERIFY(API_INVALID_PARAMETER, ok, "%s on an object that is not an initialised dispatcher object (type %u)",
              routine, h->Type);
}

/* ---- Events (DDI wdm/nf-wdm-keinitializeevent and friends) ---------------------------------- */
VOID KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State)
{
    KM_VERIFY(API_INVALID_PARAMETER, Event != NULL, "KeInitializeEvent(NULL)");
    KM_VERIFY(API_INVALID_PARAMETER, Type == NotificationEvent || Type == SynchronizationEvent,
              "KeInitializeEvent type %d", (int)Type);
    km_header_init(&Event->Header, Type == NotificationEvent ? KM_OBJ_NOTIFICATION_EVENT : KM_OBJ_SYNCHRONIZATION_EVENT,
                   sizeof *Event, State ? 1 : 0);
}

LONG KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait)
{
    km_header_check(Event, "KeSetEvent");
    km_require_irql_at_most(DISPATCH_LEVEL, "KeSetEvent");
    return __atomic_exchange_n(&Event->Header.SignalState, 1, __ATOMIC_ACQ_REL);
}

LONG KeResetEvent(PRKEVENT Event)
{
    km_header_check(Event, "KeResetEvent");
    km_require_irql_at_most(DISPATCH_LEVEL, "KeResetEvent");
    return __atomic_exchange_n(&Event->Header.SignalState, 0, __ATOMIC_ACQ_REL);
}

VOID KeClearEvent(PRKEVENT Event)
{
    km_header_check(Event, "KeClearEvent");
    __atomic_store_n(&Event->Header.SignalState, 0, __ATOMIC_RELEASE);
}

LONG KeReadStateEvent(PRKEVENT Event)
{
    km_header_check(Event, "KeReadStateEvent");
    return __atomic_load_n(&Event->Header.SignalState, __ATOMIC_ACQUIRE);
}

/* ---- Semaphores (DDI wdm/nf-wdm-keinitializesemaphore) ------------------------------------- */
VOID KeInitializeSemaphore(PRKSEMAPHORE Semaphore, LONG Count, LONG Limit)
{
    KM_VERIFY(API_INVALID_PARAMETER, Semaphore != NULL, "KeInitializeSemaphore(NULL)");
    KM_VERIFY(API_INVALID_PARAMETER, Limit > 0 && Count >= 0 && Count <= Limit, "KeInitializeSemaphore count %d limit %d",
              (int)Count, (int)Limit);
    km_header_init(&Semaphore->Header, KM_OBJ_SEMAPHORE, sizeof *Semaphore, Count);
    Semaphore->Limit = Limit;
}

/* Windows raises STATUS_SEMAPHORE_LIMIT_EXCEEDED past the limit; C code cannot catch that. */
LONG KeReleaseSemaphore(PRKSEMAPHORE Semaphore, KPRIORITY Increment, LONG Adjustment, BOOLEAN Wait)
{
    km_header_check(Semaphore, "KeReleaseSemaphore");
    km_require_irql_at_most(DISPATCH_LEVEL, "KeReleaseSemaphore");
    LONG old = __atomic_load_n(&Semaphore->Header.SignalState, __ATOMIC_ACQUIRE);
    do {
        KM_VERIFY(API_INVALID_PARAMETER, Adjustment > 0 && old <= Semaphore->Limit - Adjustment,
                  "KeReleaseSemaphore by %d at count %d, limit %d", (int)Adjustment, (int)old, (int)Semaphore->Limit);
    } while (!__atomic_compare_exchange_n(&Semaphore->Header.SignalState, &old, old + Adjustment, false, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE));
    return old;
}

/* ---- Mutexes (DDI wdm/nf-wdm-keinitializemutex): SignalState 1 is free, 1 - n is held n times --- */
VOID KeInitializeMutex(PRKMUTEX Mutex, ULONG Level)
{
    KM_VERIFY(API_INVALID_PARAMETER, Mutex != NULL, "KeInitializeMutex(NULL)");
    km_header_init(&Mutex->Header, KM_OBJ_MUTANT, sizeof *Mutex, 1);
    InitializeListHead(&Mutex->MutantListEntry);
    __atomic_store_n(&Mutex->OwnerThread, NULL, __ATOMIC_RELEASE);
    Mutex->Abandoned = FALSE;
    Mutex->ApcDisable = 1;
}

LONG KeReleaseMutex(PRKMUTEX Mutex, BOOLEAN Wait)
{
    km_header_check(Mutex, "KeReleaseMutex");
    KM_VERIFY(API_INVALID_PARAMETER, Mutex->Header.Type == KM_OBJ_MUTANT, "KeReleaseMutex on a non-mutex");
    km_require_irql_at_most(DISPATCH_LEVEL, "KeReleaseMutex");
    KM_VERIFY(MUTEX_NOT_OWNER, __atomic_load_n(&Mutex->OwnerThread, __ATOMIC_ACQUIRE) == KeGetCurrentThread(),
              "KeReleaseMutex by thread %u", km_thread_id());
    LONG old = __atomic_load_n(&Mutex->Header.SignalState, __ATOMIC_RELAXED);
    if (old == 0) /* the last release: hand the mutex back before it reads as free */
        __atomic_store_n(&Mutex->OwnerThread, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&Mutex->Header.SignalState, old + 1, __ATOMIC_RELEASE);
    return old;
}

/* ---- Waits (DDI wdm/nf-wdm-kewaitforsingleobject) ------------------------------------------- */
/* Takes the object if it is signalled: the one place each type's "satisfy" rule lives. */
static bool km_wait_try(DISPATCHER_HEADER *h)
{
    LONG state;
    switch (h->Type) {
    case KM_OBJ_NOTIFICATION_EVENT:
        return __atomic_load_n(&h->SignalState, __ATOMIC_ACQUIRE) > 0;
    case KM_OBJ_SYNCHRONIZATION_EVENT:
        state = 1;
        return __atomic_compare_exchange_n(&h->SignalState, &state, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
    case KM_OBJ_SEMAPHORE:
        state = __atomic_load_n(&h->SignalState, __ATOMIC_ACQUIRE);
        while (state > 0)
            if (__atomic_compare_exchange_n(&h->SignalState, &state, state - 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return true;
        return false;
    default: { /* KM_OBJ_MUTANT: recursive acquisition by the owner is allowed, as on Windows */
        KMUTEX *m = (KMUTEX *)h;
        PKTHREAD me = KeGetCurrentThread();
        if (__atomic_load_n(&m->OwnerThread, __ATOMIC_ACQUIRE) == me) {
            __atomic_sub_fetch(&h->SignalState, 1, __ATOMIC_RELAXED);
            return true;
        }
        state = 1;
        if (!__atomic_compare_exchange_n(&h->SignalState, &state, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return false;
        __atomic_store_n(&m->OwnerThread, me, __ATOMIC_RELEASE);
        return true;
    }
    }
}

NTSTATUS KeWaitForSingleObject(PVOID Object, KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,
                               PLARGE_INTEGER Timeout)
{
    km_header_check(Object, "KeWaitForSingleObject");
    KIRQL irql = KeGetCurrentIrql();
    bool may_block = Timeout == NULL || Timeout->QuadPart != 0;
    KM_VERIFY(WAIT_AT_DISPATCH, irql < DISPATCH_LEVEL || !may_block, "KeWaitForSingleObject at IRQL %u with %s timeout",
              irql, Timeout == NULL ? "no" : "a non-zero");
    km_require_irql_at_most(DISPATCH_LEVEL, "KeWaitForSingleObject");
    for (unsigned polls = 0;; polls++) {
        if (km_wait_try(Object))
            return STATUS_SUCCESS;
        if (!may_block || (Timeout != NULL && polls >= KM_WAIT_TIMEOUT_POLLS))
            return STATUS_TIMEOUT;
        sched_yield();
    }
}

/* ---- Fast mutexes (DDI wdm/nf-wdm-exacquirefastmutex): Count 1 is free, 0 is owned ------------ */
VOID ExInitializeFastMutex(PFAST_MUTEX FastMutex)
{
    KM_VERIFY(API_INVALID_PARAMETER, FastMutex != NULL, "ExInitializeFastMutex(NULL)");
    __atomic_store_n(&FastMutex->Owner, NULL, __ATOMIC_RELAXED);
    FastMutex->Contention = 0;
    FastMutex->OldIrql = PASSIVE_LEVEL;
    KeInitializeEvent(&FastMutex->Event, SynchronizationEvent, FALSE);
    __atomic_store_n(&FastMutex->Count, 1, __ATOMIC_RELEASE);
}

static void km_fast_mutex_check(PFAST_MUTEX FastMutex, const char *routine)
{
    KM_VERIFY(API_INVALID_PARAMETER, FastMutex != NULL, "%s(NULL)", routine);
    LONG count = __atomic_load_n(&FastMutex->Count, __ATOMIC_RELAXED);
    KM_VERIFY(API_INVALID_PARAMETER, count == 0 || count == 1, "%s on a fast mutex that was not initialised", routine);
    km_require_irql_at_most(APC_LEVEL, routine);
}

static bool km_fast_mutex_try(PFAST_MUTEX FastMutex)
{
    LONG expected = 1;
    return __atomic_compare_exchange_n(&FastMutex->Count, &expected, 0, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static void km_fast_mutex_taken(PFAST_MUTEX FastMutex, KIRQL old)
{
    __atomic_store_n(&FastMutex->Owner, (PVOID)KeGetCurrentThread(), __ATOMIC_RELAXED);
    FastMutex->OldIrql = old;
}

VOID ExAcquireFastMutex(PFAST_MUTEX FastMutex)
{
    km_fast_mutex_check(FastMutex, "ExAcquireFastMutex");
    KM_VERIFY(MUTEX_RECURSIVE, __atomic_load_n(&FastMutex->Owner, __ATOMIC_RELAXED) != (PVOID)KeGetCurrentThread(),
              "ExAcquireFastMutex by its owner, thread %u", km_thread_id());
    KIRQL old;
    KeRaiseIrql(APC_LEVEL, &old);
    while (!km_fast_mutex_try(FastMutex))
        sched_yield();
    km_fast_mutex_taken(FastMutex, old);
}

BOOLEAN ExTryToAcquireFastMutex(PFAST_MUTEX FastMutex)
{
    km_fast_mutex_check(FastMutex, "ExTryToAcquireFastMutex");
    KIRQL old;
    KeRaiseIrql(APC_LEVEL, &old);
    if (!km_fast_mutex_try(FastMutex)) {
        KeLowerIrql(old);
        return FALSE;
    }
    km_fast_mutex_taken(FastMutex, old);
    return TRUE;
}

VOID ExReleaseFastMutex(PFAST_MUTEX FastMutex)
{
    KM_VERIFY(API_INVALID_PARAMETER, FastMutex != NULL, "ExReleaseFastMutex(NULL)");
    KM_VERIFY(MUTEX_NOT_OWNER, __atomic_load_n(&FastMutex->Owner, __ATOMIC_RELAXED) == (PVOID)KeGetCurrentThread(),
              "ExReleaseFastMutex by thread %u", km_thread_id());
    KIRQL old = (KIRQL)FastMutex->OldIrql;
    __atomic_store_n(&FastMutex->Owner, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&FastMutex->Count, 1, __ATOMIC_RELEASE);
    KeLowerIrql(old);
}
