/* interp_io.c: requests to objects: the general ioctl, the property and method shorthands and
 * KsValidateAllocatorFramingEx. Requests go through Zw/NtDeviceIoControlFile with exact-size caller
 * buffers; a pending request keeps its IO_STATUS_BLOCK and buffers until the run ends, and its
 * completion is traced as a `done` line after the operation during which it happened. */
#include "interp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IP_BUF_IN_NULL 0x1u
#define IP_BUF_OUT_NULL 0x2u
#define IP_BUF_IN_UNALIGNED 0x4u
#define IP_BUF_OUT_UNALIGNED 0x8u

void ip_request_release(ip_request *r)
{
    if (r == NULL || r->listed)
        return; /* pending: owned by ip.requests until the run ends */
    free(r->in_alloc);
    free(r->out_alloc);
    free(r->iosb);
    free(r);
}

static void ip_request_free_now(ip_request *r)
{
    free(r->in_alloc);
    free(r->out_alloc);
    free(r->iosb);
    free(r);
}

void ip_requests_free(void)
{
    for (int i = 0; i < ip.request_count; i++)
        ip_request_free_now(ip.requests[i]);
    ip.request_count = 0;
}

/* The result of a request: a frame coming back (ALLOC) or going back (FREE). */
static void ip_request_result(ip_request *r, NTSTATUS status, ULONG_PTR info, bool trace_frame)
{
    if (!NT_SUCCESS(status) || r->target == IP_NONE)
        return;
    if (r->alloc_shaped && r->out != NULL && info >= sizeof(PVOID) && r->out_size >= sizeof(PVOID)) {
        PVOID frame;
        memcpy(&frame, r->out, sizeof frame);
        int f = ip_frame_handed_out(r->target, frame, "ALLOC");
        if (r->has_out_slot)
            ip_slot_frame_set(r->out_slot, f);
        (void)trace_frame;
    }
    if (r->free_shaped && status == STATUS_SUCCESS) {
        int f = ip_frame_live(r->target, r->free_frame);
        if (ip_model_on())
            rm_check(f != IP_NONE, "%s FREE succeeded for a frame this allocator has not handed out", ip.label);
        if (f != IP_NONE) {
            ip_frame_returned(f);
            ip_object *o = &ip.objects[r->target];
            if (o->model.pending > 0) { /* a pending ALLOC can now be served */
                ip.completion_target = r->target;
                ip.completion_status = STATUS_SUCCESS;
                ip.completions_expected_min = 1;
                ip.completions_expected_max = 1;
                ip.completion_tolerant = o->model.external && ip.allocate_fails;
            }
        }
    }
}

/* Status, info, out bytes and the frame slot of a finished request. */
static void ip_request_trace(ip_request *r, NTSTATUS status, ULONG_PTR info)
{
    ip_line_status(status);
    ip_line_add(" info=%llu", (unsigned long long)info);
    size_t n = info < r->out_size ? (size_t)info : r->out_size;
    if (status != STATUS_PENDING)
        ip_line_out(r->out, n, r->out_kind);
    if (r->alloc_shaped && r->has_out_slot && NT_SUCCESS(status) && r->target != IP_NONE && r->out != NULL &&
        info >= sizeof(PVOID) && r->out_size >= sizeof(PVOID)) {
        int f = ip.fslot[op_slot_index(r->out_slot)];
        if (f != IP_NONE)
            ip_slot_frame_trace(r->out_slot, f);
    }
}

ip_request *ip_ioctl(const ip_ioctl_args *a, NTSTATUS *status, ULONG_PTR *information)
{
    size_t in_bytes = a->in_len > a->in_size ? a->in_len : a->in_size;
    if (in_bytes > IP_MAX_BUFFER || a->out_size > IP_MAX_BUFFER) {
        ip_skip("size");
        return NULL;
    }
    ip_request *r = ip_xalloc(sizeof *r);
    r->op_index = ip.op_index;
    r->code = ip.op_code;
    r->target = a->target_object;
    r->iosb = ip_xalloc(sizeof *r->iosb);
    r->iosb->Status = STATUS_PENDING; /* the I/O manager writes the final status at completion */
    r->out_size = a->out_size;
    r->out_kind = a->out_kind;
    r->alloc_shaped = a->alloc_shaped;
    r->free_shaped = a->free_shaped;
    r->has_out_slot = a->has_out_slot;
    r->out_slot = a->out_slot;

    uint8_t *in = NULL;
    if (a->in_external != NULL) {
        in = (uint8_t *)a->in_external;
    } else if ((a->buffers & IP_BUF_IN_NULL) == 0 && in_bytes != 0) {
        size_t skew = (a->buffers & IP_BUF_IN_UNALIGNED) != 0;
        r->in_alloc = ip_xalloc(in_bytes + skew); /* zero padded; ends exactly at the buffer's end */
        in = r->in_alloc + skew;
        if (a->in != NULL)
            memcpy(in, a->in, a->in_len);
    }
    if (a->out_external != NULL) {
        r->out = a->out_external;
    } else if ((a->buffers & IP_BUF_OUT_NULL) == 0 && a->out_size != 0) {
        size_t skew = (a->buffers & IP_BUF_OUT_UNALIGNED) != 0;
        r->out_alloc = ip_xalloc(a->out_size + skew);
        r->out = r->out_alloc + skew;
        if (a->data != NULL)
            memcpy(r->out, a->data, a->data_len < a->out_size ? a->data_len : a->out_size);
        if (a->has_frame)
            memcpy(r->out, &a->frame, a->out_size < sizeof a->frame ? a->out_size : sizeof a->frame);
    }
    if (r->free_shaped && r->out != NULL && r->out_size >= sizeof(PVOID))
        memcpy(&r->free_frame, r->out, sizeof r->free_frame);

    NTSTATUS s;
    if (a->mode == KernelMode) {
        s = ZwDeviceIoControlFile(a->target, NULL, NULL, NULL, r->iosb, a->code, in, a->in_size, r->out, a->out_size);
    } else {
        km_set_previous_mode(UserMode);
        s = NtDeviceIoControlFile(a->target, NULL, NULL, NULL, r->iosb, a->code, in, a->in_size, r->out, a->out_size);
        km_set_previous_mode(KernelMode);
    }
    *status = s;
    if (s == STATUS_PENDING) {
        *information = 0;
        ip_request_trace(r, s, 0);
        if (r->alloc_shaped && r->target != IP_NONE)
            ip.objects[r->target].model.pending++;
        if (ip.request_count == IP_MAX_OBJECTS) {
            fprintf(stderr, "interp: more than %d pending requests\n", IP_MAX_OBJECTS);
            abort();
        }
        r->listed = true;
        ip.requests[ip.request_count++] = r;
        return r;
    }
    ULONG_PTR info = r->iosb->Status != STATUS_PENDING ? r->iosb->Information : 0;
    *information = info;
    r->done = true;
    ip_request_result(r, s, info, true);
    ip_request_trace(r, s, info);
    return r;
}

void ip_scan_completions(void)
{
    for (int i = 0; i < ip.request_count; i++) {
        ip_request *r = ip.requests[i];
        if (r->done || r->iosb->Status == STATUS_PENDING)
            continue;
        r->done = true;
        NTSTATUS s = r->iosb->Status;
        ULONG_PTR info = r->iosb->Information;
        bool ours = r->alloc_shaped && r->target != IP_NONE;
        if (ours && ip.objects[r->target].model.pending > 0)
            ip.objects[r->target].model.pending--;
        /* done lines follow the line of the operation during which the request completed */
        ip_line_add("%sdone %04zu %s", ip.line.len != 0 ? "\n" : "", r->op_index,
                    op_name(r->code));
        if (ours && ip.objects[r->target].open)
            ip_request_result(r, s, info, true);
        ip_request_trace(r, s, info);
        if (ours && ip_model_on() && !ip.in_rundown) {
            ip.completions_seen++;
            rm_check(r->target == ip.completion_target && s == ip.completion_status,
                     "%s: ALLOC %04zu completed with 0x%08X, the model expects no completion there", ip.label,
                     r->op_index, (unsigned)s);
        }
    }
    if (ip_model_on() && !ip.in_rundown) {
        bool tolerant = ip.completion_tolerant || ip_pool_refused();
        int min = tolerant ? 0 : ip.completions_expected_min;
        rm_check(ip.completions_seen >= min && ip.completions_seen <= ip.completions_expected_max,
                 "%s: %d pending ALLOCs completed, the model expects %d to %d", ip.label, ip.completions_seen, min,
                 ip.completions_expected_max);
    }
}

/* ---- Operations ---------------------------------------------------------------------------------- */
static bool ip_io_context(op_ref target, uint8_t mode_field, uint8_t irql_field, HANDLE *h, int *o,
                          KPROCESSOR_MODE *mode)
{
    KIRQL irql;
    return ip_ref_handle(target, h, o) && ip_op_mode(mode_field, mode) && ip_op_irql(irql_field, PASSIVE_LEVEL, &irql);
}

static bool ip_is_allocator(int o) { return o != IP_NONE && ip.objects[o].kind == IP_ALLOCATOR; }

static void ip_check(const char *what, NTSTATUS s, const rm_expect *e)
{
    if (!ip_model_on())
        return;
    char label[64];
    snprintf(label, sizeof label, "%s %s", ip.label, what);
    rm_check_status(label, s, e, ip_pool_refused());
}

/* The model's prediction for a request to something that is not an open object. */
static bool ip_expect_target(rm_expect *e, int o)
{
    if (o == IP_NONE) {
        rm_expect_one(e, STATUS_INVALID_HANDLE);
        return false;
    }
    rm_expect_unknown(e);
    return ip_is_allocator(o);
}

static KSIDENTIFIER ip_identifier(const GUID *set, ULONG id, ULONG flags)
{
    KSIDENTIFIER k;
    memset(&k, 0, sizeof k);
    k.Set = *set;
    k.Id = id;
    k.Flags = flags;
    return k;
}

void ip_op_prop(op_code code, op_ref target, uint32_t out_size, uint8_t mode_field, uint8_t irql_field)
{
    HANDLE h;
    int o;
    KPROCESSOR_MODE mode;
    if (!ip_io_context(target, mode_field, irql_field, &h, &o, &mode))
        return;
    bool table = code == OP_PROP_FUNCTIONTABLE;
    ULONG id = table ? KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE : KSPROPERTY_STREAMALLOCATOR_STATUS;
    KSIDENTIFIER k = ip_identifier(&KSPROPSETID_StreamAllocator, id, KSPROPERTY_TYPE_GET);
    rm_expect e;
    if (ip_expect_target(&e, o))
        rm_expect_property(&e, &ip.objects[o].model, id, mode, out_size);
    ip_ioctl_args a = { .target_object = o, .target = h, .code = IOCTL_KS_PROPERTY, .in = (const uint8_t *)&k,
                        .in_len = sizeof k, .in_size = sizeof k, .out_size = out_size, .mode = mode,
                        .out_kind = table ? IP_OUT_TABLE : IP_OUT_PLAIN };
    NTSTATUS s;
    ULONG_PTR info;
    ip_request *r = ip_ioctl(&a, &s, &info);
    if (r == NULL)
        return;
    if (table && s == STATUS_SUCCESS && info == sizeof(KSSTREAMALLOCATOR_FUNCTIONTABLE) && o != IP_NONE &&
        r->out != NULL) {
        memcpy(&ip.objects[o].table, r->out, sizeof ip.objects[o].table);
        ip.objects[o].have_table = true;
    }
    ip_request_release(r);
    ip_check(table ? "FUNCTIONTABLE" : "STATUS", s, &e);
}

/* A METHOD request whose output the interpreter has already traced (ip_ioctl): send it, then check the
 * status against the reference model's expectation. */
static void ip_method_checked(const ip_ioctl_args *a, const char *what, const rm_expect *e)
{
    NTSTATUS s;
    ULONG_PTR info;
    ip_request *r = ip_ioctl(a, &s, &info);
    if (r == NULL)
        return;
    ip_request_release(r);
    ip_check(what, s, e);
}

void ip_op_method_alloc(const op_args_method_alloc *m)
{
    HANDLE h;
    int o;
    KPROCESSOR_MODE mode;
    if (!ip_io_context(m->target, m->mode, m->irql, &h, &o, &mode))
        return;
    KSIDENTIFIER k = ip_identifier(&KSMETHODSETID_StreamAllocator, KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_TYPE_SEND);
    rm_expect e;
    if (ip_expect_target(&e, o))
        rm_expect_alloc(&e, &ip.objects[o].model, mode, m->out_size, ip.allocate_fails);
    ip_ioctl_args a = { .target_object = o, .target = h, .code = IOCTL_KS_METHOD, .in = (const uint8_t *)&k,
                        .in_len = sizeof k, .in_size = sizeof k, .out_size = m->out_size, .mode = mode,
                        .out_kind = IP_OUT_FRAME0, .alloc_shaped = true, .has_out_slot = true, .out_slot = m->out };
    ip_method_checked(&a, "ALLOC", &e);
}

void ip_op_method_free(const op_args_method_free *m)
{
    HANDLE h;
    int o;
    KPROCESSOR_MODE mode;
    PVOID frame;
    if (!ip_ref_handle(m->target, &h, &o) || !ip_ref_frame(m->frame, &frame))
        return;
    KIRQL irql;
    if (!ip_op_mode(m->mode, &mode) || !ip_op_irql(m->irql, PASSIVE_LEVEL, &irql))
        return;
    KSIDENTIFIER k = ip_identifier(&KSMETHODSETID_StreamAllocator, KSMETHOD_STREAMALLOCATOR_FREE, KSMETHOD_TYPE_SEND);
    rm_expect e;
    if (ip_expect_target(&e, o))
        rm_expect_free(&e, &ip.objects[o].model, mode, m->out_size, ip_frame_live(o, frame) != IP_NONE);
    ip_ioctl_args a = { .target_object = o, .target = h, .code = IOCTL_KS_METHOD, .in = (const uint8_t *)&k,
                        .in_len = sizeof k, .in_size = sizeof k, .out_size = m->out_size, .frame = frame,
                        .has_frame = true, .mode = mode, .out_kind = IP_OUT_FRAME0, .free_shaped = true };
    ip_method_checked(&a, "FREE", &e);
}

void ip_op_ioctl(const op_args_ioctl *x)
{
    HANDLE h;
    int o;
    KPROCESSOR_MODE mode;
    PVOID frame = NULL;
    if (!ip_ref_handle(x->target, &h, &o))
        return;
    if (x->frame != OP_REF_NULL && !ip_ref_frame(x->frame, &frame))
        return;
    KIRQL irql;
    if (!ip_op_mode(x->mode, &mode) || !ip_op_irql(x->irql, PASSIVE_LEVEL, &irql))
        return;
    size_t in_len = sizeof(KSIDENTIFIER) + x->extra.len;
    uint8_t *in = ip_xalloc(in_len);
    KSIDENTIFIER k = ip_identifier(&x->set, x->id, x->flags);
    memcpy(in, &k, sizeof k);
    if (x->extra.len != 0)
        memcpy(in + sizeof k, x->extra.data, x->extra.len);
    uint8_t *data = ip_blob_copy(x->data);
    ULONG kind = x->flags & ~(ULONG)KSMETHOD_TYPE_TOPOLOGY;
    bool method = x->code == IOCTL_KS_METHOD && IsEqualGUID(&x->set, &KSMETHODSETID_StreamAllocator);
    bool alloc = method && x->id == KSMETHOD_STREAMALLOCATOR_ALLOC && (kind == KSMETHOD_TYPE_SEND || kind == KSMETHOD_TYPE_WRITE);
    bool free_ = method && x->id == KSMETHOD_STREAMALLOCATOR_FREE && kind == KSMETHOD_TYPE_SEND;
    /* Only a GET of FUNCTIONTABLE returns the two pointers; a support query of the same id returns flags. */
    bool table = x->code == IOCTL_KS_PROPERTY && IsEqualGUID(&x->set, &KSPROPSETID_StreamAllocator) &&
                 x->id == KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE &&
                 (x->flags & ~(ULONG)KSPROPERTY_TYPE_TOPOLOGY) == KSPROPERTY_TYPE_GET;
    ip_ioctl_args a = { .target_object = ip_is_allocator(o) ? o : IP_NONE, .target = h, .code = x->code, .in = in,
                        .in_len = in_len, .in_size = x->in_size, .data = data, .data_len = x->data.len,
                        .out_size = x->out_size, .frame = frame, .has_frame = x->frame != OP_REF_NULL,
                        .buffers = x->buffers, .mode = mode,
                        .out_kind = table ? IP_OUT_TABLE : (alloc || free_ || x->frame != OP_REF_NULL) ? IP_OUT_FRAME0
                                                                                                      : IP_OUT_PLAIN,
                        .alloc_shaped = alloc, .free_shaped = free_, .has_out_slot = alloc, .out_slot = x->out };
    NTSTATUS s;
    ULONG_PTR info;
    ip_request *r = ip_ioctl(&a, &s, &info);
    ip_request_release(r);
    free(in);
    free(data);
    if (r != NULL && ip_model_on() && o == IP_NONE)
        rm_check(s == STATUS_INVALID_HANDLE, "%s ioctl on a handle that is not open returned 0x%08X", ip.label,
                 (unsigned)s);
}

/* The pin framing is driver data the DDI trusts (decisions Q13), so the interpreter hands over a
 * consistent one: CountItems from the blob, clamped to 16, and exactly 24 + 88 * CountItems bytes,
 * filled from the blob and zero padded. Exact size: a read past the last item is an ASan finding. */
static uint8_t *ip_pin_framing_copy(op_bytes blob)
{
    if (blob.len == 0)
        return NULL;
    ULONG count = 0;
    memcpy(&count, blob.data, blob.len < sizeof count ? blob.len : sizeof count);
    if (count > 16)
        count = 16;
    size_t size = FIELD_OFFSET(KSALLOCATOR_FRAMING_EX, FramingItem) + (size_t)count * sizeof(KS_FRAMING_ITEM);
    uint8_t *p = calloc(1, size);
    if (p == NULL)
        abort();
    memcpy(p, blob.data, blob.len < size ? blob.len : size);
    memcpy(p, &count, sizeof count);
    return p;
}

/* KsValidateAllocatorFramingEx: the DDI says nothing of its IRQL ("reserved for system use") and it
 * only reads its arguments, so the op's irql applies up to DISPATCH_LEVEL. BufferSize is the
 * caller's statement about its own buffer, so the framing buffer is exactly buffer_size bytes
 * (the blob truncated or zero padded); an empty blob passes NULL. */
void ip_op_framing_ex(const op_args_framing_ex *x)
{
    KIRQL irql;
    if (!ip_op_irql(x->irql, DISPATCH_LEVEL, &irql))
        return;
    if (x->buffer_size > IP_MAX_BUFFER) {
        ip_skip("size");
        return;
    }
    uint8_t *framing = NULL;
    if (x->framing.len != 0) {
        framing = malloc(x->buffer_size != 0 ? x->buffer_size : 1);
        if (framing == NULL)
            abort();
        size_t n = x->framing.len < x->buffer_size ? x->framing.len : x->buffer_size;
        memcpy(framing, x->framing.data, n);
        memset(framing + n, 0, x->buffer_size - n);
    }
    uint8_t *pin = ip_pin_framing_copy(x->pin_framing);
    ip_enter_irql(irql);
    NTSTATUS s = KsValidateAllocatorFramingEx((PKSALLOCATOR_FRAMING_EX)(void *)framing, x->buffer_size,
                                              (const KSALLOCATOR_FRAMING_EX *)(void *)pin);
    ip_leave_irql(irql);
    free(framing);
    free(pin);
    ip_line_status(s);
}
