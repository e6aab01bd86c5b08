/* ks_method.c: KsMethodHandler, the ks.sys dispatcher for IOCTL_KS_METHOD requests. */
#include "ks_automation_internal.h"

static const KSMETHOD_ITEM *km_find_method(const KSMETHOD_SET *set, ULONG id)
{
    for (ULONG i = 0; i < set->MethodsCount; i++)
        if (set->MethodItem[i].MethodId == id)
            return &set->MethodItem[i];
    return NULL;
}

static NTSTATUS km_method_dispatch(PIRP Irp, PKSIDENTIFIER request, const KSMETHOD_ITEM *item, ULONG in_len,
                                   ULONG out_len)
{
    ULONG flags = request->Flags & ~KSMETHOD_TYPE_TOPOLOGY;
    ULONG min_method = item->MinMethod > sizeof(KSMETHOD) ? item->MinMethod : sizeof(KSMETHOD);
    if (in_len < min_method)
        return STATUS_INVALID_BUFFER_SIZE;
    if (flags == KSMETHOD_TYPE_SETSUPPORT || flags == KSMETHOD_TYPE_BASICSUPPORT) {
        if (item->SupportHandler != NULL)
            return item->SupportHandler(Irp, request, out_len != 0 ? Irp->UserBuffer : NULL);
        if (flags == KSMETHOD_TYPE_SETSUPPORT)
            return STATUS_SUCCESS;
        /* BASICSUPPORT answers the item's KSMETHOD_TYPE_* flags as a ULONG. */
        NTSTATUS status = km_ks_size_gate(Irp, out_len, sizeof(ULONG));
        if (status != STATUS_SUCCESS)
            return status;
        ULONG type = item->Flags;
        memcpy(Irp->UserBuffer, &type, sizeof type);
        Irp->IoStatus.Information = sizeof type;
        return STATUS_SUCCESS;
    }
    /* decisions Q8: SEND, or the item's own type as the MS samples send it. */
    if (flags != KSMETHOD_TYPE_SEND && flags != (item->Flags & ~KSMETHOD_TYPE_TOPOLOGY))
        return STATUS_INVALID_PARAMETER;
    if (item->MethodHandler == NULL)
        return STATUS_INVALID_DEVICE_REQUEST;
    NTSTATUS status = km_ks_size_gate(Irp, out_len, item->MinData);
    if (status != STATUS_SUCCESS)
        return status;
    KSMETHOD_TYPE_IRP_STORAGE(Irp) = item->Flags;
    return item->MethodHandler(Irp, request, out_len != 0 ? Irp->UserBuffer : NULL);
}

/* KsMethodHandler (DDI nf-ks-ksmethodhandler). Same shape as KsPropertyHandler: one copy of the
 * request, set/item lookup (STATUS_PROPSET_NOT_FOUND / STATUS_NOT_FOUND), MinMethod/MinData checks,
 * Flags per decisions Q8, KSMETHOD_SET/ITEM/TYPE_IRP_STORAGE filled, handler called with the copy
 * and Irp->UserBuffer. Information is 0 unless the handler sets it; STATUS_PENDING from a handler
 * is returned untouched (the handler owns the IRP then). Never completes the IRP. Not modelled:
 * fast I/O, KSMETHOD_TYPE_SOURCE buffer mapping, probing. PASSIVE_LEVEL. */
NTSTATUS NTAPI KsMethodHandler(PIRP Irp, ULONG MethodSetsCount, const KSMETHOD_SET *MethodSet)
{
    PAGED_CODE();
    PKSIDENTIFIER request;
    ULONG in_len, out_len;
    NTSTATUS status = km_ks_begin(Irp, &request, &in_len, &out_len);
    if (status != STATUS_SUCCESS)
        return status;
    ULONG i = km_ks_find_set(MethodSet, MethodSetsCount, sizeof *MethodSet, &request->Set);
    const KSMETHOD_ITEM *item = i < MethodSetsCount ? km_find_method(&MethodSet[i], request->Id) : NULL;
    status = km_ks_found(i, MethodSetsCount, item);
    if (status == STATUS_SUCCESS) {
        KSMETHOD_SET_IRP_STORAGE(Irp) = &MethodSet[i];
        KSMETHOD_ITEM_IRP_STORAGE(Irp) = item;
        status = km_method_dispatch(Irp, request, item, in_len, out_len);
    }
    return km_ks_end(Irp, request, status);
}
