/* spinlock.c: executive spin locks. The lock word is 0 when free and the owner's km_thread_id()
 * otherwise, so ownership rules are checkable; contention really spins (threads run for real). */
#define _POSIX_C_SOURCE 200809L /* sched_yield */
#include "irql_internal.h"

#include <sched.h>

/* A word that is neither free nor a thread number was never initialised (fresh pool is 0xA5...).
 * The checked paths look up the calling thread's context once and make every check in the order
 * the WDK routine would hit them (word, IRQL, argument, raise, ownership). */
static inline void km_spin_check_word(PKSPIN_LOCK SpinLock, const char *routine)
{
    KM_VERIFY(API_INVALID_PARAMETER, SpinLock != NULL, "%s(NULL)", routine);
    ULONG_PTR word = __atomic_load_n(SpinLock, __ATOMIC_RELAXED);
    KM_VERIFY(API_INVALID_PARAMETER, word <= km_thread_id_max(), "%s on a spin lock that was not initialised",
              routine);
}

static void km_spin_contended(PKSPIN_LOCK SpinLock, ULONG_PTR me)
{
    for (;;) {
        while (__atomic_load_n(SpinLock, __ATOMIC_RELAXED) != 0)
            sched_yield(); /* the owner is another host thread: let it run */
        ULONG_PTR expected = 0;
        if (__atomic_compare_exchange_n(SpinLock, &expected, me, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return;
    }
}

static inline void km_spin_acquire(PKSPIN_LOCK SpinLock, ULONG_PTR me, const char *routine)
{
    KM_VERIFY(SPINLOCK_RECURSIVE, __atomic_load_n(SpinLock, __ATOMIC_RELAXED) != me, "%s by its owner", routine);
    ULONG_PTR expected = 0;
    if (__builtin_expect(!__atomic_compare_exchange_n(SpinLock, &expected, me, false, __ATOMIC_ACQUIRE,
                                                      __ATOMIC_RELAXED), 0))
        km_spin_contended(SpinLock, me);
}

static inline void km_spin_release(PKSPIN_LOCK SpinLock, ULONG_PTR me, const char *routine)
{
    ULONG_PTR owner = __atomic_load_n(SpinLock, __ATOMIC_RELAXED);
    KM_VERIFY(SPINLOCK_NOT_OWNER, owner == me, "%s by thread %u, owner %lu", routine, (unsigned)me,
              (unsigned long)owner);
    __atomic_store_n(SpinLock, 0, __ATOMIC_RELEASE);
}

/* DDI wdm/nf-wdm-keinitializespinlock. */
VOID KeInitializeSpinLock(PKSPIN_LOCK SpinLock)
{
    KM_VERIFY(API_INVALID_PARAMETER, SpinLock != NULL, "KeInitializeSpinLock(NULL)");
    __atomic_store_n(SpinLock, 0, __ATOMIC_RELEASE);
}

/* KeAcquireSpinLock with every check, in order; also the contended path. */
__attribute__((noinline)) static void km_spin_acquire_checked(PKSPIN_LOCK SpinLock, PKIRQL OldIrql)
{
    km_thread_ctx *t = km_thread_current();
    km_spin_check_word(SpinLock, "KeAcquireSpinLock");
    KIRQL irql = t->irql;
    KM_VERIFY(SPINLOCK_WRONG_IRQL, irql <= DISPATCH_LEVEL, "KeAcquireSpinLock at IRQL %u", irql);
    KM_VERIFY(API_INVALID_PARAMETER, OldIrql != NULL, "KeAcquireSpinLock with a NULL OldIrql");
    KM_VERIFY(IRQL_RAISE_TO_LOWER, DISPATCH_LEVEL >= irql, "KeRaiseIrql from %u to %u", irql, DISPATCH_LEVEL);
    *OldIrql = irql;
    t->irql = DISPATCH_LEVEL;
    km_spin_acquire(SpinLock, t->id, "KeAcquireSpinLock");
}

/* DDI wdm/nf-wdm-keacquirespinlock: callable at IRQL <= DISPATCH_LEVEL; raises to DISPATCH_LEVEL
 * (with KeRaiseIrql's rules). The fast path is taken only when every check of the checked path
 * is known to pass: a free word (so neither garbage nor held by the caller), a known thread, IRQL
 * <= DISPATCH_LEVEL and an OldIrql; anything else, including contention, takes the checked path. */
VOID KeAcquireSpinLock(PKSPIN_LOCK SpinLock, PKIRQL OldIrql)
{
    km_thread_ctx *t = &km_current_thread;
    ULONG_PTR me = t->id, expected = 0;
    KIRQL irql = t->irql;
    if (__builtin_expect(me != 0 && SpinLock != NULL && OldIrql != NULL && irql <= DISPATCH_LEVEL &&
                             __atomic_compare_exchange_n(SpinLock, &expected, me, false, __ATOMIC_ACQUIRE,
                                                         __ATOMIC_RELAXED), 1)) {
        *OldIrql = irql;
        t->irql = DISPATCH_LEVEL;
        return;
    }
    km_spin_acquire_checked(SpinLock, OldIrql);
}

/* DDI wdm/nf-wdm-keacquirespinlockraisetodpc. */
KIRQL KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock)
{
    KIRQL old;
    KeAcquireSpinLock(SpinLock, &old);
    return old;
}

/* KeReleaseSpinLock with every check, in order. */
__attribute__((noinline)) static void km_spin_release_checked(PKSPIN_LOCK SpinLock, KIRQL NewIrql)
{
    km_thread_ctx *t = km_thread_current();
    km_spin_check_word(SpinLock, "KeReleaseSpinLock");
    KIRQL irql = t->irql;
    KM_VERIFY(SPINLOCK_WRONG_IRQL, irql == DISPATCH_LEVEL, "KeReleaseSpinLock at IRQL %u", irql);
    km_spin_release(SpinLock, t->id, "KeReleaseSpinLock");
    KM_VERIFY(IRQL_LOWER_TO_HIGHER, NewIrql <= t->irql, "KeLowerIrql from %u to %u", t->irql, NewIrql);
    t->irql = NewIrql;
}

/* DDI wdm/nf-wdm-kereleasespinlock: runs at DISPATCH_LEVEL and lowers to the saved IRQL (with
 * KeLowerIrql's rule). Fast path only when every check is known to pass: the word is the caller's
 * own (a valid) thread number, IRQL is DISPATCH_LEVEL and NewIrql is not above it. */
VOID KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)
{
    km_thread_ctx *t = &km_current_thread;
    ULONG_PTR me = t->id;
    /* me - 1 < max: a known thread (not 0) numbered since km_init (not above max), in one compare. */
    if (__builtin_expect(SpinLock != NULL && t->irql == DISPATCH_LEVEL && NewIrql <= DISPATCH_LEVEL &&
                             (unsigned)(me - 1) < km_thread_id_max() &&
                             __atomic_load_n(SpinLock, __ATOMIC_RELAXED) == me, 1)) {
        __atomic_store_n(SpinLock, 0, __ATOMIC_RELEASE);
        t->irql = NewIrql;
        return;
    }
    km_spin_release_checked(SpinLock, NewIrql);
}

/* DDI wdm/nf-wdm-keacquirespinlockatdpclevel: the caller is already at DISPATCH_LEVEL. */
VOID KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock)
{
    km_thread_ctx *t = km_thread_current();
    km_spin_check_word(SpinLock, "KeAcquireSpinLockAtDpcLevel");
    KIRQL irql = t->irql;
    KM_VERIFY(SPINLOCK_WRONG_IRQL, irql == DISPATCH_LEVEL, "KeAcquireSpinLockAtDpcLevel at IRQL %u", irql);
    km_spin_acquire(SpinLock, t->id, "KeAcquireSpinLockAtDpcLevel");
}

/* DDI wdm/nf-wdm-kereleasespinlockfromdpclevel. */
VOID KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock)
{
    km_thread_ctx *t = km_thread_current();
    km_spin_check_word(SpinLock, "KeReleaseSpinLockFromDpcLevel");
    KIRQL irql = t->irql;
    KM_VERIFY(SPINLOCK_WRONG_IRQL, irql == DISPATCH_LEVEL, "KeReleaseSpinLockFromDpcLevel at IRQL %u", irql);
    km_spin_release(SpinLock, t->id, "KeReleaseSpinLockFromDpcLevel");
}
