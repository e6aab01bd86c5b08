/* test_spinlock.c: executive spin locks: IRQL effects, ownership, and mutual exclusion under threads. */
#include "ktest.h"

#include <pthread.h>

KTEST(spinlock, KeAcquireSpinLock_raises_and_KeReleaseSpinLock_restores)
{
    KSPIN_LOCK lock;
    KeInitializeSpinLock(&lock);
    EXPECT_EQ(lock, 0);
    KIRQL old = 0xFF;
    KeAcquireSpinLock(&lock, &old);
    EXPECT_EQ(old, PASSIVE_LEVEL);
    EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    EXPECT_NE(lock, 0);
    KeReleaseSpinLock(&lock, old);
    EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    EXPECT_EQ(lock, 0);
}

KTEST(spinlock, KeAcquireSpinLockRaiseToDpc_from_apc_returns_apc)
{
    KSPIN_LOCK lock;
    KeInitializeSpinLock(&lock);
    KIRQL old;
    KeRaiseIrql(APC_LEVEL, &old);
    KIRQL saved = KeAcquireSpinLockRaiseToDpc(&lock);
    EXPECT_EQ(saved, APC_LEVEL);
    KeReleaseSpinLock(&lock, saved);
    EXPECT_EQ(KeGetCurrentIrql(), APC_LEVEL);
    KeLowerIrql(old);
}

KTEST(spinlock, KeAcquireSpinLockAtDpcLevel_keeps_irql)
{
    KSPIN_LOCK a, b;
    KeInitializeSpinLock(&a);
    KeInitializeSpinLock(&b);
    KIRQL old;
    KeAcquireSpinLock(&a, &old);
    KeAcquireSpinLockAtDpcLevel(&b);
    EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeReleaseSpinLockFromDpcLevel(&b);
    EXPECT_EQ(b, 0);
    EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeReleaseSpinLock(&a, old);
}

#define SPIN_THREADS 4
#define SPIN_ROUNDS 2000

static struct {
    KSPIN_LOCK lock;
    long counter; /* protected by lock only: TSan reports a race if the lock does not exclude */
} spin_shared;

static void *spin_worker(void *arg)
{
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        KIRQL old;
        KeAcquireSpinLock(&spin_shared.lock, &old);
        spin_shared.counter++;
        KeReleaseSpinLock(&spin_shared.lock, old);
    }
    return NULL;
}

KTEST(spinlock, KeAcquireSpinLock_excludes_other_threads)
{
    KeInitializeSpinLock(&spin_shared.lock);
    pthread_t t[SPIN_THREADS];
    for (int i = 0; i < SPIN_THREADS; i++)
        ASSERT_TRUE(pthread_create(&t[i], NULL, spin_worker, NULL) == 0);
    for (int i = 0; i < SPIN_THREADS; i++)
        pthread_join(t[i], NULL);
    EXPECT_EQ(spin_shared.counter, SPIN_THREADS * SPIN_ROUNDS);
    EXPECT_EQ(spin_shared.lock, 0);
}
