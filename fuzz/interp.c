/* interp.c: the interpreter's core: the run's life (fresh model, test filter, prologue, every
 * operation, rundown), slots and the objects/frames they name, the caller context rules (mode,
 * IRQL), fault-plan suspension for the interpreter's own queries, the per-op model checks and the
 * verifier hook that flushes the trace before an abort. Operation handlers live in interp_*.c. */
#include "interp_internal.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ks_test_filter.h"

ip_state ip;
static unsigned ip_handle_ordinals, ip_frame_ordinals;

void *ip_xalloc(size_t size)
{
    void *p = calloc(1, size != 0 ? size : 1);
    if (p == NULL) {
        fprintf(stderr, "interp: out of memory (%zu bytes)\n", size);
        abort();
    }
    return p;
}

uint8_t *ip_blob_copy(op_bytes blob)
{
    if (blob.len == 0)
        return NULL;
    uint8_t *p = malloc(blob.len); /* exact size: a reader past the end is an ASan finding */
    if (p == NULL)
        abort();
    memcpy(p, blob.data, blob.len);
    return p;
}

void ip_skip(const char *why) { ip_line_add(" SKIPPED %s", why); }

/* ---- Slots ------------------------------------------------------------------------------------- */
static bool ip_empty(char kind, op_ref ref)
{
    if (ref == OP_REF_CLOSED)
        ip_line_add(" SKIPPED empty closed");
    else
        ip_line_add(" SKIPPED empty %c%u", kind, op_slot_index(ref));
    return false;
}

int ip_object_by_handle(HANDLE handle)
{
    for (int i = ip.object_count - 1; i >= 0; i--)
        if (ip.objects[i].open && ip.objects[i].handle == handle)
            return i;
    return IP_NONE;
}

bool ip_ref_handle(op_ref ref, HANDLE *handle, int *object)
{
    switch (ref) {
    case OP_REF_NULL:
        *handle = NULL;
        break;
    case OP_REF_BOGUS:
        *handle = IP_BOGUS_HANDLE;
        break;
    case OP_REF_CLOSED:
        if (!ip.have_closed_handle)
            return ip_empty('h', ref);
        *handle = ip.closed_handle;
        break;
    default: {
        int o = ip.hslot[op_slot_index(ref)];
        if (o == IP_NONE)
            return ip_empty('h', ref);
        *handle = ip.objects[o].handle;
        break;
    }
    }
    *object = ip_object_by_handle(*handle);
    return true;
}

bool ip_ref_frame(op_ref ref, PVOID *frame)
{
    switch (ref) {
    case OP_REF_NULL:
        *frame = NULL;
        return true;
    case OP_REF_BOGUS:
        *frame = IP_BOGUS_FRAME;
        return true;
    case OP_REF_CLOSED:
        if (!ip.have_freed_frame)
            return ip_empty('f', ref);
        *frame = ip.freed_frame;
        ip.frame_reused = ip_frame_live(IP_NONE, *frame) != IP_NONE;
        return true;
    default: {
        int f = ip.fslot[op_slot_index(ref)];
        if (f == IP_NONE)
            return ip_empty('f', ref);
        *frame = ip.frames[f].addr;
        ip.frame_reused = !ip.frames[f].live && ip_frame_live(IP_NONE, *frame) != IP_NONE;
        return true;
    }
    }
}

bool ip_ref_event(op_ref ref, int *event)
{
    switch (ref) {
    case OP_REF_NULL:
    case OP_REF_BOGUS:
        *event = ref == OP_REF_NULL ? -2 : -3; /* see interp_events.c */
        return true;
    case OP_REF_CLOSED:
        if (ip.disabled_event == IP_NONE)
            return ip_empty('e', ref);
        *event = ip.disabled_event;
        return true;
    default:
        *event = ip.eslot[op_slot_index(ref)];
        return *event != IP_NONE || ip_empty('e', ref);
    }
}

int ip_object_add(HANDLE handle, ip_kind kind)
{
    if (ip.object_count == IP_MAX_OBJECTS) {
        fprintf(stderr, "interp: more than %d objects\n", IP_MAX_OBJECTS);
        abort();
    }
    int o = ip.object_count++;
    ip.objects[o] = (ip_object){ .handle = handle, .ordinal = ++ip_handle_ordinals, .kind = kind, .open = true };
    return o;
}

void ip_slot_handle(op_slot slot, int object)
{
    ip.hslot[op_slot_index(slot)] = object;
    ip_line_add(" h%u=#%u", op_slot_index(slot), ip.objects[object].ordinal);
}

int ip_frame_live(int owner, PVOID addr)
{
    for (int i = ip.frame_count - 1; i >= 0; i--)
        if (ip.frames[i].live && ip.frames[i].addr == addr && (owner == IP_NONE || ip.frames[i].owner == owner))
            return i;
    return IP_NONE;
}

int ip_frame_handed_out(int owner, PVOID addr, const char *how)
{
    if (ip_model_on())
        rm_check(addr != NULL, "%s %s: success without a frame", ip.label, how);
    if (ip_model_on())
        rm_check(ip_frame_live(IP_NONE, addr) == IP_NONE, "%s %s: a frame handed out while still outstanding",
                 ip.label, how);
    if (ip.frame_count == IP_MAX_OBJECTS) {
        fprintf(stderr, "interp: more than %d frames\n", IP_MAX_OBJECTS);
        abort();
    }
    int f = ip.frame_count++;
    ip_object *o = &ip.objects[owner];
    ULONG mask = o->kind == IP_ALLOCATOR ? o->model.framing.FileAlignment : 0;
    ip.frames[f] = (ip_frame){ .addr = addr, .ordinal = ++ip_frame_ordinals, .owner = owner, .live = true,
                               .misaligned = ((uintptr_t)addr & mask) != 0 };
    o->model.outstanding++;
    return f;
}

void ip_slot_frame_set(op_slot slot, int frame) { ip.fslot[op_slot_index(slot)] = frame; }

void ip_slot_frame(op_slot slot, int frame)
{
    ip_slot_frame_set(slot, frame);
    ip_slot_frame_trace(slot, frame);
}

void ip_slot_frame_trace(op_slot slot, int frame)
{
    ip_line_add(" f%u=#%u%s", op_slot_index(slot), ip.frames[frame].ordinal,
                ip.frames[frame].misaligned ? "(misaligned)" : "");
}

void ip_frame_returned(int frame)
{
    ip_frame *f = &ip.frames[frame];
    f->live = false;
    if (ip.objects[f->owner].model.outstanding > 0)
        ip.objects[f->owner].model.outstanding--;
    ip.freed_frame = f->addr;
    ip.have_freed_frame = true;
}

void ip_object_closed(int object)
{
    ip_object *o = &ip.objects[object];
    o->open = false;
    ip.closed_handle = o->handle;
    ip.have_closed_handle = true;
    for (unsigned s = 0; s < OP_SLOT_COUNT; s++)
        if (ip.hslot[s] == object) {
            ip.hslot[s] = IP_NONE;
            ip_line_add(" h%u=closed", s);
        }
    /* decisions Q15: the close reclaims every outstanding frame and disables every event. */
    for (int i = 0; i < ip.frame_count; i++)
        if (ip.frames[i].owner == object)
            ip.frames[i].live = false;
    o->model.outstanding = 0;
    for (int i = 0; i < ip.event_count; i++)
        if (ip.events[i].owner == object)
            ip.events[i].enabled = false;
}

/* ---- Caller context ----------------------------------------------------------------------------- */
bool ip_op_mode(uint8_t field, KPROCESSOR_MODE *mode)
{
    uint8_t v = field == 0xFF ? ip.mode : field;
    if (v != KernelMode && v != UserMode) {
        ip_skip("mode");
        return false;
    }
    *mode = (KPROCESSOR_MODE)v;
    return true;
}

/* The IRQL rule (docs/operation-language.md): an op's irql applies only up to what the DDI allows
 * (max); above it the op is `SKIPPED irql`, because calling a routine above its contract is a bug of
 * the harness's caller, not an allocator finding. */
bool ip_op_irql(uint8_t field, KIRQL max, KIRQL *irql)
{
    uint8_t v = field == 0xFF ? ip.irql : field;
    if (v > max) {
        ip_skip("irql");
        return false;
    }
    *irql = (KIRQL)v;
    return true;
}

void ip_enter_irql(KIRQL irql)
{
    KIRQL old;
    if (irql > PASSIVE_LEVEL)
        KeRaiseIrql(irql, &old);
}

void ip_leave_irql(KIRQL irql)
{
    KM_VERIFY(IRQL_NOT_RESTORED, KeGetCurrentIrql() == irql, "returned to the interpreter at IRQL %u, called at %u",
              KeGetCurrentIrql(), irql);
    if (irql > PASSIVE_LEVEL)
        KeLowerIrql(PASSIVE_LEVEL);
}

/* ---- Fault plans around the interpreter's own requests ---------------------------------------- */
void ip_fault_suspend(void)
{
    if (!ip.fault_armed)
        return;
    ip.fault_consumed += km_fault_attempts();
    ip.fault_injected += km_fault_injected();
    const char *site = km_fault_last_site();
    if (site != NULL)
        snprintf(ip.fault_last_site, sizeof ip.fault_last_site, "%s", site);
    km_fault_disarm();
}

void ip_fault_resume(void)
{
    if (!ip.fault_armed)
        return;
    km_fault_plan p = ip.fault;
    p.fail_nth = p.fail_nth > ip.fault_consumed ? p.fail_nth - ip.fault_consumed : 0;
    p.fail_nth_also = p.fail_nth_also > ip.fault_consumed ? p.fail_nth_also - ip.fault_consumed : 0;
    if (p.fail_nth == 0 && p.fail_nth_also == 0 && p.site == NULL && !ip.config->external_faults) {
        ip.fault_armed = false; /* the plan has fired everything it had (a sweep keeps counting) */
        return;
    }
    km_fault_arm(&p);
}

/* The interpreter's own GET of a KSPROPSETID_StreamAllocator property (kernel mode, untraced): the
 * program's fault plan is suspended, so it is not spent on it. `out` is zeroed first. */
NTSTATUS ip_get_property(HANDLE handle, ULONG id, void *out, ULONG size, ULONG_PTR *information)
{
    KSPROPERTY p;
    memset(&p, 0, sizeof p);
    p.Set = KSPROPSETID_StreamAllocator;
    p.Id = id;
    p.Flags = KSPROPERTY_TYPE_GET;
    memset(out, 0, size);
    IO_STATUS_BLOCK iosb = { { STATUS_PENDING }, 0 };
    ip_fault_suspend();
    NTSTATUS s = ZwDeviceIoControlFile(handle, NULL, NULL, NULL, &iosb, IOCTL_KS_PROPERTY, &p, sizeof p, out, size);
    ip_fault_resume();
    *information = iosb.Information;
    return s;
}

/* ---- The reference model's per-op checks ----------------------------------------------------------- */
bool ip_model_on(void) { return ip.config->reference_model; }

bool ip_pool_refused(void)
{
    km_pool_stats stats;
    km_pool_get_stats(&stats);
    return stats.failed != ip.pool_failed_before;
}

/* After every operation: each live allocator's STATUS (kernel mode, untraced, fault plan suspended)
 * must report the framing it was created with and as many AllocatedFrames as frames are outstanding. */
void ip_model_after_op(void)
{
    if (!ip_model_on())
        return;
    for (int i = 0; i < ip.object_count; i++) {
        ip_object *o = &ip.objects[i];
        if (!o->open || o->kind != IP_ALLOCATOR)
            continue;
        KSSTREAMALLOCATOR_STATUS st;
        ULONG_PTR info;
        NTSTATUS s = ip_get_property(o->handle, KSPROPERTY_STREAMALLOCATOR_STATUS, &st, sizeof st, &info);
        char what[48];
        snprintf(what, sizeof what, "after %s, allocator #%u", ip.label, o->ordinal);
        rm_check(s == STATUS_SUCCESS && info == sizeof st, "%s: the STATUS property failed (0x%08X, Information %llu)",
                 what, (unsigned)s, (unsigned long long)info);
        rm_check_framing(what, &st.Framing, &o->model.framing);
        rm_check_allocated_frames(what, st.AllocatedFrames, o->model.outstanding);
    }
    for (int i = 0; i < ip.frame_count; i++)
        if (ip.frames[i].live && ip.objects[ip.frames[i].owner].kind == IP_ALLOCATOR)
            rm_check_frame_alignment(ip.label, ip.frames[i].ordinal, ip.frames[i].addr,
                                     ip.objects[ip.frames[i].owner].model.framing.FileAlignment);
}

/* ---- The verifier hook ------------------------------------------------------------------------------ */
static void ip_hook(km_check_id id, const char *detail, void *context)
{
    (void)detail;
    (void)context;
    if (ip.trace == NULL)
        return;
    fwrite(ip.trace->text != NULL ? ip.trace->text : "", 1, ip.trace->len, stdout);
    if (ip.in_line && ip.line.len > 0)
        fwrite(ip.line.text, 1, ip.line.len, stdout);
    else
        fputs("end", stdout);
    printf(" finding=%s\n", km_verifier_id_name(id));
    fflush(stdout);
}

/* ---- Operations --------------------------------------------------------------------------------------- */
static bool ip_allowed(op_code code)
{
    const uint64_t *a = ip.config->allowed;
    if ((a[0] | a[1] | a[2] | a[3]) == 0)
        return true;
    return (unsigned)code < 256 && (a[code / 64] >> (code % 64) & 1) != 0;
}

static void ip_dispatch(const op_op *op)
{
    switch (op->code) {
    case OP_OPEN_FILTER: ip_op_open_filter(&op->u.open_filter); break;
    case OP_OPEN_PIN: ip_op_open_pin(&op->u.open_pin); break;
    case OP_CREATE_FRAMING: ip_op_create_framing(&op->u.create_framing); break;
    case OP_CREATE_RAW: ip_op_create_raw(&op->u.create_raw); break;
    case OP_CREATE_DEFAULT_EX: ip_op_create_default_ex(&op->u.create_default_ex); break;
    case OP_FRAMING_EX: ip_op_framing_ex(&op->u.framing_ex); break;
    case OP_IOCTL: ip_op_ioctl(&op->u.ioctl); break;
    case OP_PROP_STATUS:
        ip_op_prop(op->code, op->u.prop_status.target, op->u.prop_status.out_size, op->u.prop_status.mode,
                   op->u.prop_status.irql);
        break;
    case OP_PROP_FUNCTIONTABLE:
        ip_op_prop(op->code, op->u.prop_functiontable.target, op->u.prop_functiontable.out_size,
                   op->u.prop_functiontable.mode, op->u.prop_functiontable.irql);
        break;
    case OP_METHOD_ALLOC: ip_op_method_alloc(&op->u.method_alloc); break;
    case OP_METHOD_FREE: ip_op_method_free(&op->u.method_free); break;
    case OP_FN_ALLOC: ip_op_fn_alloc(&op->u.fn_alloc); break;
    case OP_FN_FREE: ip_op_fn_free(&op->u.fn_free); break;
    case OP_EVENT_ENABLE: ip_op_event_enable(&op->u.event_enable); break;
    case OP_EVENT_DISABLE: ip_op_event_disable(&op->u.event_disable); break;
    case OP_CLOSE: ip_op_close(&op->u.close); break;
    case OP_SET_IRQL: ip_op_set_irql(&op->u.set_irql); break;
    case OP_SET_MODE: ip_op_set_mode(&op->u.set_mode); break;
    case OP_FAULT: ip_op_fault(&op->u.fault); break;
    case OP_VALIDATE_IRP: ip_op_validate_irp(&op->u.validate_irp); break;
    case OP_NULL_ARGS: ip_op_null_args(&op->u.null_args); break;
    default: ip_line_add(" -"); break; /* raw: bytes the decoder skipped, never run */
    }
}

/* ---- Fault sweeps (op_run_config.external_faults) ------------------------------------------------ */
static void ip_sweep_arm(void)
{
    if (!ip.config->external_faults)
        return;
    ip.fault = (km_fault_plan){ .fail_nth = ip.config->fault_nth, .fail_nth_also = ip.config->fault_nth_also };
    ip.fault_armed = true; /* armed even with nothing to fail, so the model queries stay uncounted */
    km_fault_arm(&ip.fault);
}

/* Called at the end of each line: the first line during which the plan refused an allocation is
 * recorded with the op's own status (its trace line says the same). */
static void ip_sweep_note(int code)
{
    op_fault_outcome *o = ip.config->outcome;
    if (o == NULL || o->refused || !ip.fault_armed)
        return;
    if (ip.fault_injected + km_fault_injected() == 0)
        return;
    o->refused = true;
    snprintf(o->where, sizeof o->where, "%s", ip.label);
    o->code = code;
    o->has_status = ip.line_has_status;
    o->status = ip.line_status;
    const char *site = km_fault_last_site();
    snprintf(o->site, sizeof o->site, "%s", site != NULL ? site : ip.fault_last_site);
}

static void ip_op_begin(const char *label, const char *name)
{
    ip.line_has_status = false;
    ip.frame_reused = false;
    snprintf(ip.label, sizeof ip.label, "%s", label);
    ip_line_begin(label, name);
    km_pool_stats stats;
    km_pool_get_stats(&stats);
    ip.pool_failed_before = stats.failed;
    ip.pool_limited_before = stats.limited;
    ip.completion_target = IP_NONE;
    ip.completions_expected_min = ip.completions_expected_max = 0;
    ip.completions_seen = 0;
}

static void ip_op_end(void)
{
    ip_sweep_note(ip.op_code);
    km_run_work_items(); /* deferred completions happen at a deterministic point: after each op */
    ip_events_scan();
    ip_scan_completions();
    ip_model_after_op();
    ip_line_commit();
}

static void ip_prologue(void)
{
    op_args_open_filter f = { .device = 0, .out = 0 };
    ip.op_code = OP_OPEN_FILTER;
    ip_op_begin("pre0", "open_filter");
    ip_op_open_filter(&f);
    ip_op_end();
    op_args_open_pin p = { .filter = 0, .pin_id = 0, .out = 1 };
    ip.op_code = OP_OPEN_PIN;
    ip_op_begin("pre1", "open_pin");
    ip_op_open_pin(&p);
    ip_op_end();
}

static uint64_t ip_last_hash; /* of the last traced run's trace */

void ip_handle_ordinals_set(unsigned n) { ip_handle_ordinals = n; }

static void ip_close_objects_from(int first)
{
    for (int i = ip.object_count - 1; i >= first; i--)
        if (ip.objects[i].open) {
            ip.objects[i].open = false;
            (void)ZwClose(ip.objects[i].handle);
        }
    km_run_work_items();
    ip_scan_completions();
}

/* Rundown: closes what the program left open, newest first (their pending IRPs complete as
 * cancelled and are traced), then km_teardown's end-of-run checks. A warm run closes the program's
 * objects first and stops there when the model is back to what the prologue left (interp_warm.c). */
static void ip_rundown(void)
{
    ip.line.len = 0;
    ip.in_line = true;
    ip.in_rundown = true;
    snprintf(ip.label, sizeof ip.label, "end");
    bool kept = false;
    if (ip_warm_in_use()) {
        ip_close_objects_from(ip_warm_objects());
        kept = ip_warm_quiescent();
    }
    if (!kept)
        ip_close_objects_from(0);
    ip_line_add("%send", ip.line.len != 0 ? "\n" : "");
    op_fault_outcome *o = ip.config->outcome;
    for (size_t i = 0; o != NULL && i < km_pool_site_count() && i < OP_FAULT_MAX_SITES; i++) {
        snprintf(o->sites[i], sizeof o->sites[i], "%s", km_pool_site_name(i)); /* teardown forgets them */
        o->nsites = (unsigned)i + 1;
    }
    if (!kept)
        km_teardown();
    ip.line_has_status = false;
    ip_sweep_note(-1);
    ip_line_add(" STATUS_SUCCESS");
    ip_line_commit();
}

/* The model, the test filter and (with config->prologue) the filter and pin, freshly made or, in a warm
 * run, kept from the previous run. False when the driver did not load (the run has no operations). */
static bool ip_setup(void)
{
    km_verifier_set_hook(ip_hook, NULL);
    if (!ip_warm_wanted(ip.config))
        ip_warm_discard(); /* a cold run after warm ones: their model goes first */
    else if (ip_warm_resume())
        return true;
    km_init();
    if (ip.config->outcome != NULL)
        *ip.config->outcome = (op_fault_outcome){ .code = -1 };
    ip_sweep_arm();
    tr_printf(ip.trace, "trace 1\n");
    snprintf(ip.label, sizeof ip.label, "init");
    ip_line_begin("init", "-");
    PDRIVER_OBJECT driver;
    NTSTATUS s = km_driver_load(L"\\Driver\\KsTestFilter", kstf_driver_entry, &driver);
    if (!NT_SUCCESS(s)) {
        ip_line_status(s);
        ip_sweep_note(-1);
        ip_line_commit();
        return false;
    }
    ip_sweep_note(-1); /* a refusal the driver load survived */
    ip.in_line = false;
    if (ip.config->prologue)
        ip_prologue();
    if (ip_warm_wanted(ip.config))
        ip_warm_keep(ip_handle_ordinals);
    return true;
}

void op_run(const op_program *prog, const op_run_config *config, op_trace *trace)
{
    static const op_run_config defaults;
    static op_trace scratch; /* a warm run's first (cold) run keeps the prologue's trace text */
    op_trace line = ip.line; /* the line buffer is reused across runs */
    memset(&ip, 0, offsetof(ip_state, objects)); /* the tables stay: their counts are now zero */
    ip.line = line;
    ip.line.len = 0;
    ip.config = config != NULL ? config : &defaults;
    if (trace == NULL && ip_warm_wanted(ip.config) && !ip_warm_ready())
        trace = &scratch;
    ip.trace = trace;
    ip_handle_ordinals = ip_frame_ordinals = 0;
    for (unsigned s = 0; s < OP_SLOT_COUNT; s++)
        ip.hslot[s] = ip.fslot[s] = ip.eslot[s] = IP_NONE;
    ip.disabled_event = IP_NONE;
    ip.irql = PASSIVE_LEVEL;
    ip.mode = KernelMode;
    if (trace != NULL) {
        trace->len = 0;
        if (trace->text != NULL)
            trace->text[0] = '\0';
    }

    static const kstf_allocator_config none;
    kstf_configure_allocator(&none); /* the driver's configuration is static: nothing may survive */
    ip_impl_begin(config);
    if (ip_setup()) {
        for (size_t i = 0; prog != NULL && i < prog->count; i++) {
            const op_op *op = &prog->ops[i];
            char label[16];
            snprintf(label, sizeof label, "%04zu", i);
            ip.op_index = i;
            ip.op_code = op->code;
            ip_op_begin(label, op_name(op->code));
            if (op->code != OP_RAW && !ip_allowed(op->code))
                ip_skip("op");
            else
                ip_dispatch(op);
            ip_op_end();
        }
    }
    ip_rundown();
    if (ip.config->outcome != NULL && ip.config->external_faults)
        ip.config->outcome->attempts = ip.fault_consumed + km_fault_attempts();
    km_verifier_set_hook(NULL, NULL);
    if (trace != NULL && trace != &scratch)
        ip_last_hash = tr_fnv1a(trace->text != NULL ? trace->text : "", trace->len);
    ip_requests_free();
    ip_events_free();
    km_fault_disarm();
    /* A warm run that could not keep its model builds the next one now, as part of this input, so
     * that every input starts warm and takes the same edges however the previous one ended (AFL++
     * calibration would otherwise call an input that follows a cold rebuild unstable). */
    static bool rebuilding;
    if (ip_warm_wanted(ip.config) && !ip_warm_ready() && !rebuilding) {
        rebuilding = true;
        op_run(NULL, config, NULL); /* an empty run: cold setup, the prologue, kept at the end */
        rebuilding = false;
    }
}

uint64_t op_run_bytes(const uint8_t *data, size_t size, const op_run_config *config, op_trace *trace)
{
    static op_program prog;
    static op_trace scratch; /* the hash needs the text even when the caller keeps none */
    op_decode(data, size, &prog);
    op_trace *t = trace != NULL ? trace : &scratch;
    op_run(&prog, config, t);
    return ip_last_hash;
}

uint64_t op_last_trace_hash(void) { return ip_last_hash; }

/* Fuzz targets skip the trace for speed, except where it is wanted: MSan builds (formatting the output
 * bytes is what finds uninitialised ones) and replay-engine builds (KM_FUZZ_TRACE_TARGETS), whose
 * standalone main prints each input's trace hash for the isolation checks (A, B, A). */
#if defined(__has_feature)
#if __has_feature(memory_sanitizer)
#define IP_TRACE_ALWAYS 1
#endif
#endif
#ifdef KM_FUZZ_TRACE_TARGETS
#define IP_TRACE_ALWAYS 1
#endif

void op_run_untraced(const uint8_t *data, size_t size, const op_run_config *config)
{
#ifdef IP_TRACE_ALWAYS
    op_run_bytes(data, size, config, NULL);
#else
    static op_program prog;
    op_decode(data, size, &prog);
    op_run(&prog, config, NULL);
#endif
}
