/* op_text.c: op_program -> canonical text (docs/operation-language.md, "Text form"). Must stay
 * byte-identical to tools/opcodec.py's printer: the same rules, in the same order, are used there. */
#include <stdarg.h>
#include <string.h>

#include <ntddk.h>
#include <ks.h>

#include "op_program.h"

typedef struct op_text {
    char *buf;
    size_t cap;
    size_t len;
    FILE *stream; /* when set, text goes here instead of buf */
} op_text;

__attribute__((format(printf, 2, 3))) static void op_tprintf(op_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n;
    if (t->stream != NULL)
        n = vfprintf(t->stream, fmt, ap);
    else if (t->len < t->cap)
        n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    else
        n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len += (size_t)n;
}

static uint64_t op_field_scalar(const op_field_info *f, const unsigned char *args)
{
    switch (f->type) {
    case OP_T_U16: {
        uint16_t v;
        memcpy(&v, args + f->offset, sizeof v);
        return v;
    }
    case OP_T_U32: {
        uint32_t v;
        memcpy(&v, args + f->offset, sizeof v);
        return v;
    }
    case OP_T_U64: {
        uint64_t v;
        memcpy(&v, args + f->offset, sizeof v);
        return v;
    }
    default: {
        uint8_t v;
        memcpy(&v, args + f->offset, sizeof v);
        return v;
    }
    }
}

/* KSIDENTIFIER.Flags names depend on the request the ioctl's code selects. */
static op_class op_reqflags_class(const op_info *info, const unsigned char *args)
{
    for (size_t i = 0; i < info->field_count; i++) {
        if (strcmp(info->fields[i].name, "code") != 0)
            continue;
        uint64_t code = op_field_scalar(&info->fields[i], args);
        if (code == IOCTL_KS_METHOD)
            return OP_C_methodflags;
        if (code == IOCTL_KS_ENABLE_EVENT || code == IOCTL_KS_DISABLE_EVENT)
            return OP_C_eventflags;
    }
    return OP_C_propflags;
}

static void op_print_number(op_text *t, op_class cls, uint64_t v)
{
    op_class_kind kind = op_class_kind_of(cls);
    if (kind == OP_K_DEC) {
        op_tprintf(t, "%llu", (unsigned long long)v);
        return;
    }
    if (kind == OP_K_ENUM) {
        for (size_t i = 0; i < op_constant_count(); i++) {
            const op_constant *c = op_constant_at(i);
            if (c->cls == cls && c->value == v) {
                op_tprintf(t, "%s", c->name);
                return;
            }
        }
    } else if (kind == OP_K_FLAGS) {
        /* Greedy in table order: each name whose bits are all still set; what remains is hex. */
        if (v == 0) {
            op_tprintf(t, "0");
            return;
        }
        uint64_t rest = v;
        const char *sep = "";
        for (size_t i = 0; i < op_constant_count(); i++) {
            const op_constant *c = op_constant_at(i);
            if (c->cls == cls && c->value != 0 && (rest & c->value) == c->value) {
                op_tprintf(t, "%s%s", sep, c->name);
                rest &= ~c->value;
                sep = "|";
            }
        }
        if (rest != 0)
            op_tprintf(t, "%s0x%llX", sep, (unsigned long long)rest);
        return;
    }
    op_tprintf(t, "0x%llX", (unsigned long long)v);
}

static void op_print_guid(op_text *t, const GUID *g)
{
    for (size_t i = 0; i < op_guid_name_count(); i++) {
        const op_guid_name *n = op_guid_name_at(i);
        if (memcmp(&n->guid, g, sizeof *g) == 0) {
            op_tprintf(t, "%s", n->name);
            return;
        }
    }
    op_tprintf(t, "{%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}", (unsigned)g->Data1, g->Data2, g->Data3,
               g->Data4[0], g->Data4[1], g->Data4[2], g->Data4[3], g->Data4[4], g->Data4[5], g->Data4[6],
               g->Data4[7]);
}

static bool op_printable(uint8_t c) { return c >= 0x20 && c <= 0x7E; }

/* Code units at p[i], p[i+2], ... that are printable ASCII with a zero high byte. */
static size_t op_utf16_run(const uint8_t *p, size_t n, size_t i)
{
    size_t u = 0;
    while (i + 2 * u + 1 < n && op_printable(p[i + 2 * u]) && p[i + 2 * u + 1] == 0)
        u++;
    return u;
}

static size_t op_ascii_run(const uint8_t *p, size_t n, size_t i)
{
    size_t a = 0;
    while (i + a < n && op_printable(p[i + a]))
        a++;
    return a;
}

static void op_print_quoted(op_text *t, const uint8_t *p, size_t count, size_t stride)
{
    op_tprintf(t, "\"");
    for (size_t k = 0; k < count; k++) {
        char c = (char)p[k * stride];
        if (c == '"' || c == '\\')
            op_tprintf(t, "\\");
        op_tprintf(t, "%c", c);
    }
    op_tprintf(t, "\"");
}

/* Blobs: segments joined by '+': utf16:"..." for >= 4 printable UTF-16LE code units, "..." for >= 4
 * printable ASCII bytes, zero:N for >= 16 zero bytes, hex:.. for everything else, tried in that order
 * at each byte; the empty blob is "". hex_only (raw bytes) prints a single hex: segment. */
static void op_print_blob(op_text *t, const uint8_t *p, size_t n, bool hex_only)
{
    if (n == 0) {
        op_tprintf(t, hex_only ? "hex:" : "\"\"");
        return;
    }
    bool in_hex = false;
    const char *sep = "";
    for (size_t i = 0; i < n;) {
        size_t u = hex_only ? 0 : op_utf16_run(p, n, i);
        size_t a = hex_only || u >= 4 ? 0 : op_ascii_run(p, n, i);
        if (u >= 4 || a >= 4) {
            op_tprintf(t, "%s%s", sep, u >= 4 ? "utf16:" : "");
            op_print_quoted(t, p + i, u >= 4 ? u : a, u >= 4 ? 2 : 1);
            i += u >= 4 ? 2 * u : a;
            in_hex = false;
            sep = "+";
            continue;
        }
        size_t z = 0;
        while (!hex_only && i + z < n && p[i + z] == 0)
            z++;
        if (z >= 16) {
            op_tprintf(t, "%szero:%zu", sep, z);
            i += z;
            in_hex = false;
            sep = "+";
            continue;
        }
        if (!in_hex) {
            op_tprintf(t, "%shex:", sep);
            in_hex = true;
            sep = "+";
        }
        op_tprintf(t, "%02x", p[i]);
        i++;
    }
}

static void op_print_ref(op_text *t, char prefix, uint8_t v, bool is_ref)
{
    if (is_ref && v == OP_REF_CLOSED)
        op_tprintf(t, "closed");
    else if (is_ref && v == OP_REF_BOGUS)
        op_tprintf(t, "bogus");
    else if (is_ref && v == OP_REF_NULL)
        op_tprintf(t, "null");
    else
        op_tprintf(t, "%c%u", prefix, (unsigned)v);
}

static bool op_field_is_default(const op_field_info *f, const unsigned char *args)
{
    if (f->required)
        return false;
    if (f->type == OP_T_BYTES) {
        op_bytes b;
        memcpy(&b, args + f->offset, sizeof b);
        return b.len == 0;
    }
    if (f->type == OP_T_GUID) {
        static const GUID zero;
        return memcmp(args + f->offset, &zero, sizeof zero) == 0;
    }
    return op_field_scalar(f, args) == f->dflt;
}

static void op_print_field(op_text *t, const op_info *info, const op_field_info *f, const unsigned char *args)
{
    switch (f->type) {
    case OP_T_BYTES: {
        op_bytes b;
        memcpy(&b, args + f->offset, sizeof b);
        op_print_blob(t, b.data, b.len, false);
        break;
    }
    case OP_T_GUID: {
        GUID g;
        memcpy(&g, args + f->offset, sizeof g);
        op_print_guid(t, &g);
        break;
    }
    case OP_T_HREF: case OP_T_HOUT: op_print_ref(t, 'h', args[f->offset], f->type == OP_T_HREF); break;
    case OP_T_FREF: case OP_T_FOUT: op_print_ref(t, 'f', args[f->offset], f->type == OP_T_FREF); break;
    case OP_T_EREF: case OP_T_EOUT: op_print_ref(t, 'e', args[f->offset], f->type == OP_T_EREF); break;
    default: {
        op_class cls = op_class_kind_of(f->cls) == OP_K_REQFLAGS ? op_reqflags_class(info, args) : f->cls;
        op_print_number(t, cls, op_field_scalar(f, args));
        break;
    }
    }
}

static void op_print_op(op_text *t, const op_op *op)
{
    if (op->code == OP_RAW) {
        op_tprintf(t, "raw bytes=");
        op_print_blob(t, op->u.raw.data, op->u.raw.len, true);
        op_tprintf(t, "\n");
        return;
    }
    const op_info *info = op_info_get((unsigned)op->code);
    if (info == NULL)
        return;
    const unsigned char *args = (const unsigned char *)&op->u;
    op_tprintf(t, "%s", info->name);
    for (size_t i = 0; i < info->field_count; i++) {
        const op_field_info *f = &info->fields[i];
        if (op_field_is_default(f, args))
            continue;
        op_tprintf(t, " %s=", f->name);
        op_print_field(t, info, f, args);
    }
    op_tprintf(t, "\n");
}

static void op_print_program(op_text *t, const op_program *prog)
{
    if (prog->version == OP_VERSION_ABSENT)
        op_tprintf(t, "version none\n");
    else
        op_tprintf(t, "version %d\n", prog->version);
    for (size_t i = 0; i < prog->count; i++)
        op_print_op(t, &prog->ops[i]);
}

size_t op_format(const op_program *prog, char *buf, size_t cap)
{
    op_text t = { buf, cap, 0, NULL };
    if (cap > 0)
        buf[0] = '\0';
    op_print_program(&t, prog);
    return t.len;
}

void op_print(const op_program *prog, FILE *out)
{
    op_text t = { NULL, 0, 0, out };
    op_print_program(&t, prog);
}
