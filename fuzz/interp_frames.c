/* interp_frames.c: the direct-call path: KSSTREAMALLOCATOR_FUNCTIONTABLE AllocateFrame / FreeFrame
 * called at the op's IRQL (raised with KeRaiseIrql, contract: <= DISPATCH_LEVEL, decisions Q17). */
#include "interp_internal.h"

NTSTATUS ip_fetch_table(int o)
{
    KSSTREAMALLOCATOR_FUNCTIONTABLE table;
    ULONG_PTR info;
    NTSTATUS s = ip_get_property(ip.objects[o].handle, KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE, &table, sizeof table,
                                 &info);
    if (s == STATUS_SUCCESS && info == sizeof table) {
        ip.objects[o].table = table;
        ip.objects[o].have_table = true;
    } else if (NT_SUCCESS(s)) {
        s = STATUS_UNSUCCESSFUL;
    }
    return s;
}

/* The target must be an open handle with a function table; a table is never called on a closed or
 * foreign file object (the DDI makes that the caller's bug, not a finding). */
static bool ip_fn_target(op_ref ref, uint8_t irql_field, int *object, PFILE_OBJECT *file, KIRQL *irql)
{
    HANDLE h;
    if (!ip_ref_handle(ref, &h, object) || !ip_op_irql(irql_field, DISPATCH_LEVEL, irql))
        return false;
    if (*object == IP_NONE) {
        ip_skip("handle");
        return false;
    }
    if (!ip.objects[*object].have_table) {
        NTSTATUS s = ip_fetch_table(*object);
        if (s != STATUS_SUCCESS) {
            ip_line_status(s); /* the status of the untraced FUNCTIONTABLE request */
            return false;
        }
    }
    *file = km_handle_to_file(h);
    if (*file == NULL) {
        ip_skip("handle");
        return false;
    }
    return true;
}

void ip_op_fn_alloc(const op_args_fn_alloc *a)
{
    int o;
    PFILE_OBJECT file;
    KIRQL irql;
    if (!ip_fn_target(a->target, a->irql, &o, &file, &irql))
        return;
    ip_object *obj = &ip.objects[o];
    rm_expect e;
    rm_expect_unknown(&e);
    if (obj->kind == IP_ALLOCATOR)
        rm_expect_fn_alloc(&e, &obj->model, ip.allocate_fails);
    PVOID frame = IP_BOGUS_FRAME; /* AllocateFrame must overwrite it (NULL on failure, Q8) */
    ip_enter_irql(irql);
    NTSTATUS s = obj->table.AllocateFrame(file, &frame);
    ip_leave_irql(irql);
    ip_line_status(s);
    if (NT_SUCCESS(s)) {
        int f = ip_frame_handed_out(o, frame, "AllocateFrame");
        ip_slot_frame(a->out, f);
    }
    if (ip_model_on()) {
        char what[48];
        snprintf(what, sizeof what, "%s AllocateFrame", ip.label);
        rm_check_status(what, s, &e, ip_pool_refused());
        rm_check(NT_SUCCESS(s) || frame == NULL, "%s failed without setting *Frame = NULL (decisions Q8)", what);
    }
}

void ip_op_fn_free(const op_args_fn_free *a)
{
    int o;
    PFILE_OBJECT file;
    KIRQL irql;
    PVOID frame;
    if (!ip_ref_frame(a->frame, &frame) || !ip_fn_target(a->target, a->irql, &o, &file, &irql))
        return;
    int f = ip_frame_live(o, frame);
    /* Function-table callers are trusted kernel code: freeing a frame this allocator has not handed out
     * (NULL, bogus, already freed, another allocator's) is the caller's contract violation, which the
     * allocator answers with a bugcheck by design (decisions, "Frames that were not handed out"; unit
     * tests cover it). Running it would only rediscover that design, like an I/O call above PASSIVE. */
    if (f == IP_NONE) {
        ip_skip("frame");
        return;
    }
    ip_object *obj = &ip.objects[o];
    ip_enter_irql(irql);
    obj->table.FreeFrame(file, frame);
    ip_leave_irql(irql);
    ip_line_no_status();
    ip_frame_returned(f);
    if (obj->model.pending > 0) {
        ip.completion_target = o;
        ip.completion_status = STATUS_SUCCESS;
        ip.completions_expected_min = ip.completions_expected_max = 1;
        ip.completion_tolerant = obj->model.external && ip.allocate_fails;
    }
}
