/* interp_create.c: operations that create or close handles: open_filter, open_pin, create_framing
 * (KsCreateAllocator, kernel or ksuser form), create_raw (a relative create with the exact
 * UNICODE_STRING), create_default_ex (the test filter configured for KsCreateDefaultAllocatorEx)
 * and close. Creates and closes are PASSIVE_LEVEL DDIs (decisions Q17). */
#include "interp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ks_test_filter.h"

NTSTATUS ip_open_relative(HANDLE root, const UNICODE_STRING *name, KPROCESSOR_MODE mode, HANDLE *handle,
                          IO_STATUS_BLOCK *iosb)
{
    OBJECT_ATTRIBUTES oa;
    InitializeObjectAttributes(&oa, (PUNICODE_STRING)name,
                               OBJ_CASE_INSENSITIVE | (mode == KernelMode ? OBJ_KERNEL_HANDLE : 0), root, NULL);
    iosb->Status = STATUS_PENDING;
    iosb->Information = 0;
    if (mode == KernelMode)
        return ZwCreateFile(handle, GENERIC_READ, &oa, iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0, FILE_OPEN, 0, NULL, 0);
    km_set_previous_mode(UserMode);
    NTSTATUS s = NtCreateFile(handle, GENERIC_READ, &oa, iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0, FILE_OPEN, 0, NULL, 0);
    km_set_previous_mode(KernelMode);
    return s;
}

static ip_kind ip_child_kind(int parent)
{
    if (parent == IP_NONE)
        return IP_FILTER; /* absolute opens reach the device's only create item, the filter */
    switch (ip.objects[parent].kind) {
    case IP_FILTER: return IP_PIN;
    case IP_PIN: return IP_ALLOCATOR;
    default: return IP_OTHER;
    }
}

/* Traces status, info and the new handle's slot; returns the new object or IP_NONE. */
static int ip_created(NTSTATUS s, const IO_STATUS_BLOCK *iosb, HANDLE h, ip_kind kind, op_slot out)
{
    ip_line_status(s);
    ip_line_add(" info=%llu", (unsigned long long)(iosb->Status != STATUS_PENDING ? iosb->Information : 0));
    if (!NT_SUCCESS(s) || s == STATUS_PENDING)
        return IP_NONE;
    int o = ip_object_add(h, kind);
    ip_slot_handle(out, o);
    return o;
}

static void ip_open_named(const WCHAR *text, size_t bytes, HANDLE root, int parent, op_slot out)
{
    WCHAR *buffer = ip_xalloc(bytes);
    memcpy(buffer, text, bytes);
    UNICODE_STRING name = { (USHORT)bytes, (USHORT)bytes, buffer };
    IO_STATUS_BLOCK iosb;
    HANDLE h = NULL;
    NTSTATUS s = ip_open_relative(root, &name, KernelMode, &h, &iosb);
    free(buffer);
    ip_created(s, &iosb, h, ip_child_kind(parent), out);
}

/* device 0 is the test filter's device; device N names "\Device\KsTestFilterN", which does not exist. */
void ip_op_open_filter(const op_args_open_filter *a)
{
    WCHAR name[128];
    size_t n = 0;
    static const WCHAR device[] = KSTF_DEVICE_NAME;
    static const WCHAR filter[] = L"\\" KSSTRING_Filter;
    memcpy(name, device, sizeof device - sizeof(WCHAR));
    n = RTL_NUMBER_OF(device) - 1;
    if (a->device != 0) {
        char digits[4];
        int len = snprintf(digits, sizeof digits, "%u", a->device);
        for (int i = 0; i < len; i++)
            name[n++] = (WCHAR)digits[i];
    }
    memcpy(name + n, filter, sizeof filter - sizeof(WCHAR));
    n += RTL_NUMBER_OF(filter) - 1;
    ip_open_named(name, n * sizeof(WCHAR), NULL, IP_NONE, a->out);
}

/* pin_id 0 opens KSSTRING_Pin; any other id is passed as 4 parameter bytes after a '\'. */
void ip_op_open_pin(const op_args_open_pin *a)
{
    HANDLE parent;
    int o;
    if (!ip_ref_handle(a->filter, &parent, &o))
        return;
    static const WCHAR pin[] = KSSTRING_Pin;
    WCHAR name[RTL_NUMBER_OF(pin) + 3];
    size_t n = RTL_NUMBER_OF(pin) - 1;
    memcpy(name, pin, n * sizeof(WCHAR));
    if (a->pin_id != 0) {
        name[n++] = L'\\';
        memcpy(name + n, &a->pin_id, sizeof a->pin_id);
        n += 2;
    }
    ip_open_named(name, n * sizeof(WCHAR), parent, o, a->out);
}

static KSALLOCATOR_FRAMING ip_framing(uint32_t options, uint32_t pool, uint32_t frames, uint32_t frame_size,
                                      uint32_t alignment, uint32_t reserved)
{
    KSALLOCATOR_FRAMING f;
    memset(&f, 0, sizeof f);
    f.OptionsFlags = options;
    f.PoolType = (POOL_TYPE)pool;
    f.Frames = frames;
    f.FrameSize = frame_size;
    f.FileAlignment = alignment;
    f.Reserved = reserved;
    return f;
}

/* KsCreateAllocator in the op's mode; the test filter must already be configured. */
static void ip_create_allocator(op_ref parent_ref, const KSALLOCATOR_FRAMING *framing, unsigned callbacks,
                                unsigned fail, uint8_t mode_field, uint8_t irql_field, op_slot out)
{
    HANDLE parent;
    int p;
    KPROCESSOR_MODE mode;
    KIRQL irql;
    if (!ip_ref_handle(parent_ref, &parent, &p) || !ip_op_mode(mode_field, &mode) ||
        !ip_op_irql(irql_field, PASSIVE_LEVEL, &irql))
        return;
    rm_expect e;
    rm_expect_unknown(&e);
    if (parent_ref != OP_REF_NULL && p == IP_NONE)
        rm_expect_one(&e, STATUS_INVALID_HANDLE);
    else if (p != IP_NONE && ip.objects[p].kind == IP_PIN)
        rm_expect_create(&e, framing, callbacks, fail);
    KSALLOCATOR_FRAMING copy = *framing; /* the DDI takes a non-const pointer */
    HANDLE h = NULL;
    NTSTATUS s;
    bool ok;
    char what[48] = "";
    if (ip_model_on()) /* only the model's messages use it, and the fuzz targets' hot path has no model */
        snprintf(what, sizeof what, "%s KsCreateAllocator", ip.label);
    if (mode == KernelMode) {
        s = KsCreateAllocator(parent, &copy, &h);
        ok = NT_SUCCESS(s);
        ip_line_status(s);
        if (ip_model_on()) {
            rm_check_status(what, s, &e, ip_pool_refused());
            rm_check(ok || h == NULL, "%s failed but returned a handle", what);
        }
    } else {
        km_set_previous_mode(UserMode);
        DWORD err = KsUserCreateAllocator(parent, &copy, &h);
        km_set_previous_mode(KernelMode);
        ok = err == ERROR_SUCCESS;
        ip_line_add(" win32:%u", (unsigned)err);
        if (ip_model_on()) {
            rm_check_win32(what, err, &e, ip_pool_refused());
            rm_check(ok || h == INVALID_HANDLE_VALUE, "%s (ksuser) failed without INVALID_HANDLE_VALUE", what);
        }
    }
    if (!ok)
        return;
    int o = ip_object_add(h, IP_ALLOCATOR);
    ip.objects[o].model.framing = *framing;
    ip.objects[o].model.external = (callbacks & RM_CB_ALLOCATE) != 0;
    ip_slot_handle(out, o);
}

void ip_op_create_framing(const op_args_create_framing *a)
{
    static const kstf_allocator_config plain = { .plain = TRUE };
    kstf_configure_allocator(&plain); /* KsCreateDefaultAllocator: the form without callbacks */
    ip.allocate_fails = false;
    ip.filter_callbacks = 0;
    KSALLOCATOR_FRAMING f = ip_framing(a->options, a->pool, a->frames, a->frame_size, a->alignment, a->reserved);
    ip_create_allocator(a->parent, &f, 0, 0, a->mode, a->irql, a->out);
}

/* The test filter's callbacks are configured globally (kstf_configure_allocator), so a later create
 * changes how earlier external allocators' DefaultAllocate behaves; the model follows that. */
void ip_op_create_default_ex(const op_args_create_default_ex *a)
{
    kstf_allocator_config c;
    memset(&c, 0, sizeof c);
    c.pass_initialize_context = (a->callbacks & RM_CB_CONTEXT) != 0;
    c.pass_default_allocate = (a->callbacks & RM_CB_ALLOCATE) != 0;
    c.pass_default_free = (a->callbacks & RM_CB_FREE) != 0;
    c.pass_initialize_allocator = (a->callbacks & RM_CB_INITIALIZE) != 0;
    c.pass_delete_allocator = (a->callbacks & RM_CB_DELETE) != 0;
    c.initialize_status = (a->fail & RM_CB_INITIALIZE) != 0 ? STATUS_INSUFFICIENT_RESOURCES : STATUS_SUCCESS;
    c.allocate_fails = (a->fail & RM_CB_ALLOCATE) != 0;
    kstf_configure_allocator(&c);
    /* The filter-specific allocator ignores the callback set (a recorded deliberate difference). */
    bool used = !ip_filter_specific();
    ip.allocate_fails = used && c.allocate_fails;
    ip.filter_callbacks = used ? a->callbacks : 0; /* even when the create below is skipped */
    KSALLOCATOR_FRAMING f = ip_framing(a->options, a->pool, a->frames, a->frame_size, a->alignment, a->reserved);
    ip_create_allocator(a->parent, &f, used ? a->callbacks : 0, used ? a->fail : 0, a->mode, a->irql, a->out);
}

uint8_t *ip_name_buffer(op_bytes name, uint16_t max_length, size_t *size)
{
    *size = name.len > max_length ? name.len : max_length;
    uint8_t *buffer = *size != 0 ? ip_xalloc(*size) : NULL; /* zeroed */
    if (name.len != 0)
        memcpy(buffer, name.data, name.len);
    return buffer;
}

/* decisions Q2/Q18, stated independently of the allocator's parser. */
bool ip_raw_framing(const uint8_t *name, size_t length, KSALLOCATOR_FRAMING *framing)
{
    static const WCHAR cls[] = KSSTRING_Allocator;
    size_t cls_bytes = sizeof cls - sizeof(WCHAR), pos = 0;
    if (length % 2 != 0)
        return false;
    if (length >= 2 && name[0] == '\\' && name[1] == 0)
        pos = 2;
    if (length < pos + cls_bytes + 2 + sizeof *framing || length - pos - cls_bytes - 2 != sizeof *framing)
        return false;
    for (size_t i = 0; i < cls_bytes; i += 2) {
        WCHAR c, want = cls[i / 2];
        memcpy(&c, name + pos + i, sizeof c);
        if (c >= L'a' && c <= L'z')
            c = (WCHAR)(c - L'a' + L'A');
        if (c != want)
            return false;
    }
    if (name[pos + cls_bytes] != '\\' || name[pos + cls_bytes + 1] != 0)
        return false;
    memcpy(framing, name + pos + cls_bytes + 2, sizeof *framing);
    return true;
}

void ip_op_create_raw(const op_args_create_raw *a)
{
    HANDLE parent;
    int p;
    KPROCESSOR_MODE mode;
    KIRQL irql;
    if (!ip_ref_handle(a->parent, &parent, &p) || !ip_op_mode(a->mode, &mode) ||
        !ip_op_irql(a->irql, PASSIVE_LEVEL, &irql))
        return;
    size_t size;
    uint8_t *buffer = ip_name_buffer(a->name, a->max_length, &size);
    UNICODE_STRING name = { a->length, a->max_length, (PWSTR)(void *)buffer };
    IO_STATUS_BLOCK iosb;
    HANDLE h = NULL;
    NTSTATUS s = ip_open_relative(parent, &name, mode, &h, &iosb);
    KSALLOCATOR_FRAMING framing;
    bool parsed = a->length <= size && ip_raw_framing(buffer, a->length, &framing);
    free(buffer);
    ip_kind kind = ip_child_kind(a->parent == OP_REF_NULL ? IP_NONE : p);
    int o = ip_created(s, &iosb, h, kind, a->out);
    if (ip_model_on()) {
        rm_check(a->length <= a->max_length || s == STATUS_OBJECT_NAME_INVALID,
                 "%s create_raw with Length > MaximumLength returned 0x%08X", ip.label, (unsigned)s);
        if (p != IP_NONE && ip.objects[p].kind == IP_PIN && a->parent != OP_REF_NULL)
            rm_check(!NT_SUCCESS(s) || (parsed && rm_framing_status(&framing) == STATUS_SUCCESS),
                     "%s an allocator was created from a name the decisions (Q1, Q2, Q6) refuse", ip.label);
    }
    if (o != IP_NONE && kind == IP_ALLOCATOR && parsed) {
        ip.objects[o].model.framing = framing;
        /* The filter serves a raw name with whatever callbacks the last create configured. */
        ip.objects[o].model.external = (ip.filter_callbacks & RM_CB_ALLOCATE) != 0;
    } else if (o != IP_NONE && kind == IP_ALLOCATOR)
        ip.objects[o].kind = IP_OTHER; /* not an allocator the model can follow */
}

void ip_op_close(const op_args_close *a)
{
    HANDLE h;
    int o;
    KPROCESSOR_MODE mode;
    if (!ip_ref_handle(a->handle, &h, &o) || !ip_op_mode(a->mode, &mode))
        return;
    uint32_t pending = o != IP_NONE ? ip.objects[o].model.pending : 0;
    NTSTATUS s;
    if (mode == KernelMode) {
        s = ZwClose(h);
    } else {
        km_set_previous_mode(UserMode);
        s = NtClose(h);
        km_set_previous_mode(KernelMode);
    }
    ip_line_status(s);
    /* A stale value (`closed`, `bogus`) may name a handle the table has since handed out again: one of
     * the interpreter's event handles. Closing it succeeds, as it would on Windows. */
    bool own_event = NT_SUCCESS(s) && o == IP_NONE && ip_event_handle_closed_by_program(h);
    if (NT_SUCCESS(s) && o != IP_NONE) {
        ip_object_closed(o);
        /* decisions Q15: every pending ALLOC completes with STATUS_CANCELLED. */
        ip.completion_target = o;
        ip.completion_status = STATUS_CANCELLED;
        ip.completions_expected_min = ip.completions_expected_max = (int)pending;
    } else if (NT_SUCCESS(s)) {
        ip.closed_handle = h;
        ip.have_closed_handle = true;
    }
    if (ip_model_on()) {
        rm_expect e;
        rm_expect_one(&e, o != IP_NONE || own_event ? STATUS_SUCCESS : STATUS_INVALID_HANDLE);
        char what[32];
        snprintf(what, sizeof what, "%s close", ip.label);
        rm_check_status(what, s, &e, false);
    }
}
