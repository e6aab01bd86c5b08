/* ks_event.c: KsEnableEvent, KsDisableEvent, KsFreeEventList, KsGenerateEvent, KsDiscardEvent:
 * the ks.sys event list for IOCTL_KS_ENABLE_EVENT / IOCTL_KS_DISABLE_EVENT. */
#include "io_internal.h"
#include "ks_automation_internal.h"

static const KSEVENT_ITEM *km_find_event(const KSEVENT_SET *set, ULONG id)
{
    for (ULONG i = 0; i < set->EventsCount; i++)
        if (set->EventItem[i].EventId == id)
            return &set->EventItem[i];
    return NULL;
}

static NTSTATUS km_event_enable(PIRP Irp, PKSIDENTIFIER request, const KSEVENT_SET *set, const KSEVENT_ITEM *item,
                                ULONG out_len, PLIST_ENTRY list, KSEVENTS_LOCKTYPE lock_type, PVOID lock)
{
    ULONG flags = request->Flags & ~KSEVENT_TYPE_TOPOLOGY;
    if (flags == KSEVENT_TYPE_SETSUPPORT || flags == KSEVENT_TYPE_BASICSUPPORT)
        return item->SupportHandler != NULL ? item->SupportHandler(Irp, request, out_len != 0 ? Irp->UserBuffer : NULL)
                                            : STATUS_SUCCESS;
    if (flags == KSEVENT_TYPE_ENABLEBUFFERED || flags == KSEVENT_TYPE_QUERYBUFFER)
        return STATUS_NOT_SUPPORTED; /* buffered events are not modelled */
    if (flags != KSEVENT_TYPE_ENABLE && flags != KSEVENT_TYPE_ONESHOT)
        return STATUS_INVALID_PARAMETER;

    ULONG data_len = item->DataInput > sizeof(KSEVENTDATA) ? item->DataInput : sizeof(KSEVENTDATA);
    NTSTATUS status = km_ks_size_gate(Irp, out_len, data_len);
    if (status != STATUS_SUCCESS)
        return status;
    /* The caller's KSEVENTDATA is read once; its address stays the identity DISABLE uses. */
    KSEVENTDATA data;
    memcpy(&data, Irp->UserBuffer, sizeof data);
    switch (data.NotificationType) {
    case KSEVENTF_EVENT_OBJECT:
    case KSEVENTF_SEMAPHORE_OBJECT:
        if (Irp->RequestorMode != KernelMode)
            return STATUS_INVALID_PARAMETER; /* kernel object pointers from user mode */
        if (data.EventObject.Event == NULL)
            return STATUS_INVALID_PARAMETER;
        break;
    case KSEVENTF_EVENT_HANDLE:
    case KSEVENTF_SEMAPHORE_HANDLE:
    case KSEVENTF_DPC:
    case KSEVENTF_WORKITEM:
    case KSEVENTF_KSWORKITEM:
        return STATUS_NOT_SUPPORTED; /* handle translation, DPCs and work items are not modelled */
    default:
        return STATUS_INVALID_PARAMETER;
    }

    SIZE_T size = sizeof(KSEVENT_ENTRY) + (SIZE_T)item->ExtraEntryData;
    PKSEVENT_ENTRY entry = ExAllocatePoolWithTag(NonPagedPool, size, KM_TAG_KS_EVENT);
    if (entry == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    memset(entry, 0, size);
    InitializeListHead(&entry->ListEntry);
    entry->Object = data.EventObject.Event;
    /* The entry is keyed on the caller's KSEVENTDATA address, as on Windows; never dereferenced later. */
    entry->EventData = (PKSEVENTDATA)km_io_caller_address(Irp, Irp->UserBuffer);
    entry->NotificationType = data.NotificationType;
    entry->EventSet = set;
    entry->EventItem = item;
    entry->FileObject = IoGetCurrentIrpStackLocation(Irp)->FileObject;
    entry->SemaphoreAdjustment = (ULONG)data.SemaphoreObject.Adjustment;
    entry->Reserved = (ULONG)data.EventObject.Increment;
    entry->Flags = flags == KSEVENT_TYPE_ONESHOT ? KM_KSEVENT_ENTRY_ONESHOT : 0;
    KSEVENT_ENTRY_IRP_STORAGE(Irp) = entry;

    if (item->AddHandler != NULL) {
        /* The add handler owns insertion into the list (it may refuse the request). */
        status = item->AddHandler(Irp, &data, entry);
        if (!NT_SUCCESS(status))
            KsDiscardEvent(entry);
        return status;
    }
    KIRQL irql;
    km_ks_events_lock(lock_type, lock, &irql);
    InsertTailList(list, &entry->ListEntry);
    km_ks_events_unlock(lock_type, lock, irql);
    return STATUS_SUCCESS;
}

/* KsEnableEvent (DDI nf-ks-ksenableevent). Input: KSEVENT (copied once); output: the caller's
 * KSEVENTDATA (copied once; its address identifies the event for KsDisableEvent). Looks up set and
 * item (STATUS_PROPSET_NOT_FOUND / STATUS_NOT_FOUND), fills KSEVENT_SET/ITEM/ENTRY_IRP_STORAGE,
 * allocates a KSEVENT_ENTRY (+ ExtraEntryData) and lets the item's AddHandler insert it, or inserts
 * it itself under EventsLock. Modelled notifications: KSEVENTF_EVENT_OBJECT and
 * KSEVENTF_SEMAPHORE_OBJECT from kernel requestors. Not modelled (STATUS_NOT_SUPPORTED): handle,
 * DPC and work-item notifications, buffered events; the event-set query with no input. Sets
 * Information 0; never completes the IRP. PASSIVE_LEVEL. */
NTSTATUS NTAPI KsEnableEvent(PIRP Irp, ULONG EventSetsCount, const KSEVENT_SET *EventSet, PLIST_ENTRY EventsList,
                             KSEVENTS_LOCKTYPE EventsFlags, PVOID EventsLock)
{
    PAGED_CODE();
    PKSIDENTIFIER request;
    ULONG in_len, out_len;
    NTSTATUS status = km_ks_begin(Irp, &request, &in_len, &out_len);
    if (status != STATUS_SUCCESS)
        return status;
    ULONG i = km_ks_find_set(EventSet, EventSetsCount, sizeof *EventSet, &request->Set);
    const KSEVENT_ITEM *item = i < EventSetsCount ? km_find_event(&EventSet[i], request->Id) : NULL;
    status = km_ks_found(i, EventSetsCount, item);
    if (status == STATUS_SUCCESS) {
        KSEVENT_SET_IRP_STORAGE(Irp) = &EventSet[i];
        KSEVENT_ITEM_IRP_STORAGE(Irp) = item;
        status = km_event_enable(Irp, request, &EventSet[i], item, out_len, EventsList, EventsFlags, EventsLock);
    }
    return km_ks_end(Irp, request, status);
}

/* Removes the entries matching (FileObject, EventData or any when NULL) onto `out`, under the lock. */
static VOID km_event_collect(PFILE_OBJECT file, PKSEVENTDATA data, PLIST_ENTRY list, KSEVENTS_LOCKTYPE lock_type,
                             PVOID lock, PLIST_ENTRY out, BOOLEAN first_only)
{
    KIRQL irql;
    km_ks_events_lock(lock_type, lock, &irql);
    for (PLIST_ENTRY e = list->Flink, next; e != list; e = next) {
        next = e->Flink;
        PKSEVENT_ENTRY entry = CONTAINING_RECORD(e, KSEVENT_ENTRY, ListEntry);
        if (entry->FileObject != file || (data != NULL && entry->EventData != data))
            continue;
        if (entry->EventItem->RemoveHandler != NULL)
            entry->EventItem->RemoveHandler(file, entry); /* it unlinks the entry itself */
        else
            RemoveEntryList(&entry->ListEntry);
        entry->Flags |= KM_KSEVENT_ENTRY_DELETED;
        InsertTailList(out, &entry->ListEntry);
        if (first_only)
            break;
    }
    km_ks_events_unlock(lock_type, lock, irql);
}

static VOID km_event_discard_all(PLIST_ENTRY out)
{
    while (!IsListEmpty(out))
        KsDiscardEvent(CONTAINING_RECORD(RemoveHeadList(out), KSEVENT_ENTRY, ListEntry));
}

/* KsDisableEvent (DDI nf-ks-ksdisableevent). Input: the KSEVENTDATA address given at enable
 * (compared, never dereferenced); a NULL/zero-length input disables every event of this file
 * object. Unknown event: STATUS_UNSUCCESSFUL. Information 0; never completes the IRP. */
NTSTATUS NTAPI KsDisableEvent(PIRP Irp, PLIST_ENTRY EventsList, KSEVENTS_LOCKTYPE EventsFlags, PVOID EventsLock)
{
    PAGED_CODE();
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    ULONG in_len = stack->Parameters.DeviceIoControl.InputBufferLength;
    PKSEVENTDATA key = (PKSEVENTDATA)km_io_caller_address(Irp, stack->Parameters.DeviceIoControl.Type3InputBuffer);
    Irp->IoStatus.Information = 0;
    LIST_ENTRY out;
    InitializeListHead(&out);
    if (in_len == 0 || key == NULL) {
        KsFreeEventList(stack->FileObject, EventsList, EventsFlags, EventsLock);
        return STATUS_SUCCESS;
    }
    if (in_len < sizeof(KSEVENTDATA))
        return STATUS_INVALID_BUFFER_SIZE;
    km_event_collect(stack->FileObject, key, EventsList, EventsFlags, EventsLock, &out, TRUE);
    if (IsListEmpty(&out))
        return STATUS_UNSUCCESSFUL;
    km_event_discard_all(&out);
    return STATUS_SUCCESS;
}

/* KsFreeEventList (DDI nf-ks-ksfreeeventlist): disables every event FileObject enabled on the list. */
VOID NTAPI KsFreeEventList(PFILE_OBJECT FileObject, PLIST_ENTRY EventsList, KSEVENTS_LOCKTYPE EventsFlags,
                           PVOID EventsLock)
{
    LIST_ENTRY out;
    InitializeListHead(&out);
    km_event_collect(FileObject, NULL, EventsList, EventsFlags, EventsLock, &out, FALSE);
    km_event_discard_all(&out);
}

/* KsGenerateEvent (DDI nf-ks-ksgenerateevent): signals the entry's KEVENT or releases its
 * KSEMAPHORE (the modelled notification types). A one-shot entry fires once; it stays on the list
 * until disabled (Windows removes it from a work item: not modelled). Callable <= DISPATCH_LEVEL. */
NTSTATUS NTAPI KsGenerateEvent(PKSEVENT_ENTRY EntryEvent)
{
    if (EntryEvent == NULL)
        km_verifier_fail(KM_V_API_INVALID_PARAMETER, "KsGenerateEvent(NULL)");
    if ((EntryEvent->Flags & KM_KSEVENT_ENTRY_DELETED) != 0)
        return STATUS_SUCCESS;
    if ((EntryEvent->Flags & KM_KSEVENT_ENTRY_ONESHOT) != 0)
        EntryEvent->Flags |= KM_KSEVENT_ENTRY_DELETED;
    switch (EntryEvent->NotificationType) {
    case KSEVENTF_EVENT_OBJECT:
        KeSetEvent((PRKEVENT)EntryEvent->Object, (KPRIORITY)EntryEvent->Reserved, FALSE);
        return STATUS_SUCCESS;
    case KSEVENTF_SEMAPHORE_OBJECT:
        KeReleaseSemaphore((PRKSEMAPHORE)EntryEvent->Object, (KPRIORITY)EntryEvent->Reserved,
                           (LONG)EntryEvent->SemaphoreAdjustment, FALSE);
        return STATUS_SUCCESS;
    default:
        return STATUS_NOT_SUPPORTED;
    }
}

/* KsDiscardEvent (DDI nf-ks-ksdiscardevent): frees an entry already removed from its list. */
VOID NTAPI KsDiscardEvent(PKSEVENT_ENTRY EventEntry)
{
    ExFreePoolWithTag(EventEntry, KM_TAG_KS_EVENT);
}
