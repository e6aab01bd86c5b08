/* ks_automation_internal.h: private to harness/: what KsPropertyHandler, KsMethodHandler and the
 * event routines share: the request copy, set/item lookup, size answers and event-list locking. */
#ifndef KM_KS_AUTOMATION_INTERNAL_H
#define KM_KS_AUTOMATION_INTERNAL_H

#include "km_internal.h"

#define KM_TAG_KS_REQUEST 0x7250734Bu /* "KsPr": kernel copy of an automation request */
#define KM_TAG_KS_EVENT   0x7645734Bu /* "KsEv": KSEVENT_ENTRY allocations */

/* KSEVENT_ENTRY.Flags bits (values of the WDK's KSEVENT_ENTRY_* flags). */
#define KM_KSEVENT_ENTRY_DELETED 0x00000001
#define KM_KSEVENT_ENTRY_ONESHOT 0x00000002

/* The common start of KsPropertyHandler/KsMethodHandler/KsEnableEvent: zeroes Information, checks
 * the input length and both buffers, copies the request out (free it with km_ks_end). */
NTSTATUS km_ks_begin(PIRP Irp, PKSIDENTIFIER *Request, ULONG *InputBufferLength, ULONG *OutputBufferLength);
/* The first of Count sets (KSPROPERTY_SET, KSMETHOD_SET or KSEVENT_SET: each starts with its
 * `const GUID *Set`; Stride is the element size) whose GUID is Set: its index, Count when none. */
ULONG km_ks_find_set(const void *Sets, ULONG Count, size_t Stride, const GUID *Set);
/* The lookup's answer: STATUS_PROPSET_NOT_FOUND when no set matched (index == Count), STATUS_NOT_FOUND
 * when the set has no such item, else STATUS_SUCCESS. */
NTSTATUS km_ks_found(ULONG Index, ULONG Count, const void *Item);
/* The common end: frees the request copy; an error leaves Information 0. Returns Status. */
NTSTATUS km_ks_end(PIRP Irp, PKSIDENTIFIER Request, NTSTATUS Status);

/* Answers a request for a ULONG-or-description style support query (decisions Q14):
 * output 0 -> BUFFER_OVERFLOW with Information = full; < small -> BUFFER_TOO_SMALL. */
NTSTATUS km_ks_size_gate(PIRP Irp, ULONG OutputBufferLength, ULONG Needed);

/* Event-list locking by KSEVENTS_LOCKTYPE. INTERRUPT and ERESOURCE are not modelled:
 * they are an API_INVALID_PARAMETER finding. */
VOID km_ks_events_lock(KSEVENTS_LOCKTYPE Type, PVOID Lock, PKIRQL OldIrql);
VOID km_ks_events_unlock(KSEVENTS_LOCKTYPE Type, PVOID Lock, KIRQL OldIrql);

#endif /* KM_KS_AUTOMATION_INTERNAL_H */
