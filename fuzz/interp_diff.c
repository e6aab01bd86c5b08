/* interp_diff.c: the first divergence between two traces of one program (interp_diff.h). Lines are
 * compared in order; inside the first differing line, fields in order (the status first, then
 * key=value tokens). The deliberate-difference rules: an operation at or before the divergence that
 * the two implementations are documented to treat differently licenses everything after it. */
#include "interp_diff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* The licensing operation of each recorded difference (docs/filter-specific-allocator.md). */
static const char *od_licence(const op_op *op)
{
    if (op->code == OP_CREATE_DEFAULT_EX && op->u.create_default_ex.callbacks != 0)
        return "D1"; /* the filter-specific allocator ignores KsCreateDefaultAllocatorEx's callbacks */
    if (op->code == OP_FAULT && (op->u.fault.nth != 0 || op->u.fault.also != 0 || op->u.fault.site.len != 0))
        return "D2"; /* different pool allocations: a fault plan hits different calls */
    return NULL;
}

/* The marks interp's trace gives a line whose op met something no allocator decides, and the
 * difference each licenses from that line on: D5, an op naming a returned frame whose address is now
 * another frame's (the host reused it); D6, an allocation the model's pool limits refused (where a
 * limit falls depends on each implementation's bookkeeping bytes). The mark alone is no divergence. */
static const struct {
    const char *mark, *known;
} od_marks[] = { { " frame=reused", "D5" }, { " pool=limit", "D6" } };

/* line without its marks (in place); the licence of the first one it had, else NULL. */
static const char *od_strip_marks(char *line)
{
    const char *known = NULL;
    for (size_t i = 0; i < sizeof od_marks / sizeof od_marks[0]; i++) {
        char *mark = strstr(line, od_marks[i].mark);
        if (mark == NULL)
            continue;
        size_t n = strlen(od_marks[i].mark);
        memmove(mark, mark + n, strlen(mark + n) + 1);
        known = known != NULL ? known : od_marks[i].known;
    }
    return known;
}

/* Line n (0-based) of text, without its newline, into buf; false past the end. */
static bool od_line(const char *text, size_t n, char *buf, size_t cap)
{
    const char *p = text;
    for (size_t i = 0; i < n && p != NULL; i++) {
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    if (p == NULL || *p == '\0')
        return false;
    size_t len = strcspn(p, "\n");
    if (len >= cap)
        len = cap - 1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return true;
}

/* The i-th space-separated token of line (0-based) into buf ("" past the end). */
static void od_token(const char *line, size_t i, char *buf, size_t cap)
{
    const char *p = line;
    for (size_t k = 0; k < i && p != NULL; k++) {
        p = strchr(p, ' ');
        if (p != NULL)
            p++;
    }
    size_t len = p != NULL ? strcspn(p, " ") : 0;
    if (len >= cap)
        len = cap - 1;
    if (len != 0)
        memcpy(buf, p, len);
    buf[len] = '\0';
}

/* The operation a trace line belongs to and where its fields start. */
static long od_line_op(const char *line, const op_program *prog, size_t *first_field, char *name, size_t cap)
{
    char label[16];
    od_token(line, 0, label, sizeof label);
    *first_field = 2;
    if (strcmp(label, "end") == 0) {
        snprintf(name, cap, "end");
        *first_field = 1;
        return (long)prog->count;
    }
    long index = -1;
    if (strcmp(label, "done") == 0) {
        od_token(line, 1, label, sizeof label);
        od_token(line, 2, name, cap);
        *first_field = 3;
        return strtol(label, NULL, 10);
    }
    od_token(line, 1, name, cap);
    if (label[0] >= '0' && label[0] <= '9')
        index = strtol(label, NULL, 10);
    return index;
}

static void od_key_value(const char *token, char *key, size_t key_cap, const char **value)
{
    const char *eq = strchr(token, '=');
    if (eq == NULL) {
        snprintf(key, key_cap, "status");
        *value = token;
        return;
    }
    snprintf(key, key_cap, "%.*s", (int)(eq - token), token);
    *value = eq + 1;
}

void op_trace_diverge(const op_program *prog, const char *trace_a, const char *trace_b, op_divergence *out)
{
    static char la[4096], lb[4096];
    memset(out, 0, sizeof *out);
    const char *marked = NULL; /* the licence of the first mark a line so far carried on either side */
    for (size_t n = 0;; n++) {
        bool ha = od_line(trace_a, n, la, sizeof la), hb = od_line(trace_b, n, lb, sizeof lb);
        if (!ha && !hb)
            return;
        const char *marked_a = ha ? od_strip_marks(la) : NULL, *marked_b = hb ? od_strip_marks(lb) : NULL;
        marked = marked != NULL ? marked : marked_a != NULL ? marked_a : marked_b;
        if (ha && hb && strcmp(la, lb) == 0)
            continue;
        out->found = true;
        size_t fa = 0, fb = 0;
        char name_b[24];
        long ia = ha ? od_line_op(la, prog, &fa, out->op, sizeof out->op) : (long)prog->count;
        long ib = hb ? od_line_op(lb, prog, &fb, name_b, sizeof name_b) : (long)prog->count;
        if (!ha)
            snprintf(out->op, sizeof out->op, "%s", name_b);
        out->op_index = ia <= ib ? ia : ib;
        if (!ha || !hb || ia != ib || fa != fb || strcmp(out->op, name_b) != 0) {
            snprintf(out->field, sizeof out->field, "line");
            snprintf(out->a, sizeof out->a, "%s", ha ? la : "(trace ended)");
            snprintf(out->b, sizeof out->b, "%s", hb ? lb : "(trace ended)");
        } else {
            for (size_t t = fa;; t++) {
                char ta[96], tb[96], ka[24], kb[24];
                const char *va, *vb;
                od_token(la, t, ta, sizeof ta);
                od_token(lb, t, tb, sizeof tb);
                if (strcmp(ta, tb) == 0) {
                    if (ta[0] == '\0')
                        break; /* differ only beyond 95 bytes of a token: report the line */
                    continue;
                }
                od_key_value(ta[0] ? ta : tb, ka, sizeof ka, &va);
                od_key_value(tb[0] ? tb : ta, kb, sizeof kb, &vb);
                snprintf(out->field, sizeof out->field, "%s", ka);
                snprintf(out->a, sizeof out->a, "%s", ta[0] && strcmp(ka, kb) == 0 ? va : ta[0] ? ta : "(absent)");
                snprintf(out->b, sizeof out->b, "%s", tb[0] && strcmp(ka, kb) == 0 ? vb : tb[0] ? tb : "(absent)");
                break;
            }
            if (out->field[0] == '\0') {
                snprintf(out->field, sizeof out->field, "line");
                snprintf(out->a, sizeof out->a, "%s", la);
                snprintf(out->b, sizeof out->b, "%s", lb);
            }
        }
        out->known = marked; /* from a marked line on, the sides may hold different frames */
        long last = out->op_index < (long)prog->count ? out->op_index : (long)prog->count - 1;
        for (long i = 0; i <= last && out->known == NULL; i++)
            out->known = od_licence(&prog->ops[i]);
        return;
    }
}
