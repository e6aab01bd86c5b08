/* ksa_create_name.c: the allocator create name on the wire (facts §2.1): parsing it out of
 * FileObject->FileName without trusting any length, building it for KsCreateAllocator, and the
 * KSALLOCATOR_FRAMING field rules. Pure: no pool, no IRQL, so fuzzers can drive it directly. */
#include "ksa_internal.h"

static const WCHAR ksa_class_text[] = KSSTRING_Allocator;
C_ASSERT(sizeof(ksa_class_text) == (KSA_CLASS_CHARS + 1) * sizeof(WCHAR));
C_ASSERT(KSA_NAME_BYTES == 102);

static WCHAR ksa_upcase_ascii(WCHAR c)
{
    return (c >= L'a' && c <= L'z') ? (WCHAR)(c - (L'a' - L'A')) : c;
}

BOOLEAN ksa_alignment_mask_valid(ULONG Mask)
{
    /* 2^n-1 has no bit set above its highest set bit's run: Mask & (Mask+1) == 0. The page cap
     * keeps the over-allocation for alignment below one page (facts §4.4). */
#if defined(KM_PLANT_BUG_CVE_2024_38245)
    /* A deliberately planted bug (CMake KM_PLANT_BUG=cve_2024_38245, presets plant-*): the 2^n-1
     * rule is skipped, as in CVE-2024-38245, so the triage loop has a bug to find. Never in a
     * normal build. */
    return (BOOLEAN)(Mask <= PAGE_SIZE - 1u);
#else
    return (BOOLEAN)((Mask & (Mask + 1u)) == 0 && Mask <= PAGE_SIZE - 1u);
#endif
}

NTSTATUS ksa_validate_framing(const KSALLOCATOR_FRAMING *Framing)
{
    if ((Framing->OptionsFlags & ~KSA_FRAMING_FLAGS_VALID) != 0)
        return STATUS_INVALID_PARAMETER; /* decisions Q1 */
    switch ((ULONG)Framing->PoolType) {
    case NonPagedPool:
    case PagedPool:
    case NonPagedPoolNx:
        break;
    default:
        return STATUS_INVALID_PARAMETER; /* decisions Q1/Q6: must-succeed, session, cache-aligned refused */
    }
    /* Frames 0 means "no limit" (facts §5.3), so every value is accepted. */
    if (Framing->FrameSize == 0)
        return STATUS_INVALID_PARAMETER; /* decisions Q1: no zero-byte frames */
    if (Framing->FrameSize > MAXLONG)
        return STATUS_INVALID_PARAMETER; /* decisions Q1: a frame plus its alignment slack and bookkeeping
                                            must stay a ULONG-sized pool block (lookaside sizes are ULONG) */
    if (!ksa_alignment_mask_valid(Framing->FileAlignment))
        return STATUS_INVALID_PARAMETER; /* decisions Q6, Q16 */
    if (Framing->Reserved != 0)
        return STATUS_INVALID_PARAMETER; /* decisions Q1 */
    return STATUS_SUCCESS;
}

NTSTATUS ksa_parse_create_name(const UNICODE_STRING *FileName, KSALLOCATOR_FRAMING *Framing)
{
    /* decisions Q18: a corrupt string is refused before anything is read through it. */
    if (FileName == NULL || FileName->Buffer == NULL || (FileName->Length & 1u) != 0 ||
        FileName->Length > FileName->MaximumLength)
        return STATUS_INVALID_PARAMETER;

    const UCHAR *bytes = (const UCHAR *)FileName->Buffer;
    ULONG length = FileName->Length;
    ULONG offset = 0;
    WCHAR c;

    /* One optional leading '\' (old clients, facts §2.1). Read WCHARs with memcpy: the buffer
     * is only guaranteed 2-byte aligned, and that is all a WCHAR load needs, but staying with
     * memcpy keeps every read in this file uniform. */
    if (length >= sizeof(WCHAR)) {
        memcpy(&c, bytes, sizeof c);
        if (c == L'\\')
            offset = sizeof(WCHAR);
    }
    /* decisions Q2: the class component must be the allocator class, then exactly one '\'. */
    if (length - offset < (KSA_CLASS_CHARS + 1u) * sizeof(WCHAR))
        return STATUS_INVALID_PARAMETER;
    for (ULONG i = 0; i < KSA_CLASS_CHARS; i++) {
        memcpy(&c, bytes + offset + i * sizeof(WCHAR), sizeof c);
        if (ksa_upcase_ascii(c) != ksa_upcase_ascii(ksa_class_text[i]))
            return STATUS_INVALID_PARAMETER;
    }
    offset += KSA_CLASS_CHARS * sizeof(WCHAR);
    memcpy(&c, bytes + offset, sizeof c);
    if (c != L'\\')
        return STATUS_INVALID_PARAMETER;
    offset += sizeof(WCHAR);

    /* decisions Q2: exactly 24 parameter bytes, taken from Length only. They start at an offset
     * that is 2 mod 4, so they are copied out, never cast in place (facts §2.1). */
    if (length - offset != sizeof(KSALLOCATOR_FRAMING))
        return STATUS_INVALID_PARAMETER;
    KSALLOCATOR_FRAMING copy;
    memcpy(&copy, bytes + offset, sizeof copy);
    NTSTATUS status = ksa_validate_framing(&copy);
    if (!NT_SUCCESS(status))
        return status;
    *Framing = copy;
    return STATUS_SUCCESS;
}

VOID ksa_build_create_name(PWCHAR Name, const KSALLOCATOR_FRAMING *Framing)
{
    UCHAR *bytes = (UCHAR *)Name;
    const WCHAR separator = L'\\';
    memcpy(bytes, ksa_class_text, KSA_CLASS_CHARS * sizeof(WCHAR));
    memcpy(bytes + KSA_CLASS_CHARS * sizeof(WCHAR), &separator, sizeof separator);
    memcpy(bytes + (KSA_CLASS_CHARS + 1) * sizeof(WCHAR), Framing, sizeof *Framing);
}
