/* interp_events.c: event_enable / event_disable (IOCTL_KS_ENABLE_EVENT / IOCTL_KS_DISABLE_EVENT on
 * KSEVENTSETID_StreamAllocator) with notification objects the interpreter owns, and the `signal=`
 * tokens for events signalled during an operation. */
#include "interp_internal.h"

#include <stdlib.h>
#include <string.h>

#define IP_EVENT_NULL (-2)
#define IP_EVENT_BOGUS (-3)

bool ip_event_handle_closed_by_program(HANDLE handle)
{
    for (int i = 0; i < ip.event_count; i++)
        if (handle != NULL && ip.events[i].event_handle == handle) {
            ip.events[i].event_handle = NULL; /* closed through a stale value that named it: not ours to close */
            return true;
        }
    return false;
}

static void ip_event_release(ip_event *ev)
{
    if (ev->event_handle != NULL)
        (void)ZwClose(ev->event_handle);
    free(ev->object);
    free(ev->data);
    memset(ev, 0, sizeof *ev);
}

void ip_events_free(void)
{
    for (int i = 0; i < ip.event_count; i++)
        ip_event_release(&ip.events[i]);
    ip.event_count = 0;
}

void ip_events_scan(void)
{
    for (int i = 0; i < ip.event_count; i++) {
        ip_event *ev = &ip.events[i];
        if (ev->object == NULL)
            continue;
        DISPATCHER_HEADER *header = ev->object;
        LONG state = header->SignalState;
        if (state == ev->seen_state)
            continue;
        if (state > ev->seen_state)
            ip_line_add(" signal=#%u", ev->ordinal);
        if (ev->notify == KSEVENTF_SEMAPHORE_OBJECT) {
            ev->seen_state = state;
        } else {
            KeClearEvent((PRKEVENT)ev->object);
            ev->seen_state = 0;
        }
    }
}

void ip_op_event_enable(const op_args_event_enable *a)
{
    HANDLE h;
    int o;
    KPROCESSOR_MODE mode;
    KIRQL irql;
    if (!ip_ref_handle(a->target, &h, &o) || !ip_op_mode(a->mode, &mode) ||
        !ip_op_irql(a->irql, PASSIVE_LEVEL, &irql))
        return;
    if (ip.event_count == IP_MAX_OBJECTS)
        abort();
    ip_event ev;
    memset(&ev, 0, sizeof ev);
    ev.owner = o;
    ev.notify = a->notify;
    ev.data = ip_xalloc(sizeof *ev.data); /* its address identifies the event (KsDisableEvent) */
    ev.data->NotificationType = a->notify;
    switch (a->notify) {
    case KSEVENTF_EVENT_OBJECT:
    case KSEVENTF_EVENT_HANDLE:
        ev.object = ip_xalloc(sizeof(KEVENT));
        KeInitializeEvent(ev.object, NotificationEvent, FALSE);
        if (a->notify == KSEVENTF_EVENT_HANDLE) {
            if (!NT_SUCCESS(km_event_handle_open(ev.object, &ev.event_handle)))
                ev.event_handle = NULL;
            ev.data->EventHandle.Event = ev.event_handle;
        } else {
            ev.data->EventObject.Event = ev.object;
        }
        break;
    case KSEVENTF_SEMAPHORE_OBJECT:
        ev.object = ip_xalloc(sizeof(KSEMAPHORE));
        KeInitializeSemaphore(ev.object, 0, MAXLONG);
        ev.data->SemaphoreObject.Semaphore = ev.object;
        ev.data->SemaphoreObject.Adjustment = 1;
        break;
    default:
        break; /* semaphore handles, DPCs and work items: the fields stay zero */
    }
    KSEVENT k;
    memset(&k, 0, sizeof k);
    k.Set = KSEVENTSETID_StreamAllocator;
    k.Id = a->event_id;
    k.Flags = a->flags;
    ip_ioctl_args args = { .target_object = o, .target = h, .code = IOCTL_KS_ENABLE_EVENT,
                           .in = (const uint8_t *)&k, .in_len = sizeof k, .in_size = sizeof k,
                           .out_size = sizeof *ev.data, .out_external = (uint8_t *)ev.data, .mode = mode };
    NTSTATUS s;
    ULONG_PTR info;
    ip_request *r = ip_ioctl(&args, &s, &info);
    bool pending = r != NULL && r->listed;
    ip_request_release(r);
    if (!NT_SUCCESS(s) || r == NULL) {
        if (!pending)
            ip_event_release(&ev);
        else
            ip.events[ip.event_count++] = ev; /* its KSEVENTDATA is the pending request's output */
        return;
    }
    ev.ordinal = ++ip.event_ordinals;
    ev.enabled = true;
    int e = ip.event_count++;
    ip.events[e] = ev;
    ip.eslot[op_slot_index(a->out)] = e;
    ip_line_add(" e%u=#%u", op_slot_index(a->out), ev.ordinal);
}

void ip_op_event_disable(const op_args_event_disable *a)
{
    HANDLE h;
    int o, e;
    KPROCESSOR_MODE mode;
    KIRQL irql;
    if (!ip_ref_handle(a->target, &h, &o) || !ip_ref_event(a->event, &e) || !ip_op_mode(a->mode, &mode) ||
        !ip_op_irql(a->irql, PASSIVE_LEVEL, &irql))
        return;
    static const KSEVENTDATA bogus; /* never enabled */
    const KSEVENTDATA *key = e == IP_EVENT_NULL ? NULL : e == IP_EVENT_BOGUS ? &bogus : ip.events[e].data;
    ip_ioctl_args args = { .target_object = o, .target = h, .code = IOCTL_KS_DISABLE_EVENT,
                           .in_external = (const uint8_t *)key, .in_len = key != NULL ? sizeof *key : 0,
                           .in_size = key != NULL ? sizeof *key : 0, .mode = mode };
    NTSTATUS s;
    ULONG_PTR info;
    ip_request *r = ip_ioctl(&args, &s, &info);
    ip_request_release(r);
    if (r == NULL || !NT_SUCCESS(s))
        return;
    if (e >= 0) {
        ip.events[e].enabled = false;
        ip.disabled_event = e;
    } else if (e == IP_EVENT_NULL) {
        for (int i = 0; i < ip.event_count; i++)
            if (ip.events[i].owner == o)
                ip.events[i].enabled = false;
    }
}
