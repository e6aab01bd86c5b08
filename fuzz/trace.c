/* trace.c: the observation trace (docs/operation-language.md, "The observation trace"): the growable
 * text buffer, the line builder, output bytes with pointer words as tokens, the FNV-1a hash and the
 * determinism comparator (TRACE_NONDETERMINISTIC). Nothing here ever formats an address. */
#include "interp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Buffers are reused from run to run, so whether one grows depends on earlier runs: no coverage
 * (the same reason as KM_NO_COVERAGE in harness/core_internal.h; AFL++ reads fuzz/afl_denylist.txt). */
#if defined(__clang__)
__attribute__((noinline, no_sanitize("coverage")))
#endif
void tr_append(op_trace *t, const char *text, size_t len)
{
    if (t == NULL)
        return;
    if (t->len + len + 1 > t->cap) {
        size_t cap = t->cap != 0 ? t->cap : 256;
        while (cap < t->len + len + 1)
            cap *= 2;
        char *bigger = realloc(t->text, cap);
        if (bigger == NULL) {
            fprintf(stderr, "interp: out of memory growing the trace\n");
            abort();
        }
        t->text = bigger;
        t->cap = cap;
    }
    memcpy(t->text + t->len, text, len);
    t->len += len;
    t->text[t->len] = '\0';
}

void tr_printf(op_trace *t, const char *fmt, ...)
{
    if (t == NULL)
        return;
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        tr_append(t, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL)
        abort();
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    tr_append(t, big, (size_t)n);
    free(big);
}

void op_trace_free(op_trace *trace)
{
    if (trace == NULL)
        return;
    free(trace->text);
    trace->text = NULL;
    trace->len = trace->cap = 0;
}

uint64_t tr_fnv1a(const char *text, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)text[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ---- Lines --------------------------------------------------------------------------------------- */
void ip_line_begin(const char *label, const char *name)
{
    ip.line.len = 0;
    if (ip.line.text != NULL)
        ip.line.text[0] = '\0';
    ip.in_line = true;
    if (ip.trace != NULL) /* no trace (op_run_untraced): nothing is formatted at all */
        tr_printf(&ip.line, "%s %s", label, name);
}

void ip_line_add(const char *fmt, ...)
{
    if (ip.trace == NULL)
        return;
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n > 0)
        tr_append(&ip.line, small, (size_t)n < sizeof small ? (size_t)n : sizeof small - 1);
}

/* After the op's own status: `frame=reused` when the op names a frame already returned whose address
 * an allocator has since handed out again. Whether an address is reused is the host allocator's
 * business, so the mark is what lets a differential comparison tell that apart (interp_diff.c, D5). */
static void ip_line_own_status_done(void)
{
    if (ip.frame_reused)
        ip_line_add(" frame=reused");
}

void ip_line_status(NTSTATUS status)
{
    bool own = !ip.line_has_status; /* the op's own status comes first; `done` lines come later */
    if (own) {
        ip.line_has_status = true;
        ip.line_status = status;
    }
    const char *name = km_status_name(status);
    if (name != NULL)
        ip_line_add(" %s", name);
    else
        ip_line_add(" 0x%08X", (unsigned)status);
    if (own)
        ip_line_own_status_done();
}

void ip_line_no_status(void)
{
    ip_line_add(" -");
    ip_line_own_status_done();
}

/* At the end of the op's first line: `pool=limit` when the model's pool limits (not the fault plan)
 * refused an allocation since the last line was committed. Where a limit falls depends on each
 * implementation's bookkeeping bytes, so the differential comparison licenses a divergence on a marked
 * line or after one (interp_diff.c, D6). */
void ip_line_commit(void)
{
    if (!ip.in_line)
        return;
    const char *text = ip.line.text != NULL ? ip.line.text : "";
    size_t first = strcspn(text, "\n");
    km_pool_stats stats;
    km_pool_get_stats(&stats);
    tr_append(ip.trace, text, first);
    if (stats.limited > ip.pool_limited_before) /* not `!=`: km_teardown (in the rundown) zeroes it */
        tr_append(ip.trace, " pool=limit", 11);
    ip.pool_limited_before = stats.limited;
    tr_append(ip.trace, text + first, ip.line.len - first);
    tr_append(ip.trace, "\n", 1);
    ip.line.len = 0;
    ip.in_line = false;
}

/* A pointer word: a frame in a slot prints as its slot, a function-table entry as [fn], anything
 * else non-NULL as [ptr]. */
static void ip_pointer_token(PVOID value, bool function)
{
    if (function) {
        ip_line_add("[fn]");
        return;
    }
    for (int pass = 0; pass < 2; pass++) /* a live frame first: a freed one's address may be reused */
        for (unsigned s = 0; s < OP_SLOT_COUNT; s++) {
            int f = ip.fslot[s];
            if (f != IP_NONE && ip.frames[f].addr == value && (pass == 1 || ip.frames[f].live)) {
                ip_line_add("[f%u]", s);
                return;
            }
        }
    ip_line_add("[ptr]");
}

void ip_line_out(const uint8_t *out, size_t n, ip_out_kind kind)
{
    if (ip.trace == NULL || n == 0 || out == NULL)
        return;
    ip_line_add(" out=");
    for (size_t i = 0; i < n;) {
        bool pointer_word = (kind == IP_OUT_FRAME0 && i == 0) || (kind == IP_OUT_TABLE && (i == 0 || i == 8));
        if (pointer_word && n - i >= sizeof(PVOID)) {
            PVOID value;
            memcpy(&value, out + i, sizeof value);
            if (value != NULL) {
                ip_pointer_token(value, kind == IP_OUT_TABLE);
                i += sizeof value;
                continue;
            }
        }
        ip_line_add("%02x", out[i]);
        i++;
    }
}

/* ---- Determinism --------------------------------------------------------------------------------- */
void op_trace_check_deterministic(const char *name, const op_trace *first, const op_trace *second)
{
    const char *a = first->text != NULL ? first->text : "";
    const char *b = second->text != NULL ? second->text : "";
    if (first->len == second->len && memcmp(a, b, first->len) == 0)
        return;
    size_t line = 1, i = 0;
    while (i < first->len && i < second->len && a[i] == b[i]) {
        if (a[i] == '\n')
            line++;
        i++;
    }
    km_verifier_fail(KM_V_TRACE_NONDETERMINISTIC, "%s: the traces differ first at line %zu", name, line);
}
