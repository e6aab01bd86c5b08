/* ks_validate_create.c: KsValidateAllocatorCreateRequest, the allocator create request check. */
#include "ksa_internal.h"

/* KsValidateAllocatorCreateRequest (DDI nf-ks-ksvalidateallocatorcreaterequest).
 * Validates an IRP_MJ_CREATE as an allocator request and returns a NonPagedPool copy of the
 * framing that the caller owns (decisions Q3: free with ExFreePoolWithTag(p, KSA_TAG_FRAMING
 * "KsaC") or ExFreePool). Rules: decisions Q1, Q2, Q6, Q18. *AllocatorFraming is set to NULL
 * on failure. Not modelled: security (Q20), KSSTRING_AllocatorEx (Q11). PASSIVE_LEVEL (Q17). */
NTSTATUS NTAPI KsValidateAllocatorCreateRequest(PIRP Irp, PKSALLOCATOR_FRAMING *AllocatorFraming)
{
    PAGED_CODE();
    if (AllocatorFraming == NULL)
        return STATUS_INVALID_PARAMETER;
    *AllocatorFraming = NULL;
    if (Irp == NULL)
        return STATUS_INVALID_PARAMETER;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    if (stack == NULL || stack->MajorFunction != IRP_MJ_CREATE || stack->FileObject == NULL)
        return STATUS_INVALID_PARAMETER;

    KSALLOCATOR_FRAMING framing;
    NTSTATUS status = ksa_parse_create_name(&stack->FileObject->FileName, &framing);
    if (!NT_SUCCESS(status))
        return status;

    PKSALLOCATOR_FRAMING copy = ExAllocatePoolWithTag(NonPagedPool, sizeof *copy, KSA_TAG_FRAMING);
    if (copy == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    *copy = framing;
    *AllocatorFraming = copy;
    return STATUS_SUCCESS;
}
