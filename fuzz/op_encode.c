/* op_encode.c: op_program -> binary program, the exact inverse of op_decode (fixed-width little-endian
 * fields, exact-length blobs, raw operations copied verbatim). */
#include <string.h>

#include "op_program.h"

typedef struct op_sink {
    uint8_t *out;
    size_t cap;
    size_t len;
} op_sink;

static void op_put(op_sink *s, const void *bytes, size_t n)
{
    if (s->len < s->cap)
        memcpy(s->out + s->len, bytes, n < s->cap - s->len ? n : s->cap - s->len);
    s->len += n;
}

static void op_put_le(op_sink *s, uint64_t v, unsigned width)
{
    uint8_t b[8];
    for (unsigned i = 0; i < width; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    op_put(s, b, width);
}

static void op_encode_field(op_sink *s, const op_field_info *f, const unsigned char *args)
{
    switch (f->type) {
    case OP_T_BYTES: {
        op_bytes b;
        memcpy(&b, args + f->offset, sizeof b);
        op_put_le(s, b.len, 2);
        if (b.len > 0)
            op_put(s, b.data, b.len);
        break;
    }
    case OP_T_GUID: {
        GUID g;
        memcpy(&g, args + f->offset, sizeof g);
        op_put_le(s, g.Data1, 4);
        op_put_le(s, g.Data2, 2);
        op_put_le(s, g.Data3, 2);
        op_put(s, g.Data4, 8);
        break;
    }
    case OP_T_U16: {
        uint16_t v;
        memcpy(&v, args + f->offset, sizeof v);
        op_put_le(s, v, 2);
        break;
    }
    case OP_T_U32: {
        uint32_t v;
        memcpy(&v, args + f->offset, sizeof v);
        op_put_le(s, v, 4);
        break;
    }
    case OP_T_U64: {
        uint64_t v;
        memcpy(&v, args + f->offset, sizeof v);
        op_put_le(s, v, 8);
        break;
    }
    default:
        op_put(s, args + f->offset, 1);
        break;
    }
}

size_t op_encode(const op_program *prog, uint8_t *out, size_t cap)
{
    op_sink s = { out, cap, 0 };
    if (prog->version != OP_VERSION_ABSENT) {
        uint8_t v = (uint8_t)prog->version;
        op_put(&s, &v, 1);
    }
    for (size_t i = 0; i < prog->count; i++) {
        const op_op *op = &prog->ops[i];
        if (op->code == OP_RAW) {
            if (op->u.raw.len > 0)
                op_put(&s, op->u.raw.data, op->u.raw.len);
            continue;
        }
        const op_info *info = op_info_get((unsigned)op->code);
        if (info == NULL)
            continue; /* not an operation: nothing to write */
        uint8_t code = (uint8_t)op->code;
        op_put(&s, &code, 1);
        for (size_t f = 0; f < info->field_count; f++)
            op_encode_field(&s, &info->fields[f], (const unsigned char *)&op->u);
    }
    return s.len;
}
