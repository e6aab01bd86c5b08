/* ks_property.c: KsPropertyHandler, the ks.sys dispatcher for IOCTL_KS_PROPERTY requests. */
#include "ks_automation_internal.h"

static const KSPROPERTY_ITEM *km_find_property(const KSPROPERTY_SET *set, ULONG id)
{
    for (ULONG i = 0; i < set->PropertiesCount; i++)
        if (set->PropertyItem[i].PropertyId == id)
            return &set->PropertyItem[i];
    return NULL;
}

static NTSTATUS km_property_basic_support(PIRP Irp, const KSPROPERTY_ITEM *item, ULONG out_len)
{
    /* decisions Q14: a ULONG buffer gets the access flags, a description-sized one the description. */
    ULONG access = (item->GetPropertyHandler != NULL ? KSPROPERTY_TYPE_GET : 0) |
                   (item->SetPropertyHandler != NULL ? KSPROPERTY_TYPE_SET : 0);
    if (out_len == 0) {
        Irp->IoStatus.Information = sizeof(KSPROPERTY_DESCRIPTION);
        return STATUS_BUFFER_OVERFLOW;
    }
    if (out_len < sizeof(ULONG))
        return STATUS_BUFFER_TOO_SMALL;
    if (out_len < sizeof(KSPROPERTY_DESCRIPTION)) {
        memcpy(Irp->UserBuffer, &access, sizeof access);
        Irp->IoStatus.Information = sizeof access;
        return STATUS_SUCCESS;
    }
    KSPROPERTY_DESCRIPTION d;
    memset(&d, 0, sizeof d);
    d.AccessFlags = access;
    d.DescriptionSize = sizeof d;
    memcpy(Irp->UserBuffer, &d, sizeof d);
    Irp->IoStatus.Information = sizeof d;
    return STATUS_SUCCESS;
}

static NTSTATUS km_property_dispatch(PIRP Irp, PKSIDENTIFIER request, const KSPROPERTY_ITEM *item, ULONG in_len,
                                     ULONG out_len)
{
    ULONG flags = request->Flags & ~KSPROPERTY_TYPE_TOPOLOGY;
    ULONG min_property = item->MinProperty > sizeof(KSPROPERTY) ? item->MinProperty : sizeof(KSPROPERTY);
    switch (flags) {
    case KSPROPERTY_TYPE_GET:
    case KSPROPERTY_TYPE_SET: {
        PFNKSHANDLER handler = flags == KSPROPERTY_TYPE_GET ? item->GetPropertyHandler : item->SetPropertyHandler;
        if (handler == NULL)
            return STATUS_INVALID_DEVICE_REQUEST;
        if (in_len < min_property)
            return STATUS_INVALID_BUFFER_SIZE;
        NTSTATUS status = km_ks_size_gate(Irp, out_len, item->MinData);
        if (status != STATUS_SUCCESS)
            return status;
        /* A GET returns MinData bytes unless the handler says otherwise; a SET returns nothing. */
        Irp->IoStatus.Information = flags == KSPROPERTY_TYPE_GET ? item->MinData : 0;
        return handler(Irp, request, out_len != 0 ? Irp->UserBuffer : NULL);
    }
    case KSPROPERTY_TYPE_SETSUPPORT:
    case KSPROPERTY_TYPE_BASICSUPPORT:
        if (in_len < min_property)
            return STATUS_INVALID_BUFFER_SIZE;
        if (item->SupportHandler != NULL)
            return item->SupportHandler(Irp, request, out_len != 0 ? Irp->UserBuffer : NULL);
        if (flags == KSPROPERTY_TYPE_SETSUPPORT)
            return STATUS_SUCCESS;
        return km_property_basic_support(Irp, item, out_len);
    default:
        return STATUS_INVALID_PARAMETER; /* decisions Q14: RELATIONS, SERIALIZE*, combinations not modelled */
    }
}

/* KsPropertyHandler (DDI nf-ks-kspropertyhandler). Copies the request out of Type3InputBuffer
 * once, looks up set and item, checks MinProperty/MinData, answers SETSUPPORT/BASICSUPPORT, and
 * calls the handler with the copy (valid only during the call) and Irp->UserBuffer. Sets
 * IoStatus.Information (0 on error), never IoStatus.Status, never completes the IRP. Stores the
 * set and item in KSPROPERTY_SET_IRP_STORAGE / KSPROPERTY_ITEM_IRP_STORAGE. Not modelled: probing
 * (the I/O model hands out exact-size buffers), fast I/O, RELATIONS, SERIALIZE*, DEFAULTVALUES,
 * KSPROPERTY_VALUES ranges, the set-list query with no input. PASSIVE_LEVEL. */
NTSTATUS NTAPI KsPropertyHandler(PIRP Irp, ULONG PropertySetsCount, const KSPROPERTY_SET *PropertySet)
{
    PAGED_CODE();
    PKSIDENTIFIER request;
    ULONG in_len, out_len;
    NTSTATUS status = km_ks_begin(Irp, &request, &in_len, &out_len);
    if (status != STATUS_SUCCESS)
        return status;
    ULONG i = km_ks_find_set(PropertySet, PropertySetsCount, sizeof *PropertySet, &request->Set);
    const KSPROPERTY_ITEM *item = i < PropertySetsCount ? km_find_property(&PropertySet[i], request->Id) : NULL;
    status = km_ks_found(i, PropertySetsCount, item);
    if (status == STATUS_SUCCESS) {
        KSPROPERTY_SET_IRP_STORAGE(Irp) = &PropertySet[i];
        KSPROPERTY_ITEM_IRP_STORAGE(Irp) = item;
        status = km_property_dispatch(Irp, request, item, in_len, out_len);
    }
    return km_ks_end(Irp, request, status);
}
