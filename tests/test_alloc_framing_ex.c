/* test_alloc_framing_ex.c: KsValidateAllocatorFramingEx: size vs CountItems, every field rule and
 * pin compatibility (decisions Q13). */
#include "ktest.h"

#include <stdlib.h>
#include <string.h>

#define FX_SIZE(n) (FIELD_OFFSET(KSALLOCATOR_FRAMING_EX, FramingItem) + (n) * sizeof(KS_FRAMING_ITEM))

/* Storage for up to 4 items, as the INITIALIZE_SIMPLE_FRAMING_EX macro would fill one (facts §3.5). */
typedef union {
    KSALLOCATOR_FRAMING_EX fx;
    UCHAR bytes[FX_SIZE(4)];
} fx_buf;

static KS_FRAMING_ITEM simple_item(ULONG min, ULONG max, ULONG align)
{
    KS_FRAMING_ITEM it;
    memset(&it, 0, sizeof it);
    it.MemoryType = KSMEMORY_TYPE_KERNEL_NONPAGED;
    it.MemoryFlags = KSALLOCATOR_REQUIREMENTF_MUST_ALLOCATE;
    it.Flags = KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY;
    it.Frames = 4;
    it.FileAlignment = align;
    it.PhysicalRange = (KS_FRAMING_RANGE){ 0, 0xFFFFFFFF, 1 };
    it.FramingRange.Range = (KS_FRAMING_RANGE){ min, max, 1 };
    return it;
}

static void simple_fx(fx_buf *b, ULONG count)
{
    memset(b, 0, sizeof *b);
    b->fx.CountItems = count;
    b->fx.OutputCompression = (KS_COMPRESSION){ 1, 1, 0 };
    KS_FRAMING_ITEM *items = b->fx.FramingItem;
    for (ULONG i = 0; i < count; i++)
        items[i] = simple_item(1024, 8192, FILE_QUAD_ALIGNMENT);
}

KTEST(alloc_framing_ex, KsValidateAllocatorFramingEx_simple_valid)
{
    fx_buf b;
    simple_fx(&b, 1);
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(1), NULL), STATUS_SUCCESS);
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, sizeof b, NULL), STATUS_SUCCESS); /* extra bytes ignored */
    simple_fx(&b, 4);
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(4), NULL), STATUS_SUCCESS);
}

KTEST(alloc_framing_ex, KsValidateAllocatorFramingEx_null)
{
    EXPECT_STATUS(KsValidateAllocatorFramingEx(NULL, 112, NULL), STATUS_INVALID_PARAMETER);
}

KTEST(alloc_framing_ex, KsValidateAllocatorFramingEx_buffer_size_vs_count)
{
    fx_buf b;
    simple_fx(&b, 2);
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(2) - 1, NULL), STATUS_INVALID_BUFFER_SIZE);
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(1), NULL), STATUS_INVALID_BUFFER_SIZE);
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, 0, NULL), STATUS_INVALID_BUFFER_SIZE);
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, 23, NULL), STATUS_INVALID_BUFFER_SIZE);
    b.fx.CountItems = 0;
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, sizeof b, NULL), STATUS_INVALID_BUFFER_SIZE);
}

KTEST(alloc_framing_ex, KsValidateAllocatorFramingEx_count_overflow)
{
    /* 24 + 88 * CountItems must not wrap in 32 bits: for 0x02E8BA2F it is 0x100000040, which wraps to 64. */
    fx_buf b;
    simple_fx(&b, 1);
    static const ULONG counts[] = { 0x02E8BA2F, 0x0BA2E8BA, 0xFFFFFFFF, 0x80000000 };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        b.fx.CountItems = counts[i];
        EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, 0xFFFFFFFF, NULL), STATUS_INVALID_BUFFER_SIZE);
        EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, sizeof b, NULL), STATUS_INVALID_BUFFER_SIZE);
    }
}

KTEST(alloc_framing_ex, KsValidateAllocatorFramingEx_header_fields)
{
    fx_buf b;
    simple_fx(&b, 1);
    b.fx.PinFlags = 1;
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(1), NULL), STATUS_INVALID_PARAMETER);
    simple_fx(&b, 1);
    b.fx.PinWeight = 1;
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(1), NULL), STATUS_INVALID_PARAMETER);
    simple_fx(&b, 1);
    b.fx.OutputCompression.RatioDenominator = 0;
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(1), NULL), STATUS_INVALID_PARAMETER);
    simple_fx(&b, 1);
    b.fx.OutputCompression = (KS_COMPRESSION){ 0xFFFFFFFF, 3, 7 }; /* expansion and margins are legal */
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(1), NULL), STATUS_SUCCESS);
}

typedef void (*item_mutator)(KS_FRAMING_ITEM *it);
static void m_align_not_mask(KS_FRAMING_ITEM *it) { it->FileAlignment = 5; }
static void m_align_too_big(KS_FRAMING_ITEM *it) { it->FileAlignment = 0x1FFF; }
static void m_range_inverted(KS_FRAMING_ITEM *it) { it->FramingRange.Range = (KS_FRAMING_RANGE){ 10, 9, 0 }; }
static void m_range_stepping(KS_FRAMING_ITEM *it) { it->FramingRange.Range = (KS_FRAMING_RANGE){ 10, 20, 11 }; }
static void m_range_zero_min(KS_FRAMING_ITEM *it) { it->FramingRange.Range = (KS_FRAMING_RANGE){ 0, 20, 1 }; }
static void m_phys_inverted(KS_FRAMING_ITEM *it) { it->PhysicalRange = (KS_FRAMING_RANGE){ 2, 1, 0 }; }
static void m_phys_stepping(KS_FRAMING_ITEM *it) { it->PhysicalRange = (KS_FRAMING_RANGE){ 1, 0xFFFFFFFF, 0xFFFFFFFF }; }
static void m_in_place_weight(KS_FRAMING_ITEM *it) { it->FramingRange.InPlaceWeight = 1; }
static void m_not_in_place_weight(KS_FRAMING_ITEM *it) { it->FramingRange.NotInPlaceWeight = 1; }
static void m_memory_flags(KS_FRAMING_ITEM *it) { it->MemoryFlags = 0x20; }
static void m_bus_flags(KS_FRAMING_ITEM *it) { it->BusFlags = 1; }
static void m_flags(KS_FRAMING_ITEM *it) { it->Flags = 0x00010000; }

KTEST(alloc_framing_ex, KsValidateAllocatorFramingEx_item_fields_rejected)
{
    static const item_mutator bad[] = { m_align_not_mask, m_range_inverted, m_range_stepping, m_range_zero_min,
                                        m_phys_inverted, m_phys_stepping, m_in_place_weight,
                                        m_not_in_place_weight, m_memory_flags, m_bus_flags, m_flags,
                                        m_align_too_big };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fx_buf b;
        simple_fx(&b, 3);
        KS_FRAMING_ITEM *items = b.fx.FramingItem;
        bad[i](&items[2]); /* the last item: every item is checked, not only the first */
        if (KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(3), NULL) != STATUS_INVALID_PARAMETER)
            ktest_fail_at(__FILE__, __LINE__, "mutator %zu accepted", i);
    }
}

KTEST(alloc_framing_ex, KsValidateAllocatorFramingEx_item_edges_accepted)
{
    fx_buf b;
    simple_fx(&b, 1);
    KS_FRAMING_ITEM *it = b.fx.FramingItem;
    it->FramingRange.Range = (KS_FRAMING_RANGE){ 16, 16, 0 }; /* Min == Max, Stepping 0 */
    it->FileAlignment = 0xFFF;
    it->Flags = 0x8000FFFF;
    it->MemoryFlags = 0x8000001F;
    it->MemoryType = KS_TYPE_DONT_CARE;
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(1), NULL), STATUS_SUCCESS);
    it->FramingRange.Range = (KS_FRAMING_RANGE){ 1, 0xFFFFFFFF, 0xFFFFFFFE };
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(1), NULL), STATUS_SUCCESS);
}

KTEST(alloc_framing_ex, KsValidateAllocatorFramingEx_pin_compatible)
{
    fx_buf b, pin;
    simple_fx(&b, 1);
    simple_fx(&pin, 1);
    KS_FRAMING_ITEM *it = b.fx.FramingItem, *pi = pin.fx.FramingItem;
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(1), &pin.fx), STATUS_SUCCESS);
    /* overlapping ranges, stricter alignment than the pin: compatible */
    it->FramingRange.Range = (KS_FRAMING_RANGE){ 8192, 16384, 1 };
    it->FileAlignment = FILE_64_BYTE_ALIGNMENT;
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(1), &pin.fx), STATUS_SUCCESS);
    /* wildcard memory type on either side matches */
    it->MemoryType = KS_TYPE_DONT_CARE;
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(1), &pin.fx), STATUS_SUCCESS);
    /* the second pin item can be the match */
    simple_fx(&pin, 2);
    pi = pin.fx.FramingItem;
    pi[0].FramingRange.Range = (KS_FRAMING_RANGE){ 1, 10, 1 };
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(1), &pin.fx), STATUS_SUCCESS);
}

KTEST(alloc_framing_ex, KsValidateAllocatorFramingEx_pin_incompatible)
{
    fx_buf b, pin;
    simple_fx(&b, 1);
    simple_fx(&pin, 1);
    KS_FRAMING_ITEM *it = b.fx.FramingItem;
    it->FramingRange.Range = (KS_FRAMING_RANGE){ 8193, 9000, 1 }; /* disjoint ranges */
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(1), &pin.fx), STATUS_NOT_SUPPORTED);
    simple_fx(&b, 1);
    it->FileAlignment = FILE_LONG_ALIGNMENT; /* weaker than the pin's QUAD */
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(1), &pin.fx), STATUS_NOT_SUPPORTED);
    simple_fx(&b, 1);
    it->MemoryType = KSMEMORY_TYPE_KERNEL_PAGED; /* different concrete memory type */
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(1), &pin.fx), STATUS_NOT_SUPPORTED);
    /* one compatible item is not enough: every item must match */
    simple_fx(&b, 2);
    KS_FRAMING_ITEM *items = b.fx.FramingItem;
    items[1].FramingRange.Range = (KS_FRAMING_RANGE){ 1, 2, 1 };
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(2), &pin.fx), STATUS_NOT_SUPPORTED);
}

KTEST(alloc_framing_ex, KsValidateAllocatorFramingEx_bad_pin_framing)
{
    fx_buf b, pin;
    simple_fx(&b, 1);
    simple_fx(&pin, 1);
    pin.fx.CountItems = 0;
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(1), &pin.fx), STATUS_INVALID_PARAMETER);
    simple_fx(&pin, 1);
    KS_FRAMING_ITEM *pi = pin.fx.FramingItem;
    pi->FileAlignment = 6;
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&b.fx, FX_SIZE(1), &pin.fx), STATUS_INVALID_PARAMETER);
}

KTEST(alloc_framing_ex, KsValidateAllocatorFramingEx_reads_stay_in_buffer)
{
    /* An exact-size heap copy: ASan catches any read beyond BufferSize. */
    fx_buf b;
    simple_fx(&b, 2);
    KSALLOCATOR_FRAMING_EX *heap = malloc(FX_SIZE(2));
    ASSERT_TRUE(heap != NULL);
    memcpy(heap, &b, FX_SIZE(2));
    EXPECT_STATUS(KsValidateAllocatorFramingEx(heap, FX_SIZE(2), NULL), STATUS_SUCCESS);
    heap->CountItems = 3;
    EXPECT_STATUS(KsValidateAllocatorFramingEx(heap, FX_SIZE(2), NULL), STATUS_INVALID_BUFFER_SIZE);
    free(heap);
    UCHAR *hdr = malloc(24);
    ASSERT_TRUE(hdr != NULL);
    memset(hdr, 0, 24);
    EXPECT_STATUS(KsValidateAllocatorFramingEx((PKSALLOCATOR_FRAMING_EX)hdr, 24, NULL), STATUS_INVALID_BUFFER_SIZE);
    free(hdr);
}
