/* test_lookaside.c: lookaside lists: default pool backing, reuse, counters, callbacks, fault plans. */
#include "ktest.h"

#include <pthread.h>

#define TAG_LA 0x6C61734B /* 'Ksal' */

KTEST(lookaside, ExAllocateFromNPagedLookasideList_uses_pool_with_list_tag)
{
    NPAGED_LOOKASIDE_LIST la;
    ExInitializeNPagedLookasideList(&la, NULL, NULL, 0, 40, TAG_LA, 0);
    EXPECT_EQ(la.L.Size, 40);
    EXPECT_EQ(la.L.Tag, TAG_LA);
    EXPECT_EQ(la.L.Type, NonPagedPool);
    PVOID a = ExAllocateFromNPagedLookasideList(&la);
    ASSERT_TRUE(a != NULL);
    EXPECT_EQ(km_pool_outstanding_for_tag(TAG_LA), 1);
    km_pool_stats s;
    km_pool_get_stats(&s);
    EXPECT_EQ(s.outstanding_bytes, 40);
    ExFreeToNPagedLookasideList(&la, a);
    EXPECT_EQ(km_pool_outstanding_for_tag(TAG_LA), 1); /* cached, not yet freed to pool */
    ExDeleteNPagedLookasideList(&la);
    EXPECT_EQ(km_pool_outstanding_for_tag(TAG_LA), 0);
}

KTEST(lookaside, ExFreeToNPagedLookasideList_entries_are_reused_lifo)
{
    NPAGED_LOOKASIDE_LIST la;
    ExInitializeNPagedLookasideList(&la, NULL, NULL, 0, 16, TAG_LA, 0);
    PVOID a = ExAllocateFromNPagedLookasideList(&la);
    PVOID b = ExAllocateFromNPagedLookasideList(&la);
    ExFreeToNPagedLookasideList(&la, a);
    ExFreeToNPagedLookasideList(&la, b);
    EXPECT_TRUE(ExAllocateFromNPagedLookasideList(&la) == b);
    EXPECT_TRUE(ExAllocateFromNPagedLookasideList(&la) == a);
    EXPECT_EQ(la.L.TotalAllocates, 4);
    EXPECT_EQ(la.L.AllocateMisses, 2);
    EXPECT_EQ(la.L.TotalFrees, 2);
    EXPECT_EQ(la.L.FreeMisses, 0);
    ExFreeToNPagedLookasideList(&la, a);
    ExFreeToNPagedLookasideList(&la, b);
    ExDeleteNPagedLookasideList(&la);
}

/* Entries come back in any order: the one handed out last and the others alike. */
KTEST(lookaside, ExFreeToNPagedLookasideList_any_order)
{
    NPAGED_LOOKASIDE_LIST la;
    ExInitializeNPagedLookasideList(&la, NULL, NULL, 0, 16, TAG_LA, 0);
    PVOID a = ExAllocateFromNPagedLookasideList(&la);
    PVOID b = ExAllocateFromNPagedLookasideList(&la);
    PVOID c = ExAllocateFromNPagedLookasideList(&la);
    ExFreeToNPagedLookasideList(&la, b);
    ExFreeToNPagedLookasideList(&la, c);
    ExFreeToNPagedLookasideList(&la, a);
    EXPECT_TRUE(ExAllocateFromNPagedLookasideList(&la) == a);
    ExFreeToNPagedLookasideList(&la, a);
    EXPECT_TRUE(ExAllocateFromNPagedLookasideList(&la) == a);
    EXPECT_TRUE(ExAllocateFromNPagedLookasideList(&la) == c);
    EXPECT_TRUE(ExAllocateFromNPagedLookasideList(&la) == b);
    ExFreeToNPagedLookasideList(&la, c);
    ExFreeToNPagedLookasideList(&la, a);
    ExFreeToNPagedLookasideList(&la, b);
    EXPECT_EQ(la.L.TotalAllocates, 7);
    EXPECT_EQ(la.L.AllocateMisses, 3);
    EXPECT_EQ(la.L.TotalFrees, 7);
    EXPECT_EQ(la.L.FreeMisses, 0);
    ExDeleteNPagedLookasideList(&la);
    EXPECT_EQ(km_pool_outstanding_for_tag(TAG_LA), 0);
}

KTEST(lookaside, ExFreeToNPagedLookasideList_beyond_depth_frees_to_pool)
{
    NPAGED_LOOKASIDE_LIST la;
    PVOID e[20];
    ExInitializeNPagedLookasideList(&la, NULL, NULL, 0, 8, TAG_LA, 0);
    for (int i = 0; i < 20; i++)
        e[i] = ExAllocateFromNPagedLookasideList(&la);
    for (int i = 0; i < 20; i++)
        ExFreeToNPagedLookasideList(&la, e[i]);
    EXPECT_EQ(la.L.Depth, 16);
    EXPECT_EQ(la.L.FreeMisses, 4);
    EXPECT_EQ(km_pool_outstanding_for_tag(TAG_LA), 16);
    ExDeleteNPagedLookasideList(&la);
    km_pool_stats s;
    km_pool_get_stats(&s);
    EXPECT_EQ(s.outstanding, 0);
}

static int la_allocs, la_frees;
static PVOID la_allocate(POOL_TYPE type, SIZE_T size, ULONG tag)
{
    la_allocs++;
    return ExAllocatePoolWithTag(type, size + 8, tag);
}
static VOID la_free(PVOID p)
{
    la_frees++;
    ExFreePoolWithTag(p, TAG_LA);
}

KTEST(lookaside, ExInitializePagedLookasideList_custom_callbacks)
{
    PAGED_LOOKASIDE_LIST la;
    ExInitializePagedLookasideList(&la, la_allocate, la_free, 0, 24, TAG_LA, 0);
    EXPECT_TRUE(la.L.Allocate == la_allocate);
    EXPECT_TRUE(la.L.Free == la_free);
    EXPECT_EQ(la.L.Type, PagedPool);
    PVOID a = ExAllocateFromPagedLookasideList(&la);
    ASSERT_TRUE(a != NULL);
    EXPECT_EQ(la_allocs, 1);
    ExFreeToPagedLookasideList(&la, a);
    EXPECT_EQ(la_frees, 0);
    ExDeletePagedLookasideList(&la);
    EXPECT_EQ(la_frees, 1);
}

KTEST(lookaside, ExAllocateFromNPagedLookasideList_fault_plan_by_site)
{
    NPAGED_LOOKASIDE_LIST la;
    ExInitializeNPagedLookasideList(&la, NULL, NULL, 0, 8, TAG_LA, 0);
    km_fault_arm(&(km_fault_plan){ .site = "lookaside 'Ksal'" });
    EXPECT_TRUE(ExAllocateFromNPagedLookasideList(&la) == NULL);
    EXPECT_EQ(la.L.AllocateMisses, 1);
    km_fault_disarm();
    PVOID a = ExAllocateFromNPagedLookasideList(&la);
    ASSERT_TRUE(a != NULL);
    EXPECT_TRUE(strcmp(km_pool_site_name(0), "lookaside 'Ksal'") == 0);
    ExFreeToNPagedLookasideList(&la, a);
    ExDeleteNPagedLookasideList(&la);
}

KTEST(lookaside, ExDeleteNPagedLookasideList_then_reinitialise)
{
    NPAGED_LOOKASIDE_LIST la;
    ExInitializeNPagedLookasideList(&la, NULL, NULL, 0, 8, TAG_LA, 0);
    ExDeleteNPagedLookasideList(&la);
    ExInitializeNPagedLookasideList(&la, NULL, NULL, 0, 8, TAG_LA, 0);
    ExFreeToNPagedLookasideList(&la, ExAllocateFromNPagedLookasideList(&la));
    ExDeleteNPagedLookasideList(&la);
}

/* ---- Stress: pool, spin lock and lookaside list from several threads (also run under TSan) ---- */
#define STRESS_THREADS 4
#define STRESS_ROUNDS 400

static struct {
    NPAGED_LOOKASIDE_LIST la;
    KSPIN_LOCK lock;
    long in_use; /* protected by lock */
    long max_in_use;
} stress;

static void *stress_worker(void *arg)
{
    PVOID held[4];
    for (int r = 0; r < STRESS_ROUNDS; r++) {
        for (int i = 0; i < 4; i++) {
            held[i] = ExAllocateFromNPagedLookasideList(&stress.la);
            if (held[i] != NULL)
                memset(held[i], r & 0xFF, 32);
        }
        PVOID extra = ExAllocatePoolWithTag(NonPagedPoolNx, (SIZE_T)(r % 100) + 1, 0x73727453 /* 'Strs' */);
        KIRQL old;
        KeAcquireSpinLock(&stress.lock, &old);
        stress.in_use += 4;
        if (stress.in_use > stress.max_in_use)
            stress.max_in_use = stress.in_use;
        stress.in_use -= 4;
        KeReleaseSpinLock(&stress.lock, old);
        if (extra != NULL)
            ExFreePoolWithTag(extra, 0x73727453);
        for (int i = 0; i < 4; i++)
            if (held[i] != NULL)
                ExFreeToNPagedLookasideList(&stress.la, held[i]);
    }
    return NULL;
}

KTEST(lookaside, stress_pool_spinlock_lookaside_threads)
{
    ExInitializeNPagedLookasideList(&stress.la, NULL, NULL, 0, 32, TAG_LA, 0);
    KeInitializeSpinLock(&stress.lock);
    pthread_t t[STRESS_THREADS];
    for (int i = 0; i < STRESS_THREADS; i++)
        ASSERT_TRUE(pthread_create(&t[i], NULL, stress_worker, NULL) == 0);
    for (int i = 0; i < STRESS_THREADS; i++)
        pthread_join(t[i], NULL);
    EXPECT_EQ(stress.in_use, 0);
    EXPECT_TRUE(stress.max_in_use >= 4);
    EXPECT_EQ(stress.la.L.TotalAllocates, STRESS_THREADS * STRESS_ROUNDS * 4);
    EXPECT_EQ(stress.la.L.TotalFrees, STRESS_THREADS * STRESS_ROUNDS * 4);
    EXPECT_EQ(km_pool_outstanding_for_tag(0x73727453), 0);
    ExDeleteNPagedLookasideList(&stress.la);
    km_pool_stats s;
    km_pool_get_stats(&s);
    EXPECT_EQ(s.outstanding, 0);
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
KTEST(lookaside, ExFreeToNPagedLookasideList_cached_entry_is_poisoned)
{
    NPAGED_LOOKASIDE_LIST la;
    ExInitializeNPagedLookasideList(&la, NULL, NULL, 0, 24, TAG_LA, 0);
    PUCHAR a = ExAllocateFromNPagedLookasideList(&la);
    ASSERT_TRUE(a != NULL);
    EXPECT_FALSE(__asan_address_is_poisoned(a));
    ExFreeToNPagedLookasideList(&la, a);
    EXPECT_TRUE(__asan_address_is_poisoned(a));
    EXPECT_TRUE(__asan_address_is_poisoned(a + 23));
    EXPECT_TRUE(ExAllocateFromNPagedLookasideList(&la) == a);
    EXPECT_FALSE(__asan_address_is_poisoned(a + 23));
    ExFreeToNPagedLookasideList(&la, a);
    ExDeleteNPagedLookasideList(&la);
}
#endif
#endif

#if defined(__has_feature)
#if __has_feature(memory_sanitizer)
#include <sanitizer/msan_interface.h>
KTEST(lookaside, ExAllocateFromNPagedLookasideList_reused_entry_is_uninitialised_for_msan)
{
    NPAGED_LOOKASIDE_LIST la;
    ExInitializeNPagedLookasideList(&la, NULL, NULL, 0, 24, TAG_LA, 0);
    PUCHAR a = ExAllocateFromNPagedLookasideList(&la);
    ASSERT_TRUE(a != NULL);
    memset(a, 1, 24);
    ExFreeToNPagedLookasideList(&la, a);
    ASSERT_TRUE(ExAllocateFromNPagedLookasideList(&la) == a);
    EXPECT_EQ(__msan_test_shadow(a, 24), 0);
    ExFreeToNPagedLookasideList(&la, a);
    ExDeleteNPagedLookasideList(&la);
}
#endif
#endif
