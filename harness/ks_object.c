/* ks_object.c: KS device and object headers (facts §1.6, §5.1). Headers are driver pool (tags
 * 'KSdh', 'KSoh') so a header never freed is a POOL_LEAK; the model also tracks the live ones so
 * KsDispatchIrp can validate what it finds through FsContext and the close path can report
 * KS_OBJECT_HEADER_LEAK. Where a driver keeps its headers (decided; facts Q5 follows Microsoft):
 * a device header is the first field of the device extension, an object header is the first
 * field of the structure FileObject->FsContext points to. */
#include "io_internal.h"

#define KS_HEADER_MAGIC 0x4B534864u
#define KS_TAG_DEVICE_HEADER 0x6864534Bu /* 'KSdh' in memory order */
#define KS_TAG_OBJECT_HEADER 0x686F534Bu /* 'KSoh' in memory order */

static pthread_mutex_t ks_mutex = PTHREAD_MUTEX_INITIALIZER;
static ks_header *ks_live; /* newest first */

ks_header *ks_header_live(const void *p, ks_header_kind kind)
{
    pthread_mutex_lock(&ks_mutex);
    ks_header *h = ks_live;
    while (h != NULL && (h != p || h->kind != kind))
        h = h->next;
    pthread_mutex_unlock(&ks_mutex);
    return h;
}

bool ks_object_header_live_for_file(PFILE_OBJECT file)
{
    pthread_mutex_lock(&ks_mutex);
    ks_header *h = ks_live;
    while (h != NULL && (h->kind != KS_HDR_OBJECT || h->file != file))
        h = h->next;
    pthread_mutex_unlock(&ks_mutex);
    return h != NULL;
}

/* KSCREATE_ITEM_WILDCARD: "only one wildcard is valid per list"; it "cannot be combined with"
 * NOPARAMETERS (facts §2.2). Checked for both header kinds. */
static void ks_check_items(ULONG count, const KSOBJECT_CREATE_ITEM *items, const char *routine)
{
    ULONG wildcards = 0;
    for (ULONG i = 0; i < count; i++) {
        if ((items[i].Flags & KSCREATE_ITEM_WILDCARD) == 0)
            continue;
        wildcards++;
        KM_VERIFY(KS_BAD_CREATE_ITEMS, (items[i].Flags & KSCREATE_ITEM_NOPARAMETERS) == 0,
                  "%s: item %u is WILDCARD with NOPARAMETERS", routine, (unsigned)i);
    }
    KM_VERIFY(KS_BAD_CREATE_ITEMS, wildcards <= 1, "%s: %u wildcard items", routine, (unsigned)wildcards);
}

static NTSTATUS ks_header_new(ks_header_kind kind, ULONG count, PKSOBJECT_CREATE_ITEM items,
                              const KSDISPATCH_TABLE *table, PFILE_OBJECT file, PVOID *out)
{
    if (items == NULL)
        count = 0; /* "ItemsCount is 0 if ItemsList is NULL" (facts §1.6) */
    ks_check_items(count, items, kind == KS_HDR_DEVICE ? "KsAllocateDeviceHeader" : "KsAllocateObjectHeader");
    ks_header *h = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof *h,
                                         kind == KS_HDR_DEVICE ? KS_TAG_DEVICE_HEADER : KS_TAG_OBJECT_HEADER);
    if (h == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    pthread_mutex_lock(&ks_mutex);
    *h = (ks_header){ KS_HEADER_MAGIC, ks_live, kind, count, items, table, file };
    ks_live = h;
    pthread_mutex_unlock(&ks_mutex);
    *out = h;
    return STATUS_SUCCESS;
}

static void ks_header_delete(PVOID header, ks_header_kind kind, const char *routine)
{
    pthread_mutex_lock(&ks_mutex);
    ks_header **link = &ks_live;
    while (*link != NULL && (*link != header || (*link)->kind != kind))
        link = &(*link)->next;
    ks_header *h = *link;
    bool ok = h != NULL;
    if (ok)
        *link = h->next;
    pthread_mutex_unlock(&ks_mutex);
    if (!ok)
        km_verifier_fail(KM_V_API_INVALID_PARAMETER, "%s of a header that is not live", routine);
    h->magic = 0;
    ExFreePoolWithTag(h, kind == KS_HDR_DEVICE ? KS_TAG_DEVICE_HEADER : KS_TAG_OBJECT_HEADER);
}

/* KsAllocateDeviceHeader (DDI ks/nf-ks-ksallocatedeviceheader). On failure *Header is untouched. */
NTSTATUS KsAllocateDeviceHeader(KSDEVICE_HEADER *Header, ULONG ItemsCount, PKSOBJECT_CREATE_ITEM ItemsList)
{
    km_require_irql_at_most(APC_LEVEL, "KsAllocateDeviceHeader");
    if (Header == NULL)
        return STATUS_INVALID_PARAMETER;
    return ks_header_new(KS_HDR_DEVICE, ItemsCount, ItemsList, NULL, NULL, Header);
}

/* KsFreeDeviceHeader (DDI ks/nf-ks-ksfreedeviceheader). */
VOID KsFreeDeviceHeader(KSDEVICE_HEADER Header)
{
    km_require_irql_at_most(APC_LEVEL, "KsFreeDeviceHeader");
    ks_header_delete(Header, KS_HDR_DEVICE, "KsFreeDeviceHeader");
}

/* KsAllocateObjectHeader (DDI ks/nf-ks-ksallocateobjectheader): IRQL below DISPATCH_LEVEL; records
 * the child create items, the dispatch table and the file object of the IRP's current stack
 * location. Returns STATUS_SUCCESS or STATUS_INSUFFICIENT_RESOURCES (facts §1.6). */
NTSTATUS KsAllocateObjectHeader(KSOBJECT_HEADER *Header, ULONG ItemsCount, PKSOBJECT_CREATE_ITEM ItemsList,
                                PIRP Irp, const KSDISPATCH_TABLE *Table)
{
    km_require_irql_at_most(APC_LEVEL, "KsAllocateObjectHeader");
    KM_VERIFY(API_INVALID_PARAMETER, Header != NULL && Irp != NULL && Table != NULL,
              "KsAllocateObjectHeader needs Header, Irp and Table");
    return ks_header_new(KS_HDR_OBJECT, ItemsCount, ItemsList, Table, IoGetCurrentIrpStackLocation(Irp)->FileObject,
                         Header);
}

/* KsFreeObjectHeader (DDI ks/nf-ks-ksfreeobjectheader). */
VOID KsFreeObjectHeader(KSOBJECT_HEADER Header)
{
    km_require_irql_at_most(APC_LEVEL, "KsFreeObjectHeader");
    ks_header_delete(Header, KS_HDR_OBJECT, "KsFreeObjectHeader");
}

static void ks_reset(void)
{
    pthread_mutex_lock(&ks_mutex);
    ks_live = NULL; /* the blocks are driver pool: the pool module owns (and reports) them */
    pthread_mutex_unlock(&ks_mutex);
}

/* After the I/O manager (10): headers are driver pool, so leaks are the pool check's to report. */
static void ks_census(km_census *census)
{
    pthread_mutex_lock(&ks_mutex);
    for (ks_header *h = ks_live; h != NULL; h = h->next)
        census->ks_headers++;
    pthread_mutex_unlock(&ks_mutex);
}

KM_MODULE(ks, 12, ks_reset, NULL, NULL, ks_census, NULL)
