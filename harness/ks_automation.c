/* ks_automation.c: helpers shared by the KS property, method and event handlers (request copy, set lookup,
 * size answers, event-list locks). */
#include "ks_automation_internal.h"

/* Copies the whole input buffer (InputBufferLength >= sizeof(KSIDENTIFIER) checked by the caller)
 * into NonPagedPool, so the request is read from caller memory exactly once. NULL on failure. */
static PKSIDENTIFIER km_ks_copy_request(PIRP Irp, ULONG InputBufferLength)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    const void *source = stack->Parameters.DeviceIoControl.Type3InputBuffer;
    if (source == NULL)
        return NULL;
    /* KSIDENTIFIER is 8-aligned; pool blocks are at least 16-aligned, so the copy can be used in place. */
    PKSIDENTIFIER copy = ExAllocatePoolWithTag(NonPagedPool, InputBufferLength, KM_TAG_KS_REQUEST);
    if (copy != NULL)
        memcpy(copy, source, InputBufferLength);
    return copy;
}

NTSTATUS km_ks_begin(PIRP Irp, PKSIDENTIFIER *Request, ULONG *InputBufferLength, ULONG *OutputBufferLength)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    ULONG in_len = stack->Parameters.DeviceIoControl.InputBufferLength;
    ULONG out_len = stack->Parameters.DeviceIoControl.OutputBufferLength;
    *Request = NULL;
    *InputBufferLength = in_len;
    *OutputBufferLength = out_len;
    Irp->IoStatus.Information = 0;
    if (in_len < sizeof(KSIDENTIFIER))
        return STATUS_INVALID_BUFFER_SIZE;
    /* decisions Q14: a NULL buffer with a length that claims data is refused, on either side
     * (METHOD_NEITHER passes the caller's pointers through unvalidated). */
    if (stack->Parameters.DeviceIoControl.Type3InputBuffer == NULL || (out_len != 0 && Irp->UserBuffer == NULL))
        return STATUS_INVALID_PARAMETER;
    *Request = km_ks_copy_request(Irp, in_len);
    return *Request != NULL ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

static VOID km_ks_free_request(PKSIDENTIFIER Request)
{
    ExFreePoolWithTag(Request, KM_TAG_KS_REQUEST);
}

C_ASSERT(FIELD_OFFSET(KSPROPERTY_SET, Set) == 0 && FIELD_OFFSET(KSMETHOD_SET, Set) == 0 &&
         FIELD_OFFSET(KSEVENT_SET, Set) == 0);

ULONG km_ks_find_set(const void *Sets, ULONG Count, size_t Stride, const GUID *Set)
{
    for (ULONG i = 0; i < Count; i++) {
        const GUID *const *guid = (const GUID *const *)((const char *)Sets + i * Stride);
        if (IsEqualGUID(*guid, Set))
            return i;
    }
    return Count;
}

NTSTATUS km_ks_found(ULONG Index, ULONG Count, const void *Item)
{
    if (Index == Count)
        return STATUS_PROPSET_NOT_FOUND;
    return Item == NULL ? STATUS_NOT_FOUND : STATUS_SUCCESS;
}

NTSTATUS km_ks_end(PIRP Irp, PKSIDENTIFIER Request, NTSTATUS Status)
{
    km_ks_free_request(Request);
    if (NT_ERROR(Status))
        Irp->IoStatus.Information = 0;
    return Status;
}

NTSTATUS km_ks_size_gate(PIRP Irp, ULONG OutputBufferLength, ULONG Needed)
{
    if (OutputBufferLength == 0 && Needed != 0) {
        Irp->IoStatus.Information = Needed; /* size query (decisions Q14) */
        return STATUS_BUFFER_OVERFLOW;
    }
    if (OutputBufferLength < Needed) {
        Irp->IoStatus.Information = 0;
        return STATUS_BUFFER_TOO_SMALL;
    }
    return STATUS_SUCCESS;
}

VOID km_ks_events_lock(KSEVENTS_LOCKTYPE Type, PVOID Lock, PKIRQL OldIrql)
{
    *OldIrql = PASSIVE_LEVEL;
    switch (Type) {
    case KSEVENTS_NONE:
        break;
    case KSEVENTS_SPINLOCK:
        KeAcquireSpinLock((PKSPIN_LOCK)Lock, OldIrql);
        break;
    case KSEVENTS_MUTEX:
        KeWaitForSingleObject(Lock, Executive, KernelMode, FALSE, NULL);
        break;
    case KSEVENTS_FMUTEX:
    case KSEVENTS_FMUTEXUNSAFE:
        ExAcquireFastMutex((PFAST_MUTEX)Lock);
        break;
    default:
        km_verifier_fail(KM_V_API_INVALID_PARAMETER, "KSEVENTS lock type %d is not modelled", (int)Type);
    }
}

VOID km_ks_events_unlock(KSEVENTS_LOCKTYPE Type, PVOID Lock, KIRQL OldIrql)
{
    switch (Type) {
    case KSEVENTS_NONE:
        break;
    case KSEVENTS_SPINLOCK:
        KeReleaseSpinLock((PKSPIN_LOCK)Lock, OldIrql);
        break;
    case KSEVENTS_MUTEX:
        KeReleaseMutex((PKMUTEX)Lock, FALSE);
        break;
    case KSEVENTS_FMUTEX:
    case KSEVENTS_FMUTEXUNSAFE:
        ExReleaseFastMutex((PFAST_MUTEX)Lock);
        break;
    default:
        km_verifier_fail(KM_V_API_INVALID_PARAMETER, "KSEVENTS lock type %d is not modelled", (int)Type);
    }
}
