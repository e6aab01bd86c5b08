/* test_pool.c: executive pool: alignment, fill, stats, tags, sites, fault plans. */
#include "ktest.h"

#include <string.h>

#define TAG_TEST 0x74736554 /* 'Test' in memory order */
#define TAG_OTHR 0x7268744F /* 'Othr' */

KTEST(pool, ExAllocatePoolWithTag_records_and_frees)
{
    km_pool_stats s;
    PUCHAR p = ExAllocatePoolWithTag(NonPagedPoolNx, 24, TAG_TEST);
    ASSERT_TRUE(p != NULL);
    EXPECT_EQ((uintptr_t)p % 16, 0);
    km_pool_get_stats(&s);
    EXPECT_EQ(s.allocations, 1);
    EXPECT_EQ(s.outstanding, 1);
    EXPECT_EQ(s.outstanding_bytes, 24);
    EXPECT_EQ(km_pool_outstanding_for_tag(TAG_TEST), 1);
    EXPECT_EQ(km_pool_outstanding_for_tag(TAG_OTHR), 0);
    ExFreePoolWithTag(p, TAG_TEST);
    km_pool_get_stats(&s);
    EXPECT_EQ(s.frees, 1);
    EXPECT_EQ(s.outstanding, 0);
    EXPECT_EQ(s.outstanding_bytes, 0);
    EXPECT_EQ(km_pool_outstanding_for_tag(TAG_TEST), 0);
}

KTEST(pool, ExAllocatePoolZero_zeroes)
{
    PUCHAR p = ExAllocatePoolZero(PagedPool, 100, TAG_TEST);
    ASSERT_TRUE(p != NULL);
    UCHAR zero[100] = { 0 };
    EXPECT_MEM_EQ(p, zero, sizeof zero);
    ExFreePool(p);
}

KTEST(pool, ExAllocatePool2_zeroes_unless_uninitialized)
{
    PUCHAR p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, TAG_TEST);
    ASSERT_TRUE(p != NULL);
    UCHAR zero[64] = { 0 };
    EXPECT_MEM_EQ(p, zero, sizeof zero);
    ExFreePoolWithTag(p, TAG_TEST);
    p = ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_UNINITIALIZED | POOL_FLAG_CACHE_ALIGNED, 8, TAG_TEST);
    ASSERT_TRUE(p != NULL);
    EXPECT_EQ((uintptr_t)p % 64, 0);
    ExFreePoolWithTag(p, TAG_TEST);
}

KTEST(pool, ExAllocatePoolWithTag_alignment_follows_type_and_size)
{
    /* DDI: CacheAligned types are cache-line aligned; PAGE_SIZE or more is page aligned. */
    PVOID a = ExAllocatePoolWithTag(NonPagedPoolCacheAligned, 8, TAG_TEST);
    PVOID b = ExAllocatePoolWithTag(NonPagedPool, PAGE_SIZE, TAG_TEST);
    PVOID c = ExAllocatePoolWithTag(PagedPool, 3 * PAGE_SIZE + 1, TAG_TEST);
    ASSERT_TRUE(a != NULL && b != NULL && c != NULL);
    EXPECT_EQ((uintptr_t)a % 64, 0);
    EXPECT_EQ((uintptr_t)b % PAGE_SIZE, 0);
    EXPECT_EQ((uintptr_t)c % PAGE_SIZE, 0);
    ExFreePool(a);
    ExFreePool(b);
    ExFreePool(c);
}

KTEST(pool, ExAllocatePool_uses_tag_None)
{
    PVOID p = ExAllocatePool(NonPagedPool, 4);
    ASSERT_TRUE(p != NULL);
    EXPECT_EQ(km_pool_outstanding_for_tag(0x656E6F4E), 1);
    ExFreePoolWithTag(p, 0x656E6F4E);
}

KTEST(pool, ExAllocatePoolWithTag_fresh_memory_is_not_zero)
{
    /* Code that forgets to initialise pool must not be rescued by zeroed host memory. Under MSan
     * the model leaves it uninitialised instead, so only check the pattern elsewhere. */
#if defined(__has_feature)
#if __has_feature(memory_sanitizer)
    KTEST_SKIP("MSan build leaves fresh pool uninitialised");
#endif
#endif
    PUCHAR p = ExAllocatePoolWithTag(NonPagedPool, 32, TAG_TEST);
    ASSERT_TRUE(p != NULL);
    for (int i = 0; i < 32; i++)
        EXPECT_EQ(p[i], 0xA5);
    ExFreePool(p);
}

KTEST(pool, ExAllocatePoolWithTag_huge_request_returns_null)
{
    EXPECT_TRUE(ExAllocatePoolWithTag(NonPagedPool, 0xFFFFFFFFu, TAG_TEST) == NULL);
    EXPECT_TRUE(ExAllocatePoolWithTag(NonPagedPool, (SIZE_T)-1, TAG_TEST) == NULL);
    km_pool_stats s;
    km_pool_get_stats(&s);
    EXPECT_EQ(s.allocations, 0);
    EXPECT_EQ(s.outstanding, 0);
}

/* Large blocks (1 MiB or more, in whole MiB) have a budget too, 512 MiB: 8 blocks of 64 MiB fit, a
 * ninth large request is refused and counted as failed, a small one is not (the interpreter's own
 * queries must not fail), and once a large block is freed there is room again. */
KTEST(pool, ExAllocatePoolWithTag_past_the_large_budget_returns_null)
{
    const SIZE_T block = (SIZE_T)64 << 20;
    PVOID held[8];
    for (int i = 0; i < 8; i++) {
        held[i] = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, block, TAG_TEST);
        ASSERT_TRUE(held[i] != NULL);
    }
    EXPECT_TRUE(ExAllocatePoolWithTag(NonPagedPool, (SIZE_T)1 << 20, TAG_TEST) == NULL);
    km_pool_stats s;
    km_pool_get_stats(&s);
    EXPECT_EQ(s.outstanding, 8);
    EXPECT_EQ(s.failed, 1);
    PVOID small = ExAllocatePoolWithTag(NonPagedPool, 16, TAG_TEST);
    EXPECT_TRUE(small != NULL);
    ExFreePoolWithTag(small, TAG_TEST);
    ExFreePoolWithTag(held[7], TAG_TEST);
    PVOID large = ExAllocatePoolWithTag(NonPagedPool, (SIZE_T)1 << 20, TAG_TEST);
    EXPECT_TRUE(large != NULL);
    ExFreePoolWithTag(large, TAG_TEST);
    for (int i = 0; i < 7; i++)
        ExFreePoolWithTag(held[i], TAG_TEST);
}

KTEST(pool, km_pool_site_name_lists_sites_in_first_use_order)
{
    PVOID a = ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST); int line_a = __LINE__;
    PVOID b = ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST); int line_b = __LINE__;
    for (int i = 0; i < 3; i++)
        ExFreePool(ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST));
    char want[64];
    ASSERT_TRUE(km_pool_site_count() == 3);
    snprintf(want, sizeof want, "test_pool.c:%d", line_a);
    EXPECT_TRUE(strcmp(km_pool_site_name(0), want) == 0);
    snprintf(want, sizeof want, "test_pool.c:%d", line_b);
    EXPECT_TRUE(strcmp(km_pool_site_name(1), want) == 0);
    EXPECT_TRUE(km_pool_site_name(3) == NULL);
    ExFreePool(a);
    ExFreePool(b);
}

KTEST(pool, km_fault_arm_fails_the_nth_and_the_also)
{
    km_fault_arm(&(km_fault_plan){ .fail_nth = 2, .fail_nth_also = 4 });
    PVOID p[5];
    for (int i = 0; i < 5; i++)
        p[i] = ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST);
    EXPECT_TRUE(p[0] != NULL);
    EXPECT_TRUE(p[1] == NULL);
    EXPECT_TRUE(p[2] != NULL);
    EXPECT_TRUE(p[3] == NULL);
    EXPECT_TRUE(p[4] != NULL);
    EXPECT_EQ(km_fault_attempts(), 5);
    EXPECT_EQ(km_fault_injected(), 2);
    km_pool_stats s;
    km_pool_get_stats(&s);
    EXPECT_EQ(s.failed, 2);
    EXPECT_EQ(s.allocations, 3);
    for (int i = 0; i < 5; i++)
        if (p[i] != NULL)
            ExFreePool(p[i]);
}

KTEST(pool, km_fault_last_site_names_the_failed_allocation)
{
    EXPECT_TRUE(km_fault_last_site() == NULL); /* nothing injected since km_init */
    km_fault_arm(&(km_fault_plan){ .fail_nth = 2 });
    PVOID a = ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST);
    EXPECT_TRUE(km_fault_last_site() == NULL);
    int line = __LINE__ + 1;
    PVOID b = ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST);
    EXPECT_TRUE(b == NULL);
    char want[64];
    snprintf(want, sizeof want, "test_pool.c:%d", line);
    EXPECT_TRUE(km_fault_last_site() != NULL && strcmp(km_fault_last_site(), want) == 0);
    km_fault_arm(&(km_fault_plan){ .fail_nth = 5 }); /* re-arming forgets it */
    EXPECT_TRUE(km_fault_last_site() == NULL);
    ExFreePool(a);
}

KTEST(pool, km_fault_arm_site_matches_tag_file_and_line)
{
    km_fault_arm(&(km_fault_plan){ .site = "Othr" });
    PVOID ok = ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST);
    EXPECT_TRUE(ExAllocatePoolWithTag(NonPagedPool, 8, TAG_OTHR) == NULL);
    EXPECT_TRUE(ok != NULL);
    ExFreePool(ok);

    char site[64];
    snprintf(site, sizeof site, "test_pool.c:%d", __LINE__ + 2);
    km_fault_arm(&(km_fault_plan){ .site = site });
    EXPECT_TRUE(ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST) == NULL);
    ok = ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST);
    EXPECT_TRUE(ok != NULL);
    ExFreePool(ok);

    km_fault_arm(&(km_fault_plan){ .site = "test_pool.c" });
    EXPECT_TRUE(ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST) == NULL);
    EXPECT_EQ(km_fault_injected(), 1);
    km_fault_disarm();
    ok = ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST);
    EXPECT_TRUE(ok != NULL);
    ExFreePool(ok);
}

KTEST(pool, km_fault_attempts_count_from_km_init)
{
    ExFreePool(ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST));
    ExFreePool(ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST));
    EXPECT_EQ(km_fault_attempts(), 2);
    EXPECT_EQ(km_fault_injected(), 0);
}

KTEST(pool, ExAllocatePoolWithTag_paged_at_apc_level_is_allowed)
{
    KIRQL old;
    KeRaiseIrql(APC_LEVEL, &old);
    PVOID p = ExAllocatePoolWithTag(PagedPool, 8, TAG_TEST);
    ASSERT_TRUE(p != NULL);
    ExFreePool(p);
    KeLowerIrql(old);
}

KTEST(pool, ExAllocatePoolWithTag_nonpaged_at_dispatch_level_is_allowed)
{
    KIRQL old = KeRaiseIrqlToDpcLevel();
    PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 8, TAG_TEST);
    ASSERT_TRUE(p != NULL);
    ExFreePoolWithTag(p, TAG_TEST);
    KeLowerIrql(old);
}

static PVOID (*pool_allocate_fn)(POOL_TYPE, SIZE_T, ULONG) = &ExAllocatePoolWithTag;

KTEST(pool, ExAllocatePoolWithTag_through_a_pointer_has_site_unknown)
{
    PVOID p = pool_allocate_fn(NonPagedPool, 8, TAG_TEST);
    ASSERT_TRUE(p != NULL);
    EXPECT_EQ(km_pool_site_count(), 1);
    EXPECT_TRUE(strcmp(km_pool_site_name(0), "unknown") == 0);
    ExFreePoolWithTag(p, TAG_TEST);
}

KTEST(pool, km_fault_arm_failure_counts_in_stats_failed)
{
    km_fault_arm(&(km_fault_plan){ .site = "Test" });
    EXPECT_TRUE(ExAllocatePoolZero(NonPagedPool, 8, TAG_TEST) == NULL);
    EXPECT_TRUE(ExAllocatePool2(POOL_FLAG_PAGED, 8, TAG_TEST) == NULL);
    km_pool_stats s;
    km_pool_get_stats(&s);
    EXPECT_EQ(s.failed, 2);
    EXPECT_EQ(s.allocations, 0);
    EXPECT_EQ(km_fault_injected(), 2);
}

#if defined(__has_feature)
#if __has_feature(memory_sanitizer)
#include <sanitizer/msan_interface.h>
KTEST(pool, ExAllocatePoolWithTag_fresh_memory_is_uninitialised_for_msan)
{
    PUCHAR p = ExAllocatePoolWithTag(NonPagedPool, 32, TAG_TEST);
    ASSERT_TRUE(p != NULL);
    EXPECT_EQ(__msan_test_shadow(p, 32), 0); /* the first byte is already uninitialised */
    PUCHAR z = ExAllocatePoolZero(NonPagedPool, 32, TAG_TEST);
    ASSERT_TRUE(z != NULL);
    EXPECT_EQ(__msan_test_shadow(z, 32), -1);
    ExFreePool(p);
    ExFreePool(z);
}
#endif
#endif
