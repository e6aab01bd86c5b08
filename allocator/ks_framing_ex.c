/* ks_framing_ex.c: KsValidateAllocatorFramingEx: size, field and pin-compatibility rules for a
 * variable-length KSALLOCATOR_FRAMING_EX (decisions Q13). Pure: no pool, no IRQL. */
#include "ksa_internal.h"

#define KSA_FRAMING_EX_HEADER ((ULONG64)FIELD_OFFSET(KSALLOCATOR_FRAMING_EX, FramingItem))
#define KSA_ITEM_FLAGS_VALID 0x8000FFFFu /* REQUIREMENTF_* and every KSALLOCATOR_FLAG_* (facts §4.1) */

static BOOLEAN ksa_range_valid(const KS_FRAMING_RANGE *range)
{
    /* ks_framing_range: Stepping must not exceed Max-Min. */
    return (BOOLEAN)(range->MinFrameSize <= range->MaxFrameSize &&
                     range->Stepping <= range->MaxFrameSize - range->MinFrameSize);
}

static NTSTATUS ksa_item_valid(const KS_FRAMING_ITEM *item)
{
    if ((item->MemoryFlags & ~KSA_FRAMING_FLAGS_VALID) != 0 || item->BusFlags != 0 ||
        (item->Flags & ~KSA_ITEM_FLAGS_VALID) != 0)
        return STATUS_INVALID_PARAMETER;
    if (!ksa_alignment_mask_valid(item->FileAlignment))
        return STATUS_INVALID_PARAMETER; /* decisions Q6: the CVE-2024-38245 rule applies here too */
    if (!ksa_range_valid(&item->PhysicalRange) || !ksa_range_valid(&item->FramingRange.Range))
        return STATUS_INVALID_PARAMETER;
    if (item->FramingRange.Range.MinFrameSize == 0)
        return STATUS_INVALID_PARAMETER; /* a frame has at least one byte (decisions Q1) */
    if (item->FramingRange.InPlaceWeight != 0 || item->FramingRange.NotInPlaceWeight != 0)
        return STATUS_INVALID_PARAMETER; /* ks_framing_range_weighted: unsupported, set to 0 */
    return STATUS_SUCCESS;
}

static NTSTATUS ksa_header_valid(const KSALLOCATOR_FRAMING_EX *framing)
{
    if (framing->PinFlags != 0 || framing->PinWeight != 0)
        return STATUS_INVALID_PARAMETER; /* ksallocator_framing_ex: reserved, 0 */
    if (framing->OutputCompression.RatioDenominator == 0)
        return STATUS_INVALID_PARAMETER; /* ks_compression: a ratio needs a denominator */
    return STATUS_SUCCESS;
}

static BOOLEAN ksa_memory_types_match(const GUID *a, const GUID *b)
{
    return (BOOLEAN)(IsEqualGUID(a, &KS_TYPE_DONT_CARE) || IsEqualGUID(b, &KS_TYPE_DONT_CARE) || IsEqualGUID(a, b));
}

/* decisions Q13: "compatible" = same memory type (or a wildcard), frame-size ranges intersect,
 * and the request aligns at least as strictly as the pin (masks of the form 2^n-1 compare as numbers). */
static BOOLEAN ksa_items_compatible(const KS_FRAMING_ITEM *item, const KS_FRAMING_ITEM *pin)
{
    const KS_FRAMING_RANGE *a = &item->FramingRange.Range, *b = &pin->FramingRange.Range;
    return (BOOLEAN)(ksa_memory_types_match(&item->MemoryType, &pin->MemoryType) &&
                     a->MinFrameSize <= b->MaxFrameSize && b->MinFrameSize <= a->MaxFrameSize &&
                     item->FileAlignment >= pin->FileAlignment);
}

/* KsValidateAllocatorFramingEx (DDI nf-ks-ksvalidateallocatorframingex, "reserved for system
 * use"; the rules are ours, decisions Q13). BufferSize bounds every read of Framing; PinFraming
 * is driver data and is trusted to hold its own CountItems items. Not modelled: bus types,
 * memory-type weights and the compression ratio's effect on sizes. */
NTSTATUS KsValidateAllocatorFramingEx(PKSALLOCATOR_FRAMING_EX Framing, ULONG BufferSize,
                                      const KSALLOCATOR_FRAMING_EX *PinFraming)
{
    if (Framing == NULL)
        return STATUS_INVALID_PARAMETER;
    if ((ULONG64)BufferSize < KSA_FRAMING_EX_HEADER)
        return STATUS_INVALID_BUFFER_SIZE;
    /* CountItems is read only after the header is known to be inside the buffer; the product is
     * 64-bit so 88 * 0xFFFFFFFF cannot wrap. */
    ULONG count = Framing->CountItems;
    if (count == 0 || KSA_FRAMING_EX_HEADER + (ULONG64)sizeof(KS_FRAMING_ITEM) * count > (ULONG64)BufferSize)
        return STATUS_INVALID_BUFFER_SIZE;
    NTSTATUS status = ksa_header_valid(Framing);
    if (!NT_SUCCESS(status))
        return status;
    /* Items are reached through a pointer: FramingItem[1] is a variable-length tail. */
    const KS_FRAMING_ITEM *items = Framing->FramingItem;
    const KS_FRAMING_ITEM *pin_items = PinFraming != NULL ? PinFraming->FramingItem : NULL;
    for (ULONG i = 0; i < count; i++) {
        status = ksa_item_valid(&items[i]);
        if (!NT_SUCCESS(status))
            return status;
    }
    if (PinFraming == NULL)
        return STATUS_SUCCESS;

    if (PinFraming->CountItems == 0 || !NT_SUCCESS(ksa_header_valid(PinFraming)))
        return STATUS_INVALID_PARAMETER;
    for (ULONG j = 0; j < PinFraming->CountItems; j++)
        if (!NT_SUCCESS(ksa_item_valid(&pin_items[j])))
            return STATUS_INVALID_PARAMETER;
    for (ULONG i = 0; i < count; i++) {
        BOOLEAN matched = FALSE;
        for (ULONG j = 0; j < PinFraming->CountItems && !matched; j++)
            matched = ksa_items_compatible(&items[i], &pin_items[j]);
        if (!matched)
            return STATUS_NOT_SUPPORTED;
    }
    return STATUS_SUCCESS;
}
