/* op_decode.c: binary program -> op_program. Total: every byte string decodes, and what cannot be an
 * operation is kept as OP_RAW so that op_encode reproduces the input exactly. Integers are assembled
 * byte by byte (little endian) and stored with memcpy; nothing is cast in place. */
#include <string.h>

#include "op_program.h"

static uint64_t op_le(const uint8_t *p, unsigned width)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < width; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static unsigned op_scalar_width(op_type type)
{
    switch (type) {
    case OP_T_U16: return 2;
    case OP_T_U32: return 4;
    case OP_T_U64: return 8;
    case OP_T_GUID: return 16;
    default: return 1; /* U8 and the slot bytes */
    }
}

/* Reads one field at data[*at..size) into the argument struct; false when the input ends first.
 * Invariant: *at <= size. Lengths are compared in 64-bit arithmetic, so no sum can wrap. */
static bool op_decode_field(const op_field_info *f, const uint8_t *data, uint64_t size, uint64_t *at,
                            unsigned char *args)
{
    uint64_t left = size - *at;
    const uint8_t *p = data + *at;
    if (f->type == OP_T_BYTES) {
        if (left < 2)
            return false;
        op_bytes b = { p + 2, (uint16_t)op_le(p, 2) };
        if (left - 2 < b.len)
            return false;
        memcpy(args + f->offset, &b, sizeof b);
        *at += 2 + (uint64_t)b.len;
        return true;
    }
    unsigned width = op_scalar_width(f->type);
    if (left < width)
        return false;
    switch (f->type) {
    case OP_T_GUID: {
        GUID g;
        g.Data1 = (ULONG)op_le(p, 4);
        g.Data2 = (USHORT)op_le(p + 4, 2);
        g.Data3 = (USHORT)op_le(p + 6, 2);
        memcpy(g.Data4, p + 8, 8);
        memcpy(args + f->offset, &g, sizeof g);
        break;
    }
    case OP_T_U16: {
        uint16_t v = (uint16_t)op_le(p, 2);
        memcpy(args + f->offset, &v, sizeof v);
        break;
    }
    case OP_T_U32: {
        uint32_t v = (uint32_t)op_le(p, 4);
        memcpy(args + f->offset, &v, sizeof v);
        break;
    }
    case OP_T_U64: {
        uint64_t v = op_le(p, 8);
        memcpy(args + f->offset, &v, sizeof v);
        break;
    }
    default:
        memcpy(args + f->offset, p, 1);
        break;
    }
    *at += width;
    return true;
}

static bool op_decode_record(const op_info *info, const uint8_t *data, size_t size, size_t pos, op_op *op)
{
    uint64_t at = (uint64_t)pos + 1;
    memset(op, 0, sizeof *op);
    for (size_t i = 0; i < info->field_count; i++)
        if (!op_decode_field(&info->fields[i], data, size, &at, (unsigned char *)&op->u))
            return false;
    op->code = info->code;
    op->offset = pos;
    op->size = (size_t)(at - pos);
    return true;
}

/* Skipped bytes data[start..end) join the previous OP_RAW when it ends at start. */
static void op_append_raw(op_program *prog, const uint8_t *data, size_t start, size_t end)
{
    op_op *last = prog->count > 0 ? &prog->ops[prog->count - 1] : NULL;
    if (last != NULL && last->code == OP_RAW && last->offset + last->size == start) {
        last->size += end - start;
        last->u.raw.len += end - start;
        return;
    }
    op_op *op = &prog->ops[prog->count++];
    memset(op, 0, sizeof *op);
    op->code = OP_RAW;
    op->offset = start;
    op->size = end - start;
    op->u.raw.data = data + start;
    op->u.raw.len = end - start;
}

void op_decode(const uint8_t *data, size_t size, op_program *prog)
{
    prog->count = 0;
    if (size == 0) {
        prog->version = OP_VERSION_ABSENT;
        return;
    }
    prog->version = data[0];
    size_t pos = 1;
    if (prog->version != OP_FORMAT_VERSION) {
        /* Another version's layouts are unknown here: keep its body intact, run nothing. */
        if (pos < size)
            op_append_raw(prog, data, pos, size);
        return;
    }
    while (pos < size) {
        if (prog->count >= OP_MAX_OPS - 1) {
            op_append_raw(prog, data, pos, size); /* the cap: the rest is one final raw operation */
            return;
        }
        const op_info *info = op_info_get(data[pos]);
        op_op *next = &prog->ops[prog->count];
        if (info != NULL && op_decode_record(info, data, size, pos, next)) {
            prog->count++;
            pos += next->size;
            continue;
        }
        op_append_raw(prog, data, pos, pos + 1);
        pos++;
    }
}
