/* kc_run.c: replays one case against the real device, issuing the same requests the harness's
 * interpreter issues (fuzz/interp_*.c): creates through NtCreateFile relative to the parent with the
 * program's exact UNICODE_STRING, create_framing through ksuser's KsCreateAllocator, requests through
 * NtDeviceIoControlFile with exact-size buffers, close through NtClose. A case whose prerequisite is
 * absent (the filter or pin cannot be opened, a handle value the program names is in use by this
 * process) is skipped whole: nothing is written for it. */
#include "kc_win.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KC_MAX_OBJECTS 64
#define KC_MAX_ENTRIES 1024
#define KC_MAX_BUFFER (1u << 20)  /* the interpreter's IP_MAX_BUFFER: larger requests are SKIPPED size */
#define KC_BOGUS_HANDLE ((HANDLE)(uintptr_t)0xB06C)      /* the interpreter's `bogus` values */
#define KC_BOGUS_FRAME ((uint64_t)0xB06B0000u)
#define KC_NOT_WRITTEN STATUS_PENDING /* an IO_STATUS_BLOCK the I/O manager has not written keeps this */
#define KC_BUF_IN_NULL 0x1u
#define KC_BUF_OUT_NULL 0x2u
#define KC_BUF_IN_UNALIGNED 0x4u
#define KC_BUF_OUT_UNALIGNED 0x8u

typedef enum { KC_FILTER, KC_PIN, KC_ALLOCATOR, KC_OTHER } kc_obj_kind;

typedef struct kc_object {
    HANDLE handle;
    kc_obj_kind kind;
    bool open;
} kc_object;

typedef struct kc_event {
    KSEVENTDATA *data; /* its address identifies the event to IOCTL_KS_DISABLE_EVENT */
    HANDLE notify;     /* the event object KS signals, NULL when the notification type has none */
    int owner;
    unsigned ordinal;
} kc_event;

typedef struct kc_request {
    IO_STATUS_BLOCK *iosb;
    HANDLE done_event;
    uint8_t *in_alloc, *out_alloc, *out;
    size_t op, out_size;
    kc_out_kind out_kind;
    int target;
    bool alloc_shaped, free_shaped, finished;
    uint8_t out_slot;
    size_t entry; /* the observation of the op that sent it, which its completion joins */
    uint64_t free_frame;
} kc_request;

typedef struct kc_entry {
    kc_expect e;
    char status[48], done_status[48];
    char *out;
} kc_entry;

typedef struct kc_run {
    const kc_case *c;
    const kc_target *t;
    kc_object objects[KC_MAX_OBJECTS];
    int object_count;
    int hslot[KC_SLOTS];
    kc_frame_slots frames;
    int frame_owner[KC_SLOTS];
    uint64_t freed_frame;
    bool have_freed_frame;
    HANDLE closed_handle;
    bool have_closed_handle;
    kc_event events[KC_MAX_OBJECTS];
    int event_count, eslot[KC_SLOTS], disabled_event;
    unsigned event_ordinals;
    kc_request *requests[KC_MAX_OBJECTS];
    int request_count;
    kc_entry *entries;
    size_t entry_count;
    size_t op;    /* the operation running */
    /* Created before an op resolves its references, so a handle the op creates can never take the
     * value of the `closed` handle it is about to use. */
    HANDLE spare_done, spare_notify;
    char *why;    /* set when the case is skipped */
    size_t why_size;
    bool skip;
} kc_run;

static kc_entry *kc_entry_new(kc_run *r, size_t op)
{
    if (r->entry_count == KC_MAX_ENTRIES) {
        snprintf(r->why, r->why_size, "more than %d observations", KC_MAX_ENTRIES);
        r->skip = true;
        return NULL;
    }
    kc_entry *x = &r->entries[r->entry_count++];
    memset(x, 0, sizeof *x);
    x->e.op = op;
    x->e.status = x->status;
    return x;
}

static void kc_set_status(kc_entry *x, NTSTATUS s)
{
    const char *name = kc_format_status(x->status, sizeof x->status, (uint32_t)s);
    if (name != x->status)
        snprintf(x->status, sizeof x->status, "%s", name);
}

/* An op the interpreter would trace as SKIPPED (or with status "-") is not run here either; the
 * recording format has no key for it, so nothing is recorded for it. */
static void kc_skip_op(kc_run *r, const char *why)
{
    (void)r;
    (void)why;
}

static void kc_skip_case(kc_run *r, const char *what)
{
    if (!r->skip)
        snprintf(r->why, r->why_size, "op %lu %s: %s", (unsigned long)r->op, r->c->ops[r->op].name, what);
    r->skip = true;
}

/* ---- Slots --------------------------------------------------------------------------------------- */
static int kc_object_by_handle(const kc_run *r, HANDLE h)
{
    for (int i = r->object_count - 1; i >= 0; i--)
        if (r->objects[i].open && r->objects[i].handle == h)
            return i;
    return -1;
}

/* A value the kernel would resolve to one of this process's own objects must never be sent. */
static bool kc_handle_in_use(HANDLE h)
{
    DWORD flags;
    return h != NULL && GetHandleInformation(h, &flags);
}

static bool kc_ref_handle(kc_run *r, uint8_t ref, HANDLE *h, int *o)
{
    switch (ref) {
    case KC_REF_NULL: *h = NULL; break;
    case KC_REF_BOGUS: *h = KC_BOGUS_HANDLE; break;
    case KC_REF_CLOSED:
        if (!r->have_closed_handle) {
            kc_skip_op(r, "empty closed");
            return false;
        }
        *h = r->closed_handle;
        break;
    default: {
        int k = r->hslot[ref % KC_SLOTS];
        if (k < 0) {
            kc_skip_op(r, "empty h");
            return false;
        }
        *h = r->objects[k].handle;
    }
    }
    *o = kc_object_by_handle(r, *h);
    if (*o < 0 && kc_handle_in_use(*h)) {
        kc_skip_case(r, "the handle value it names is in use by kscapture itself");
        return false;
    }
    return true;
}

static bool kc_ref_frame(kc_run *r, uint8_t ref, uint64_t *frame)
{
    switch (ref) {
    case KC_REF_NULL: *frame = 0; return true;
    case KC_REF_BOGUS: *frame = KC_BOGUS_FRAME; return true;
    case KC_REF_CLOSED:
        if (!r->have_freed_frame) {
            kc_skip_op(r, "empty closed");
            return false;
        }
        *frame = r->freed_frame;
        return true;
    default:
        if (!r->frames.filled[ref % KC_SLOTS]) {
            kc_skip_op(r, "empty f");
            return false;
        }
        *frame = r->frames.addr[ref % KC_SLOTS];
        return true;
    }
}

static int kc_object_add(kc_run *r, HANDLE h, kc_obj_kind kind)
{
    if (r->object_count == KC_MAX_OBJECTS) {
        CloseHandle(h);
        kc_skip_case(r, "too many handles");
        return -1;
    }
    r->objects[r->object_count] = (kc_object){ h, kind, true };
    return r->object_count++;
}

static kc_obj_kind kc_child_kind(const kc_run *r, int parent)
{
    if (parent < 0)
        return KC_OTHER;
    return r->objects[parent].kind == KC_FILTER ? KC_PIN : r->objects[parent].kind == KC_PIN ? KC_ALLOCATOR : KC_OTHER;
}

/* ---- Requests ------------------------------------------------------------------------------------ */
typedef struct kc_ioctl_args {
    HANDLE target;
    int object;
    ULONG code;
    const uint8_t *in;
    size_t in_len, in_size;
    const uint8_t *data;
    size_t data_len, out_size;
    uint8_t buffers;
    bool has_frame;
    uint64_t frame;
    const void *in_external; /* event_disable: the enable's KSEVENTDATA itself */
    uint8_t *out_external;   /* event_enable: the KSEVENTDATA KS keeps */
    kc_out_kind out_kind;
    bool alloc_shaped, free_shaped;
    uint8_t out_slot;
} kc_ioctl_args;

static void kc_request_free(kc_request *q)
{
    if (q->done_event != NULL)
        CloseHandle(q->done_event);
    free(q->in_alloc);
    free(q->out_alloc);
    free(q->iosb);
    free(q);
}

static void kc_frame_live_set(kc_run *r, uint64_t addr, bool live)
{
    for (unsigned s = 0; s < KC_SLOTS; s++)
        if (r->frames.filled[s] && r->frames.addr[s] == addr)
            r->frames.live[s] = live;
}

/* Frames handed out (ALLOC) or taken back (FREE), before the output is formatted, as the interpreter does. */
static bool kc_request_result(kc_run *r, kc_request *q, NTSTATUS s, ULONG_PTR info)
{
    if (!NT_SUCCESS(s) || s == STATUS_PENDING || q->target < 0)
        return false;
    if (q->alloc_shaped && q->out != NULL && info >= sizeof(void *) && q->out_size >= sizeof(void *)) {
        uintptr_t frame;
        memcpy(&frame, q->out, sizeof frame);
        unsigned k = q->out_slot % KC_SLOTS;
        r->frames.addr[k] = frame;
        r->frames.filled[k] = r->frames.live[k] = true;
        r->frame_owner[k] = q->target;
        return true;
    }
    if (q->free_shaped && s == 0) {
        kc_frame_live_set(r, q->free_frame, false);
        r->freed_frame = q->free_frame;
        r->have_freed_frame = true;
    }
    return false;
}

static void kc_request_record(kc_run *r, kc_entry *x, kc_request *q, NTSTATUS s, ULONG_PTR info)
{
    kc_set_status(x, s);
    x->e.has_info = true;
    x->e.info = info;
    bool filled = kc_request_result(r, q, s, info);
    if (q->alloc_shaped) {
        x->e.has_slot = true;
        x->e.slot = filled;
    }
    size_t n = info < q->out_size ? (size_t)info : q->out_size;
    if (s != STATUS_PENDING && q->out != NULL && n != 0)
        x->out = kc_format_out(q->out, n, q->out_kind, sizeof(void *), &r->frames);
    x->e.out = x->out;
}

/* Sends the request and records it; returns its status, or KC_NOT_SENT (not a success status). */
#define KC_NOT_SENT ((NTSTATUS)0xC0FFFFFF)

static NTSTATUS kc_ioctl(kc_run *r, const kc_ioctl_args *a)
{
    size_t in_bytes = a->in_len > a->in_size ? a->in_len : a->in_size;
    if (in_bytes > KC_MAX_BUFFER || a->out_size > KC_MAX_BUFFER) {
        kc_skip_op(r, "size");
        return KC_NOT_SENT;
    }
    kc_entry *x = kc_entry_new(r, r->op);
    kc_request *q = calloc(1, sizeof *q);
    if (x == NULL || q == NULL || (q->iosb = calloc(1, sizeof *q->iosb)) == NULL || r->spare_done == NULL) {
        if (q != NULL)
            kc_request_free(q);
        kc_skip_case(r, "out of memory or handles");
        return KC_NOT_SENT;
    }
    q->done_event = r->spare_done;
    r->spare_done = NULL;
    q->op = r->op;
    q->entry = r->entry_count - 1;
    q->target = a->object;
    q->out_size = a->out_size;
    q->out_kind = a->out_kind;
    q->alloc_shaped = a->alloc_shaped;
    q->free_shaped = a->free_shaped;
    q->out_slot = a->out_slot;
    q->iosb->Status = KC_NOT_WRITTEN;

    uint8_t *in = (uint8_t *)a->in_external;
    if (a->in_external == NULL && (a->buffers & KC_BUF_IN_NULL) == 0 && in_bytes != 0) {
        size_t skew = (a->buffers & KC_BUF_IN_UNALIGNED) != 0;
        q->in_alloc = calloc(1, in_bytes + skew); /* zero padded; ends exactly at the buffer's end */
        in = q->in_alloc != NULL ? q->in_alloc + skew : NULL;
        if (in != NULL && a->in != NULL)
            memcpy(in, a->in, a->in_len);
    }
    if (a->out_external != NULL) {
        q->out = a->out_external;
    } else if ((a->buffers & KC_BUF_OUT_NULL) == 0 && a->out_size != 0) {
        size_t skew = (a->buffers & KC_BUF_OUT_UNALIGNED) != 0;
        q->out_alloc = calloc(1, a->out_size + skew);
        q->out = q->out_alloc != NULL ? q->out_alloc + skew : NULL;
        if (q->out != NULL && a->data != NULL)
            memcpy(q->out, a->data, a->data_len < a->out_size ? a->data_len : a->out_size);
        if (q->out != NULL && a->has_frame) {
            uintptr_t frame = (uintptr_t)a->frame;
            memcpy(q->out, &frame, a->out_size < sizeof frame ? a->out_size : sizeof frame);
        }
    }
    if ((in_bytes != 0 && in == NULL && (a->buffers & KC_BUF_IN_NULL) == 0) ||
        (a->out_size != 0 && q->out == NULL && (a->buffers & KC_BUF_OUT_NULL) == 0)) {
        r->entry_count--;
        kc_request_free(q);
        kc_skip_case(r, "out of memory");
        return KC_NOT_SENT;
    }
    if (q->free_shaped && q->out != NULL && q->out_size >= sizeof(void *)) {
        uintptr_t frame;
        memcpy(&frame, q->out, sizeof frame);
        q->free_frame = frame;
    }
    NTSTATUS s = NtDeviceIoControlFile(a->target, q->done_event, NULL, NULL, q->iosb, a->code, in, (ULONG)a->in_size,
                                       q->out, (ULONG)a->out_size);
    if (s == STATUS_PENDING) {
        kc_request_record(r, x, q, s, 0);
        if (r->request_count == KC_MAX_OBJECTS) {
            kc_skip_case(r, "too many pending requests");
            return s; /* q is leaked on purpose: the kernel may still write its buffers */
        }
        r->requests[r->request_count++] = q;
        return s;
    }
    ULONG_PTR info = q->iosb->Status != KC_NOT_WRITTEN ? q->iosb->Information : 0;
    kc_request_record(r, x, q, s, info);
    kc_request_free(q);
    return s;
}

/* Completions of pending requests, recorded as done entries after the op during which they finished. */
static void kc_scan_completions(kc_run *r, size_t after)
{
    for (int i = 0; i < r->request_count; i++) {
        kc_request *q = r->requests[i];
        if (q->finished || WaitForSingleObject(q->done_event, 0) != WAIT_OBJECT_0)
            continue;
        q->finished = true;
        kc_entry *x = &r->entries[q->entry];
        NTSTATUS s = q->iosb->Status;
        const char *name = kc_format_status(x->done_status, sizeof x->done_status, (uint32_t)s);
        if (name != x->done_status)
            snprintf(x->done_status, sizeof x->done_status, "%s", name);
        x->e.has_done = true;
        x->e.done_status = x->done_status;
        x->e.done_info = q->iosb->Information;
        x->e.has_done_during = after < r->c->op_count; /* not during the final rundown */
        x->e.done_during = after;
        if (kc_request_result(r, q, s, q->iosb->Information))
            x->e.slot = true; /* a pended ALLOC that completed fills its slot then, as in the trace */
    }
}

/* signal: true / false on the op's observation once an event the kit can watch exists. */
static void kc_scan_signals(kc_run *r, kc_entry *x)
{
    bool watched = false, signalled = false;
    for (int i = 0; i < r->event_count; i++) {
        kc_event *ev = &r->events[i];
        if (ev->notify == NULL)
            continue;
        watched = true;
        if (WaitForSingleObject(ev->notify, 0) == WAIT_OBJECT_0) {
            ResetEvent(ev->notify);
            signalled = true;
        }
    }
    if (x != NULL && watched) {
        x->e.has_signal = true;
        x->e.signal = signalled;
    }
}

static KSIDENTIFIER kc_identifier(const GUID *set, ULONG id, ULONG flags)
{
    KSIDENTIFIER k;
    memset(&k, 0, sizeof k);
    k.Set = *set;
    k.Id = id;
    k.Flags = flags;
    return k;
}

/* ---- Operations ---------------------------------------------------------------------------------- */
static void kc_op_open_filter(kc_run *r, const kc_op *op)
{
    if (op->device != 0) {
        kc_skip_case(r, "device != 0 names a harness test device with no counterpart here");
        return;
    }
    DWORD err;
    HANDLE h = kc_open_filter(r->t->device, &err);
    if (h == NULL) {
        char why[64];
        snprintf(why, sizeof why, "CreateFile of the filter failed: Win32 error %lu", err);
        kc_skip_case(r, why);
        return;
    }
    int o = kc_object_add(r, h, KC_FILTER);
    kc_entry *x = kc_entry_new(r, r->op);
    if (o < 0 || x == NULL)
        return;
    r->hslot[op->out % KC_SLOTS] = o;
    /* CreateFile succeeded: only the Win32 outcome is observable, so the status is the class "success"
     * (NT_SUCCESS) and no Information is recorded. */
    snprintf(x->status, sizeof x->status, "success");
    x->e.has_slot = x->e.slot = true;
}

static void kc_op_open_pin(kc_run *r, const kc_op *op)
{
    HANDLE filter;
    int o;
    if (op->pin_id != 0) {
        kc_skip_case(r, "pin_id != 0 names a harness test-filter pin; the kit creates --pin only");
        return;
    }
    if (!kc_ref_handle(r, op->ref, &filter, &o))
        return;
    DWORD err;
    HANDLE h = kc_create_pin(r->t, filter, &err);
    if (h == NULL) {
        char why[96];
        snprintf(why, sizeof why, "KsCreatePin failed: Win32 error %lu", err);
        kc_skip_case(r, why);
        return;
    }
    int p = kc_object_add(r, h, KC_PIN);
    kc_entry *x = kc_entry_new(r, r->op);
    if (p < 0 || x == NULL)
        return;
    r->hslot[op->out % KC_SLOTS] = p;
    snprintf(x->status, sizeof x->status, "success"); /* KsCreatePin returned ERROR_SUCCESS (a Win32 code) */
    x->e.has_slot = x->e.slot = true;
}

static void kc_op_create_framing(kc_run *r, const kc_op *op)
{
    HANDLE parent;
    int p;
    if (!kc_ref_handle(r, op->ref, &parent, &p))
        return;
    KSALLOCATOR_FRAMING f = { .OptionsFlags = op->framing[0], .PoolType = op->framing[1],
                              .Frames = op->framing[2], .FrameSize = op->framing[3],
                              .FileAlignment = op->framing[4], .Reserved = op->framing[5] };
    HANDLE h = NULL;
    DWORD err = KsCreateAllocator(parent, &f, &h); /* ksuser.dll: a Win32 code, as the trace's win32:N */
    kc_entry *x = kc_entry_new(r, r->op);
    if (x == NULL)
        return;
    snprintf(x->status, sizeof x->status, "win32:%lu", err);
    x->e.has_slot = true;
    if (err != ERROR_SUCCESS || h == NULL || h == INVALID_HANDLE_VALUE)
        return;
    int o = kc_object_add(r, h, KC_ALLOCATOR);
    if (o >= 0) {
        r->hslot[op->out % KC_SLOTS] = o;
        x->e.slot = true;
    }
}

static void kc_op_create_raw(kc_run *r, const kc_op *op)
{
    HANDLE parent;
    int p;
    if (!kc_ref_handle(r, op->ref, &parent, &p))
        return;
    size_t size = op->name_bytes.size > op->max_length ? op->name_bytes.size : op->max_length;
    uint8_t *buffer = size != 0 ? calloc(1, size) : NULL; /* exact size, zero padded */
    if (size != 0 && buffer == NULL) {
        kc_skip_case(r, "out of memory");
        return;
    }
    if (op->name_bytes.size != 0)
        memcpy(buffer, op->name_bytes.data, op->name_bytes.size);
    UNICODE_STRING name = { op->length, op->max_length, (PWSTR)(void *)buffer };
    OBJECT_ATTRIBUTES oa;
    InitializeObjectAttributes(&oa, &name, OBJ_CASE_INSENSITIVE, parent, NULL);
    IO_STATUS_BLOCK iosb;
    iosb.Status = KC_NOT_WRITTEN;
    iosb.Information = 0;
    HANDLE h = NULL;
    NTSTATUS s = NtCreateFile(&h, GENERIC_READ, &oa, &iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0, FILE_OPEN, 0, NULL, 0);
    free(buffer);
    kc_entry *x = kc_entry_new(r, r->op);
    if (x == NULL)
        return;
    kc_set_status(x, s);
    x->e.has_info = true;
    x->e.info = iosb.Status != KC_NOT_WRITTEN ? iosb.Information : 0;
    x->e.has_slot = true;
    if (!NT_SUCCESS(s) || s == STATUS_PENDING)
        return;
    int o = kc_object_add(r, h, kc_child_kind(r, op->ref == KC_REF_NULL ? -1 : p));
    if (o >= 0) {
        r->hslot[op->out % KC_SLOTS] = o;
        x->e.slot = true;
    }
}

static bool kc_is_allocator(const kc_run *r, int o) { return o >= 0 && r->objects[o].kind == KC_ALLOCATOR; }

static void kc_op_prop(kc_run *r, const kc_op *op)
{
    HANDLE h;
    int o;
    if (!kc_ref_handle(r, op->ref, &h, &o))
        return;
    bool table = op->kind == KC_PROP_FUNCTIONTABLE;
    GUID set = KC_GUID(STATIC_KSPROPSETID_StreamAllocator);
    KSIDENTIFIER k = kc_identifier(&set, table ? 0 : 1, KSPROPERTY_TYPE_GET); /* FUNCTIONTABLE 0, STATUS 1 */
    kc_ioctl_args a = { .target = h, .object = o, .code = IOCTL_KS_PROPERTY, .in = (const uint8_t *)&k,
                        .in_len = sizeof k, .in_size = sizeof k, .out_size = op->out_size,
                        .out_kind = table ? KC_OUT_TABLE : KC_OUT_PLAIN };
    kc_ioctl(r, &a);
}

static void kc_op_method(kc_run *r, const kc_op *op)
{
    HANDLE h;
    int o;
    uint64_t frame = 0;
    bool alloc = op->kind == KC_METHOD_ALLOC;
    if (!kc_ref_handle(r, op->ref, &h, &o) || (!alloc && !kc_ref_frame(r, op->frame, &frame)))
        return;
    GUID set = KC_GUID(STATIC_KSMETHODSETID_StreamAllocator);
    KSIDENTIFIER k = kc_identifier(&set, alloc ? 0 : 1, KSMETHOD_TYPE_SEND); /* ALLOC 0, FREE 1 */
    kc_ioctl_args a = { .target = h, .object = kc_is_allocator(r, o) ? o : -1, .code = IOCTL_KS_METHOD,
                        .in = (const uint8_t *)&k, .in_len = sizeof k, .in_size = sizeof k,
                        .out_size = op->out_size, .frame = frame, .has_frame = !alloc, .out_kind = KC_OUT_FRAME0,
                        .alloc_shaped = alloc, .free_shaped = !alloc, .out_slot = op->out };
    kc_ioctl(r, &a);
}

static void kc_op_ioctl(kc_run *r, const kc_op *op)
{
    HANDLE h;
    int o;
    uint64_t frame = 0;
    if (!kc_ref_handle(r, op->ref, &h, &o))
        return;
    if (op->frame != KC_REF_NULL && !kc_ref_frame(r, op->frame, &frame))
        return;
    size_t in_len = sizeof(KSIDENTIFIER) + op->extra.size;
    uint8_t *in = malloc(in_len);
    if (in == NULL) {
        kc_skip_case(r, "out of memory");
        return;
    }
    GUID set;
    memcpy(&set, op->set, sizeof set);
    KSIDENTIFIER k = kc_identifier(&set, op->id, op->flags);
    memcpy(in, &k, sizeof k);
    if (op->extra.size != 0)
        memcpy(in + sizeof k, op->extra.data, op->extra.size);
    static const GUID methods = KC_GUID(STATIC_KSMETHODSETID_StreamAllocator);
    static const GUID props = KC_GUID(STATIC_KSPROPSETID_StreamAllocator);
    ULONG kind = op->flags & ~(ULONG)KSMETHOD_TYPE_TOPOLOGY;
    bool method = op->code == IOCTL_KS_METHOD && IsEqualGUID(&set, &methods);
    bool alloc = method && op->id == 0 && (kind == KSMETHOD_TYPE_SEND || kind == KSMETHOD_TYPE_WRITE);
    bool free_ = method && op->id == 1 && kind == KSMETHOD_TYPE_SEND;
    bool table = op->code == IOCTL_KS_PROPERTY && IsEqualGUID(&set, &props) && op->id == 0;
    kc_ioctl_args a = { .target = h, .object = kc_is_allocator(r, o) ? o : -1, .code = op->code, .in = in,
                        .in_len = in_len, .in_size = op->in_size, .data = op->data.data, .data_len = op->data.size,
                        .out_size = op->out_size, .frame = frame, .has_frame = op->frame != KC_REF_NULL,
                        .buffers = op->buffers,
                        .out_kind = table ? KC_OUT_TABLE
                                          : (alloc || free_ || op->frame != KC_REF_NULL) ? KC_OUT_FRAME0 : KC_OUT_PLAIN,
                        .alloc_shaped = alloc, .free_shaped = free_, .out_slot = op->out };
    kc_ioctl(r, &a);
    free(in);
}

/* Event handles are real; semaphore handles and the kernel-object/DPC/work-item kinds are left zero,
 * as the interpreter leaves what it cannot supply (kernel pointers cannot come from user mode). */
static void kc_op_event_enable(kc_run *r, const kc_op *op)
{
    HANDLE h;
    int o;
    if (!kc_ref_handle(r, op->ref, &h, &o))
        return;
    if (r->event_count == KC_MAX_OBJECTS) {
        kc_skip_case(r, "too many events");
        return;
    }
    kc_event ev = { .owner = o };
    ev.data = calloc(1, sizeof *ev.data);
    if (ev.data == NULL) {
        kc_skip_case(r, "out of memory");
        return;
    }
    ev.data->NotificationType = op->notify;
    if (op->notify == KSEVENTF_EVENT_HANDLE) {
        ev.notify = r->spare_notify;
        r->spare_notify = NULL;
        ev.data->EventHandle.Event = ev.notify;
    }
    GUID set = KC_GUID(STATIC_KSEVENTSETID_StreamAllocator);
    KSIDENTIFIER k = kc_identifier(&set, op->event_id, op->event_flags);
    kc_ioctl_args a = { .target = h, .object = o, .code = IOCTL_KS_ENABLE_EVENT, .in = (const uint8_t *)&k,
                        .in_len = sizeof k, .in_size = sizeof k, .out_size = sizeof *ev.data,
                        .out_external = (uint8_t *)ev.data };
    size_t before = r->entry_count;
    NTSTATUS s = kc_ioctl(r, &a);
    /* Kept even when refused: KS may still hold the KSEVENTDATA of a pending request. */
    int e = r->event_count++;
    r->events[e] = ev;
    if (NT_SUCCESS(s) && r->entry_count == before + 1) { /* as the interpreter: pending counts too */
        r->events[e].ordinal = ++r->event_ordinals;
        r->eslot[op->out % KC_SLOTS] = e;
        r->entries[before].e.slot = true;
    }
    if (r->entry_count == before + 1)
        r->entries[before].e.has_slot = true;
}

static void kc_op_event_disable(kc_run *r, const kc_op *op)
{
    HANDLE h;
    int o, e = -1;
    if (!kc_ref_handle(r, op->ref, &h, &o))
        return;
    static KSEVENTDATA bogus; /* never enabled */
    const KSEVENTDATA *key;
    if (op->event == KC_REF_NULL) {
        key = NULL;
    } else if (op->event == KC_REF_BOGUS) {
        key = &bogus;
    } else {
        e = op->event == KC_REF_CLOSED ? r->disabled_event : r->eslot[op->event % KC_SLOTS];
        if (e < 0) {
            if (op->event == KC_REF_CLOSED)
                kc_skip_op(r, "empty closed");
            else
                kc_skip_op(r, "empty e");
            return;
        }
        key = r->events[e].data;
    }
    kc_ioctl_args a = { .target = h, .object = o, .code = IOCTL_KS_DISABLE_EVENT, .in_external = key,
                        .in_len = key != NULL ? sizeof *key : 0, .in_size = key != NULL ? sizeof *key : 0 };
    if (NT_SUCCESS(kc_ioctl(r, &a)) && key != NULL && key != &bogus)
        r->disabled_event = e;
}

static void kc_object_closed(kc_run *r, int o)
{
    r->objects[o].open = false;
    for (unsigned s = 0; s < KC_SLOTS; s++) {
        if (r->hslot[s] == o)
            r->hslot[s] = -1;
        if (r->frames.filled[s] && r->frame_owner[s] == o)
            r->frames.live[s] = false; /* the close reclaims outstanding frames */
    }
}

static void kc_op_close(kc_run *r, const kc_op *op)
{
    HANDLE h;
    int o;
    if (!kc_ref_handle(r, op->ref, &h, &o))
        return;
    NTSTATUS s = NtClose(h);
    kc_entry *x = kc_entry_new(r, r->op);
    if (x != NULL)
        kc_set_status(x, s);
    if (NT_SUCCESS(s)) {
        if (o >= 0)
            kc_object_closed(r, o);
        r->closed_handle = h;
        r->have_closed_handle = true;
    }
}

/* ---- The case ------------------------------------------------------------------------------------ */
/* Closes what the program left open (newest first), waits for the completions that causes, and frees
 * only what the kernel can no longer write: a request that never completes keeps its buffers. */
static void kc_rundown(kc_run *r)
{
    for (int i = r->object_count - 1; i >= 0; i--)
        if (r->objects[i].open) {
            CloseHandle(r->objects[i].handle);
            r->objects[i].open = false;
        }
    for (int i = 0; i < r->request_count; i++)
        if (!r->requests[i]->finished)
            WaitForSingleObject(r->requests[i]->done_event, 5000);
    kc_scan_completions(r, r->c->op_count);
    bool leaked = false;
    for (int i = 0; i < r->request_count; i++) {
        if (r->requests[i]->finished)
            kc_request_free(r->requests[i]);
        else
            leaked = true;
    }
    for (int i = 0; i < r->event_count; i++) {
        if (r->events[i].notify != NULL)
            CloseHandle(r->events[i].notify);
        if (!leaked)
            free(r->events[i].data);
    }
    if (leaked && !r->skip) {
        snprintf(r->why, r->why_size, "a request was still pending 5 s after its handle was closed");
        r->skip = true;
    }
}

bool kc_run_case(const kc_case *c, const kc_target *t, kc_writer *w, char *why, size_t why_size)
{
    kc_run *r = calloc(1, sizeof *r);
    kc_entry *entries = calloc(KC_MAX_ENTRIES, sizeof *entries);
    if (r == NULL || entries == NULL) {
        free(r);
        free(entries);
        snprintf(why, why_size, "out of memory");
        return false;
    }
    r->c = c;
    r->t = t;
    r->entries = entries;
    r->why = why;
    r->why_size = why_size;
    r->disabled_event = -1;
    for (unsigned s = 0; s < KC_SLOTS; s++)
        r->hslot[s] = r->eslot[s] = r->frame_owner[s] = -1;
    for (r->op = 0; r->op < c->op_count && !r->skip; r->op++) {
        const kc_op *op = &c->ops[r->op];
        size_t before = r->entry_count;
        if (r->spare_done == NULL)
            r->spare_done = CreateEventW(NULL, TRUE, FALSE, NULL);
        if (r->spare_notify == NULL)
            r->spare_notify = CreateEventW(NULL, TRUE, FALSE, NULL);
        switch (op->kind) {
        case KC_OPEN_FILTER: kc_op_open_filter(r, op); break;
        case KC_OPEN_PIN: kc_op_open_pin(r, op); break;
        case KC_CREATE_FRAMING: kc_op_create_framing(r, op); break;
        case KC_CREATE_RAW: kc_op_create_raw(r, op); break;
        case KC_IOCTL: kc_op_ioctl(r, op); break;
        case KC_PROP_STATUS:
        case KC_PROP_FUNCTIONTABLE: kc_op_prop(r, op); break;
        case KC_METHOD_ALLOC:
        case KC_METHOD_FREE: kc_op_method(r, op); break;
        case KC_EVENT_ENABLE: kc_op_event_enable(r, op); break;
        case KC_EVENT_DISABLE: kc_op_event_disable(r, op); break;
        case KC_CLOSE: kc_op_close(r, op); break;
        case KC_NO_STATUS: kc_skip_op(r, "no status"); break;
        }
        if (r->skip)
            break;
        kc_scan_signals(r, r->entry_count > before ? &r->entries[before] : NULL);
        kc_scan_completions(r, r->op);
    }
    kc_rundown(r);
    if (r->spare_done != NULL)
        CloseHandle(r->spare_done);
    if (r->spare_notify != NULL)
        CloseHandle(r->spare_notify);
    if (!r->skip && r->entry_count == 0) {
        snprintf(why, why_size, "no operation gave an observation the format can hold");
        r->skip = true;
    }
    bool ran = !r->skip;
    if (ran) {
        char id[256];
        snprintf(id, sizeof id, "%s%s", t->id_prefix != NULL ? t->id_prefix : "", c->id);
        kc_case_begin(w, id, c->program);
        for (size_t i = 0; i < r->entry_count; i++)
            kc_case_expect(w, &r->entries[i].e);
        char comment[160];
        snprintf(comment, sizeof comment, "%d-bit caller; pin %lu; %s", (int)(sizeof(void *) * 8),
                 (unsigned long)t->pin, t->format_how);
        kc_case_end(w, comment);
    }
    for (size_t i = 0; i < r->entry_count; i++)
        free(r->entries[i].out);
    free(entries);
    free(r);
    return ran;
}
