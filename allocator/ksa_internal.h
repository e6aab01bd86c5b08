/* ksa_internal.h: private to allocator/: helpers shared between the allocator's files, the pool
 * tags it uses and the allocator object's layout. Includes only WDK headers. */
#ifndef KSA_INTERNAL_H
#define KSA_INTERNAL_H

#include <ntddk.h>
#include <ks.h>

/* Pool tags (bytes in memory order; decisions Q3 documents KSA_TAG_FRAMING for callers). */
#define KSA_TAG_FRAMING 0x4361734Bu   /* "KsaC": framing copy returned by KsValidateAllocatorCreateRequest */
#define KSA_TAG_OBJECT  0x4F61734Bu   /* "KsaO": the allocator object */
#define KSA_TAG_FRAME   0x4661734Bu   /* "KsaF": frame blocks (lookaside entries) */
#define KSA_TAG_RECORD  0x5261734Bu   /* "KsaR": tracking records of externally allocated frames */
#define KSA_TAG_NAME    0x4E61734Bu   /* "KsaN": the create name KsCreateAllocator builds */

/* Bytes in the allocator create name: class text (38 WCHARs), one '\', the raw framing. */
#define KSA_CLASS_CHARS 38u
#define KSA_NAME_BYTES ((KSA_CLASS_CHARS + 1u) * sizeof(WCHAR) + sizeof(KSALLOCATOR_FRAMING))

/* Every documented OPTIONF_ and REQUIREMENTF_ bit (decisions Q1). */
#define KSA_FRAMING_FLAGS_VALID 0x8000001Fu

/* Parses FileName of an allocator create request (decisions Q2, Q18) and validates the framing
 * (Q1, Q6). Reads only FileName.Length bytes and copies the framing out with memcpy. */
NTSTATUS ksa_parse_create_name(const UNICODE_STRING *FileName, KSALLOCATOR_FRAMING *Framing);
/* Field rules of KSALLOCATOR_FRAMING alone (decisions Q1, Q6). */
NTSTATUS ksa_validate_framing(const KSALLOCATOR_FRAMING *Framing);
/* TRUE when Mask is 2^n-1 and at most PAGE_SIZE-1 (CVE-2024-38245; decisions Q6). */
BOOLEAN ksa_alignment_mask_valid(ULONG Mask);
/* Fills Name (caller buffer of KSA_NAME_BYTES) with KSSTRING_Allocator + '\' + framing. */
VOID ksa_build_create_name(PWCHAR Name, const KSALLOCATOR_FRAMING *Framing);

#endif /* KSA_INTERNAL_H */
