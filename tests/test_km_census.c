/* test_km_census.c: the census and km_rerun that warm runs rest on (km.h "Warm runs"): every kind of
 * live resource changes the census and giving it back restores it; km_rerun resets the per-run state
 * and nothing else; a km_init makes a kept model stale. */
#include "test_drivers.h"

static km_census census(void)
{
    km_census c;
    km_census_take(&c);
    return c;
}

KTEST(km, census_counts_each_live_resource_and_returns_to_equal)
{
    td_load();
    km_census before = census();
    EXPECT_TRUE(before.devices >= 1);
    HANDLE h;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &h), STATUS_SUCCESS);
    km_census open = census();
    EXPECT_EQ(open.handles, before.handles + 1);
    EXPECT_EQ(open.files, before.files + 1);
    EXPECT_FALSE(km_census_equal(&open, &before));

    PVOID file = km_handle_to_file(h);
    ObfReferenceObject(file);
    km_census referenced = census();
    EXPECT_EQ(referenced.file_refs, open.file_refs + 1);
    EXPECT_FALSE(km_census_equal(&referenced, &open));
    ObfDereferenceObject(file);
    km_census back = census();
    EXPECT_TRUE(km_census_equal(&back, &open));

    PVOID block = ExAllocatePoolWithTag(NonPagedPool, 40, 'tsnC');
    ASSERT_TRUE(block != NULL);
    km_census pooled = census();
    EXPECT_EQ(pooled.pool_blocks, open.pool_blocks + 1);
    EXPECT_EQ(pooled.pool_bytes, open.pool_bytes + 40);
    ExFreePoolWithTag(block, 'tsnC');

    NPAGED_LOOKASIDE_LIST list;
    ExInitializeNPagedLookasideList(&list, NULL, NULL, 0, 64, 'tsnC', 0);
    EXPECT_EQ(census().lookasides, open.lookasides + 1);
    ExDeleteNPagedLookasideList(&list);

    EXPECT_STATUS(ZwClose(h), STATUS_SUCCESS);
    km_census closed = census();
    EXPECT_TRUE(km_census_equal(&closed, &before));
}

KTEST(km, rerun_resets_the_per_run_state_and_keeps_objects)
{
    td_load();
    HANDLE h;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &h), STATUS_SUCCESS);
    km_census before = census();
    km_fault_arm(&(km_fault_plan){ .fail_nth = 1 });
    EXPECT_TRUE(ExAllocatePoolWithTag(NonPagedPool, 8, 'tsnC') == NULL);
    km_set_previous_mode(UserMode);
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    km_rerun();
    EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    EXPECT_EQ(ExGetPreviousMode(), KernelMode);
    EXPECT_EQ(km_fault_attempts(), 0);
    EXPECT_EQ(km_fault_injected(), 0);
    PVOID block = ExAllocatePoolWithTag(NonPagedPool, 8, 'tsnC'); /* the plan is gone */
    EXPECT_TRUE(block != NULL);
    ExFreePoolWithTag(block, 'tsnC');
    km_census after = census();
    EXPECT_TRUE(km_census_equal(&after, &before));
    EXPECT_TRUE(km_handle_to_file(h) != NULL);
    EXPECT_STATUS(ZwClose(h), STATUS_SUCCESS);
}

KTEST(km, generation_counts_km_init)
{
    uint64_t g = km_generation();
    km_init();
    EXPECT_EQ(km_generation(), g + 1);
}
