/* spinlock.c: executive spin locks. The lock word is 0 when free and the owner's km_thread_id()
 * otherwise, so ownership rules are checkable; contention really spins (threads run for real). */
#define _POSIX_C_SOURCE 200809L /* sched_yield */
#include "irql_internal.h"

#include <sched.h>

/* A word that is neither free nor a thread number was never initialised (fresh pool is 0xA5...). */
static void km_spin_check_word(PKSPIN_LOCK SpinLock, const char *routine)
{
    KM_VERIFY(API_INVALID_PARAMETER, SpinLock != NULL, "%s(NULL)", routine);
    ULONG_PTR word = __atomic_load_n(SpinLock, __ATOMIC_RELAXED);
    KM_VERIFY(API_INVALID_PARAMETER, word <= km_thread_id_max(), "%s on a spin lock that was not initialised",
              routine);
}

static void km_spin_acquire(PKSPIN_LOCK SpinLock, const char *routine)
{
    ULONG_PTR me = km_thread_id();
    KM_VERIFY(SPINLOCK_RECURSIVE, __atomic_load_n(SpinLock, __ATOMIC_RELAXED) != me, "%s by its owner", routine);
    for (;;) {
        ULONG_PTR expected = 0;
        if (__atomic_compare_exchange_n(SpinLock, &expected, me, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return;
        while (__atomic_load_n(SpinLock, __ATOMIC_RELAXED) != 0)
            sched_yield(); /* the owner is another host thread: let it run */
    }
}

static void km_spin_release(PKSPIN_LOCK SpinLock, const char *routine)
{
    ULONG_PTR owner = __atomic_load_n(SpinLock, __ATOMIC_RELAXED);
    KM_VERIFY(SPINLOCK_NOT_OWNER, owner == km_thread_id(), "%s by thread %u, owner %lu", routine, km_thread_id(),
              (unsigned long)owner);
    __atomic_store_n(SpinLock, 0, __ATOMIC_RELEASE);
}

/* DDI wdm/nf-wdm-keinitializespinlock. */
VOID KeInitializeSpinLock(PKSPIN_LOCK SpinLock)
{
    KM_VERIFY(API_INVALID_PARAMETER, SpinLock != NULL, "KeInitializeSpinLock(NULL)");
    __atomic_store_n(SpinLock, 0, __ATOMIC_RELEASE);
}

/* DDI wdm/nf-wdm-keacquirespinlock: callable at IRQL <= DISPATCH_LEVEL; raises to DISPATCH_LEVEL. */
VOID KeAcquireSpinLock(PKSPIN_LOCK SpinLock, PKIRQL OldIrql)
{
    km_spin_check_word(SpinLock, "KeAcquireSpinLock");
    KIRQL irql = KeGetCurrentIrql();
    KM_VERIFY(SPINLOCK_WRONG_IRQL, irql <= DISPATCH_LEVEL, "KeAcquireSpinLock at IRQL %u", irql);
    KM_VERIFY(API_INVALID_PARAMETER, OldIrql != NULL, "KeAcquireSpinLock with a NULL OldIrql");
    KeRaiseIrql(DISPATCH_LEVEL, OldIrql);
    km_spin_acquire(SpinLock, "KeAcquireSpinLock");
}

/* DDI wdm/nf-wdm-keacquirespinlockraisetodpc. */
KIRQL KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock)
{
    KIRQL old;
    KeAcquireSpinLock(SpinLock, &old);
    return old;
}

/* DDI wdm/nf-wdm-kereleasespinlock: runs at DISPATCH_LEVEL and lowers to the saved IRQL. */
VOID KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)
{
    km_spin_check_word(SpinLock, "KeReleaseSpinLock");
    KIRQL irql = KeGetCurrentIrql();
    KM_VERIFY(SPINLOCK_WRONG_IRQL, irql == DISPATCH_LEVEL, "KeReleaseSpinLock at IRQL %u", irql);
    km_spin_release(SpinLock, "KeReleaseSpinLock");
    KeLowerIrql(NewIrql);
}

/* DDI wdm/nf-wdm-keacquirespinlockatdpclevel: the caller is already at DISPATCH_LEVEL. */
VOID KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock)
{
    km_spin_check_word(SpinLock, "KeAcquireSpinLockAtDpcLevel");
    KIRQL irql = KeGetCurrentIrql();
    KM_VERIFY(SPINLOCK_WRONG_IRQL, irql == DISPATCH_LEVEL, "KeAcquireSpinLockAtDpcLevel at IRQL %u", irql);
    km_spin_acquire(SpinLock, "KeAcquireSpinLockAtDpcLevel");
}

/* DDI wdm/nf-wdm-kereleasespinlockfromdpclevel. */
VOID KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock)
{
    km_spin_check_word(SpinLock, "KeReleaseSpinLockFromDpcLevel");
    KIRQL irql = KeGetCurrentIrql();
    KM_VERIFY(SPINLOCK_WRONG_IRQL, irql == DISPATCH_LEVEL, "KeReleaseSpinLockFromDpcLevel at IRQL %u", irql);
    km_spin_release(SpinLock, "KeReleaseSpinLockFromDpcLevel");
}
