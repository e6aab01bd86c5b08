/* test_irql.c: per-thread IRQL, previous mode and thread identity. */
#include "ktest.h"

#include <pthread.h>

KTEST(irql, KeRaiseIrql_and_KeLowerIrql_round_trip)
{
    EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    KIRQL old = 0xFF;
    KeRaiseIrql(APC_LEVEL, &old);
    EXPECT_EQ(old, PASSIVE_LEVEL);
    EXPECT_EQ(KeGetCurrentIrql(), APC_LEVEL);
    EXPECT_EQ(KeRaiseIrqlToDpcLevel(), APC_LEVEL);
    EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeRaiseIrql(DISPATCH_LEVEL, &old); /* raising to the same level is allowed */
    EXPECT_EQ(old, DISPATCH_LEVEL);
    KeLowerIrql(APC_LEVEL);
    KeLowerIrql(PASSIVE_LEVEL);
    EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

KTEST(irql, PAGED_CODE_passes_at_apc_level)
{
    KIRQL old;
    KeRaiseIrql(APC_LEVEL, &old);
    PAGED_CODE();
    KeLowerIrql(old);
}

static void *irql_other_thread(void *arg)
{
    KIRQL *seen = arg;
    seen[0] = KeGetCurrentIrql();
    seen[1] = (KIRQL)ExGetPreviousMode();
    return KeGetCurrentThread();
}

KTEST(irql, thread_context_is_per_thread)
{
    KIRQL old, seen[2] = { 0xFF, 0xFF };
    km_set_previous_mode(UserMode);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    pthread_t t;
    void *other = NULL;
    ASSERT_TRUE(pthread_create(&t, NULL, irql_other_thread, seen) == 0);
    pthread_join(t, &other);
    KeLowerIrql(old);
    EXPECT_EQ(seen[0], PASSIVE_LEVEL);
    EXPECT_EQ(seen[1], KernelMode);
    EXPECT_EQ(ExGetPreviousMode(), UserMode);
    EXPECT_TRUE(other != NULL && other != (void *)KeGetCurrentThread());
}

KTEST(irql, km_init_starts_in_kernel_mode_at_passive)
{
    EXPECT_EQ(ExGetPreviousMode(), KernelMode);
    EXPECT_EQ(KeGetPreviousMode(), KernelMode);
    EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    km_set_previous_mode(UserMode);
    EXPECT_EQ(ExGetPreviousMode(), UserMode);
}
