/* refmodel.c: the reference model (see refmodel.h). Every rule cites the decisions row it states;
 * where the decisions leave an order open (two rules failing at once) the model accepts either
 * status rather than guessing the implementation's order. */
#include "refmodel.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void rm_expect_unknown(rm_expect *e) { memset(e, 0, sizeof *e); }

void rm_expect_add(rm_expect *e, NTSTATUS status)
{
    e->known = true;
    if (rm_expect_allows(e, status) && e->count > 0)
        return;
    if (e->count < RM_MAX_ALTERNATIVES)
        e->status[e->count++] = status;
}

void rm_expect_one(rm_expect *e, NTSTATUS status)
{
    rm_expect_unknown(e);
    rm_expect_add(e, status);
}

bool rm_expect_allows(const rm_expect *e, NTSTATUS status)
{
    if (!e->known)
        return true;
    for (int i = 0; i < e->count; i++)
        if (e->status[i] == status)
            return true;
    return false;
}

/* Q6: "of the form 2^n-1 and <= PAGE_SIZE-1 (0xFFF)". */
bool rm_alignment_valid(ULONG mask) { return mask <= 0xFFFu && (mask & (mask + 1u)) == 0; }

/* Q1/Q6 (Q17: PagedPool allocators exist but get no function table). */
bool rm_pool_paged(ULONG pool) { return pool == 1u /* PagedPool */; }

NTSTATUS rm_framing_status(const KSALLOCATOR_FRAMING *f)
{
    /* Q1: "OptionsFlags must lie in 0x8000001F (every documented OPTIONF/REQUIREMENTF bit)". */
    if ((f->OptionsFlags & ~0x8000001Fu) != 0)
        return STATUS_INVALID_PARAMETER;
    /* Q1: "PoolType must be NonPagedPool (0), PagedPool (1) or NonPagedPoolNx (512)". */
    if (f->PoolType != 0 && f->PoolType != 1 && f->PoolType != 512)
        return STATUS_INVALID_PARAMETER;
    /* Q1: "FrameSize 0 rejected. Frames 0 = no limit." */
    if (f->FrameSize == 0)
        return STATUS_INVALID_PARAMETER;
    /* Q1: "FrameSize above 0x7FFFFFFF (MAXLONG) rejected". */
    if (f->FrameSize > 0x7FFFFFFFu)
        return STATUS_INVALID_PARAMETER;
    if (!rm_alignment_valid(f->FileAlignment))
        return STATUS_INVALID_PARAMETER;
    /* Q1: "Reserved must be 0". */
    if (f->Reserved != 0)
        return STATUS_INVALID_PARAMETER;
    return STATUS_SUCCESS;
}

void rm_expect_create(rm_expect *e, const KSALLOCATOR_FRAMING *framing, unsigned callbacks, unsigned fail)
{
    rm_expect_unknown(e);
    bool bad_callbacks = false;
    /* Callback rules: "External allocator supplied" means DefaultAllocate != NULL; without it the
     * other four must be NULL; DefaultAllocate without DefaultFree is refused. */
    if ((callbacks & RM_CB_ALLOCATE) == 0 && (callbacks & (RM_CB_CONTEXT | RM_CB_FREE | RM_CB_INITIALIZE | RM_CB_DELETE)))
        bad_callbacks = true;
    if ((callbacks & RM_CB_ALLOCATE) != 0 && (callbacks & RM_CB_FREE) == 0)
        bad_callbacks = true;
    NTSTATUS framing_status = rm_framing_status(framing);
    bool init_fails = !bad_callbacks && (callbacks & RM_CB_INITIALIZE) != 0 && (fail & RM_CB_INITIALIZE) != 0;
    if (bad_callbacks)
        rm_expect_add(e, STATUS_INVALID_PARAMETER);
    if (framing_status != STATUS_SUCCESS)
        rm_expect_add(e, framing_status);
    /* "InitializeAllocator present: a failure status is returned unchanged" (the test filter's
     * failing InitializeAllocator returns STATUS_INSUFFICIENT_RESOURCES). Whether the framing is
     * validated before the callback runs is not decided: both orders are accepted. */
    if (init_fails)
        rm_expect_add(e, STATUS_INSUFFICIENT_RESOURCES);
    if (e->count == 0)
        rm_expect_add(e, STATUS_SUCCESS);
}

/* Q14: zero-length output is a size query (STATUS_BUFFER_OVERFLOW), shorter than MinData is
 * STATUS_BUFFER_TOO_SMALL. For methods the decisions say only "the same rules apply": a zero-length
 * method output may be answered either way. Returns true when the gate refuses. */
static bool rm_size_gate(rm_expect *e, ULONG out_size, ULONG min_data, bool method)
{
    if (out_size == 0) {
        rm_expect_add(e, STATUS_BUFFER_OVERFLOW);
        if (method)
            rm_expect_add(e, STATUS_BUFFER_TOO_SMALL);
        return true;
    }
    if (out_size < min_data) {
        rm_expect_add(e, STATUS_BUFFER_TOO_SMALL);
        return true;
    }
    return false;
}

void rm_expect_property(rm_expect *e, const rm_allocator *a, ULONG id, KPROCESSOR_MODE mode, ULONG out_size)
{
    rm_expect_unknown(e);
    if (id == 1) { /* STATUS: not restricted to kernel callers (facts §5.6) */
        if (!rm_size_gate(e, out_size, sizeof(KSSTREAMALLOCATOR_STATUS), false))
            rm_expect_add(e, STATUS_SUCCESS);
        return;
    }
    if (id == 0) { /* FUNCTIONTABLE: kernel only (Q8/§5.6), not for paged pools (Q17) */
        if (rm_size_gate(e, out_size, sizeof(KSSTREAMALLOCATOR_FUNCTIONTABLE), false))
            return;
        if (mode != KernelMode)
            rm_expect_add(e, STATUS_INVALID_DEVICE_REQUEST);
        if (rm_pool_paged(a->framing.PoolType))
            rm_expect_add(e, STATUS_NOT_SUPPORTED);
        if (e->count == 0)
            rm_expect_add(e, STATUS_SUCCESS);
        return;
    }
    rm_expect_add(e, STATUS_NOT_FOUND); /* Q14: unknown id */
}

void rm_expect_alloc(rm_expect *e, const rm_allocator *a, KPROCESSOR_MODE mode, ULONG out_size, bool allocate_fails)
{
    rm_expect_unknown(e);
    if (rm_size_gate(e, out_size, sizeof(PVOID), true))
        return;
    if (mode != KernelMode) { /* Q8: user ALLOC refused */
        rm_expect_add(e, STATUS_INVALID_DEVICE_REQUEST);
        return;
    }
    /* Q6/Q8: Frames is the maximum outstanding; an ALLOC at the limit pends, and so does one while
     * others wait (decisions: a freed frame is theirs, oldest first). */
    if ((a->framing.Frames != 0 && a->outstanding >= a->framing.Frames) || a->pending != 0) {
        rm_expect_add(e, STATUS_PENDING);
        e->pends = true;
        return;
    }
    /* Callback rules: DefaultAllocate returning NULL -> STATUS_INSUFFICIENT_RESOURCES. */
    rm_expect_add(e, a->external && allocate_fails ? STATUS_INSUFFICIENT_RESOURCES : STATUS_SUCCESS);
}

void rm_expect_free(rm_expect *e, const rm_allocator *a, KPROCESSOR_MODE mode, ULONG out_size, bool frame_is_ours)
{
    (void)a;
    rm_expect_unknown(e);
    if (rm_size_gate(e, out_size, sizeof(PVOID), true))
        return;
    if (mode != KernelMode) {
        rm_expect_add(e, STATUS_INVALID_DEVICE_REQUEST);
        return;
    }
    /* "IOCTL FREE of a pointer this allocator has not handed out (or already freed)". */
    rm_expect_add(e, frame_is_ours ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER);
}

void rm_expect_fn_alloc(rm_expect *e, const rm_allocator *a, bool allocate_fails)
{
    rm_expect_unknown(e);
    /* No frame at the limit, nor while ALLOCs wait: a freed frame is theirs (decisions, "A frame is
     * freed while ALLOC requests wait"). */
    bool no_frame = (a->framing.Frames != 0 && a->outstanding >= a->framing.Frames) || a->pending != 0;
    rm_expect_add(e, no_frame || (a->external && allocate_fails) ? STATUS_INSUFFICIENT_RESOURCES : STATUS_SUCCESS);
}

/* ---- Checks -------------------------------------------------------------------------------------- */
static const char *rm_status_text(NTSTATUS s, char buf[16])
{
    const char *name = km_status_name(s);
    if (name != NULL)
        return name;
    snprintf(buf, 16, "0x%08X", (unsigned)s);
    return buf;
}

static void rm_expect_text(const rm_expect *e, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < e->count && len < cap; i++) {
        char b[16];
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? " or " : "", rm_status_text(e->status[i], b));
    }
}

void rm_check_status(const char *what, NTSTATUS got, const rm_expect *e, bool resource_failure_ok)
{
    if (rm_expect_allows(e, got) || (resource_failure_ok && got == STATUS_INSUFFICIENT_RESOURCES))
        return;
    char want[160], b[16];
    rm_expect_text(e, want, sizeof want);
    km_verifier_fail(KM_V_MODEL_DISAGREEMENT, "%s returned %s, the model expects %s", what, rm_status_text(got, b),
                     want);
}

void rm_check_win32(const char *what, ULONG got, const rm_expect *e, bool resource_failure_ok)
{
    if (!e->known)
        return;
    for (int i = 0; i < e->count; i++)
        if (RtlNtStatusToDosError(e->status[i]) == got)
            return;
    if (resource_failure_ok && got == RtlNtStatusToDosError(STATUS_INSUFFICIENT_RESOURCES))
        return;
    char want[160];
    rm_expect_text(e, want, sizeof want);
    km_verifier_fail(KM_V_MODEL_DISAGREEMENT, "%s returned Win32 error %u, the model expects the code of %s", what,
                     (unsigned)got, want);
}

void rm_check_frame_alignment(const char *what, unsigned ordinal, PVOID frame, ULONG mask)
{
    ULONG offset = (ULONG)((uintptr_t)frame & mask);
    KM_VERIFY(FRAME_MISALIGNED, offset == 0, "%s: frame #%u is %u bytes past a multiple of FileAlignment+1 (mask 0x%X)",
              what, ordinal, (unsigned)offset, (unsigned)mask);
}

void rm_check_allocated_frames(const char *what, ULONG reported, ULONG expected)
{
    KM_VERIFY(ALLOCATED_FRAMES_MISMATCH, reported == expected, "%s: AllocatedFrames %u, frames outstanding %u", what,
              (unsigned)reported, (unsigned)expected);
}

void rm_check_framing(const char *what, const KSALLOCATOR_FRAMING *r, const KSALLOCATOR_FRAMING *x)
{
    KM_VERIFY(MODEL_DISAGREEMENT, memcmp(r, x, sizeof *r) == 0,
              "%s: STATUS framing {0x%X, %u, %u, %u, 0x%X, 0x%X}, created with {0x%X, %u, %u, %u, 0x%X, 0x%X}", what,
              (unsigned)r->OptionsFlags, (unsigned)r->PoolType, (unsigned)r->Frames, (unsigned)r->FrameSize,
              (unsigned)r->FileAlignment, (unsigned)r->Reserved, (unsigned)x->OptionsFlags, (unsigned)x->PoolType,
              (unsigned)x->Frames, (unsigned)x->FrameSize, (unsigned)x->FileAlignment, (unsigned)x->Reserved);
}

void rm_check(bool cond, const char *fmt, ...)
{
    if (cond || !km_verifier_enabled(KM_V_MODEL_DISAGREEMENT))
        return;
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    km_verifier_fail(KM_V_MODEL_DISAGREEMENT, "%s", detail);
}
