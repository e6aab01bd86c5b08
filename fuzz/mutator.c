/* mutator.c: the structure-aware mutation core (see mutator.h). decode -> one mutation -> encode.
 *
 * Every field-level mutation is driven by the operation table (op_info_*: field types and value
 * classes from fuzz/ops.def), so a new operation or constant in ops.def is mutated without a change
 * here. The only per-operation knowledge is in the insertion templates (sane defaults) and the
 * create_raw name/length mutations (the allocator create-name layout, facts §2.1).
 *
 * Memory: operation fields keep pointing into the input buffer; new blob bytes live in the mutator's
 * arena, and the program is encoded into a scratch buffer before it is copied out, so the output may
 * be the input buffer. */
#include "mutator.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mutator_internal.h"

#define OP_MUT_ATTEMPTS 12           /* decode+mutate+encode tries before the raw path takes over */
#define OP_MUT_MAX_STRUCT_OPS (OP_MAX_OPS - 2) /* never grow past this: stay clear of the decoder's cap */
#define OP_MUT_ARENA (4u * 65536u + 4096u)

struct op_mutator {
    op_program prog;  /* the program being mutated */
    op_program other; /* crossover: the second parent */
    op_program built; /* crossover: the child */
    uint8_t *arena;
    size_t arena_used;
    uint8_t *scratch;
    size_t scratch_cap;
    op_raw_mutate_fn raw;
    op_rng rng;
};

/* ---- Small utilities ------------------------------------------------------------------------------ */

uint64_t op_rng_next(op_rng *r)
{
    /* splitmix64: tiny, good enough for picking mutations, fully determined by the seed */
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t op_rng_below(op_rng *r, uint64_t n) { return n == 0 ? 0 : op_rng_next(r) % n; }

void op_rng_seed(op_rng *r, uint32_t seed) { r->s = 0x4B53A110C0000000ull ^ ((uint64_t)seed * 0x100000001B3ull); }

uint8_t *op_arena_alloc(op_mutator *m, size_t n)
{
    if (n > OP_MUT_ARENA - m->arena_used)
        return NULL;
    uint8_t *p = m->arena + m->arena_used;
    m->arena_used += n;
    return p;
}

op_rng *op_mutator_rng(op_mutator *m) { return &m->rng; }

static bool op_ensure_scratch(op_mutator *m, size_t n)
{
    if (n <= m->scratch_cap)
        return true;
    size_t cap = m->scratch_cap ? m->scratch_cap : 4096;
    while (cap < n)
        cap *= 2;
    uint8_t *p = realloc(m->scratch, cap);
    if (p == NULL)
        return false;
    m->scratch = p;
    m->scratch_cap = cap;
    return true;
}

static bool op_is_ref(op_type t) { return t == OP_T_HREF || t == OP_T_FREF || t == OP_T_EREF; }
static bool op_is_out(op_type t) { return t == OP_T_HOUT || t == OP_T_FOUT || t == OP_T_EOUT; }
static bool op_is_int(op_type t) { return t == OP_T_U8 || t == OP_T_U16 || t == OP_T_U32 || t == OP_T_U64; }
/* HOUT for HREF and so on: the result type whose slots a reference names. */
static op_type op_out_of(op_type ref) { return ref == OP_T_HREF ? OP_T_HOUT : ref == OP_T_FREF ? OP_T_FOUT : OP_T_EOUT; }
static op_type op_ref_of(op_type out) { return out == OP_T_HOUT ? OP_T_HREF : out == OP_T_FOUT ? OP_T_FREF : OP_T_EREF; }

unsigned op_type_bits(op_type t)
{
    switch (t) {
    case OP_T_U16: return 16;
    case OP_T_U32: return 32;
    case OP_T_U64: return 64;
    default: return 8;
    }
}

static uint64_t op_width_mask(unsigned bits) { return bits >= 64 ? ~0ull : (1ull << bits) - 1; }

static unsigned char *op_field_ptr(op_op *op, const op_field_info *f) { return (unsigned char *)&op->u + f->offset; }

uint64_t op_field_get(const op_op *op, const op_field_info *f)
{
    const unsigned char *p = (const unsigned char *)&op->u + f->offset;
    switch (op_type_bits(f->type)) {
    case 16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case 32: { uint32_t v; memcpy(&v, p, 4); return v; }
    case 64: { uint64_t v; memcpy(&v, p, 8); return v; }
    default: return *p;
    }
}

void op_field_set(op_op *op, const op_field_info *f, uint64_t value)
{
    unsigned char *p = op_field_ptr(op, f);
    switch (op_type_bits(f->type)) {
    case 16: { uint16_t v = (uint16_t)value; memcpy(p, &v, 2); break; }
    case 32: { uint32_t v = (uint32_t)value; memcpy(p, &v, 4); break; }
    case 64: memcpy(p, &value, 8); break;
    default: *p = (uint8_t)value; break;
    }
}

op_bytes op_field_bytes(const op_op *op, const op_field_info *f)
{
    op_bytes b;
    memcpy(&b, (const unsigned char *)&op->u + f->offset, sizeof b);
    return b;
}

void op_field_set_bytes(op_op *op, const op_field_info *f, const uint8_t *data, size_t len)
{
    op_bytes b = { len ? data : NULL, (uint16_t)len };
    memcpy(op_field_ptr(op, f), &b, sizeof b);
}

const op_field_info *op_field_named(const op_info *info, const char *name, int *index)
{
    for (size_t i = 0; i < info->field_count; i++)
        if (strcmp(info->fields[i].name, name) == 0) {
            if (index)
                *index = (int)i;
            return &info->fields[i];
        }
    return NULL;
}

/* ---- Which fields a kind applies to ------------------------------------------------------------- */

static bool op_kind_matches(op_mut_kind kind, const op_op *op, const op_field_info *f)
{
    op_class_kind ck = op_class_kind_of(f->cls);
    switch (kind) {
    case OP_MUT_FLAGS: return op_is_int(f->type) && (ck == OP_K_FLAGS || ck == OP_K_REQFLAGS);
    case OP_MUT_ENUM: return op_is_int(f->type) && ck == OP_K_ENUM && f->cls != OP_C_align;
    case OP_MUT_ALIGN: return op_is_int(f->type) && f->cls == OP_C_align;
    case OP_MUT_INT: return op_is_int(f->type) && (ck == OP_K_DEC || ck == OP_K_HEX);
    case OP_MUT_GUID: return f->type == OP_T_GUID;
    case OP_MUT_BLOB: return f->type == OP_T_BYTES;
    case OP_MUT_NAME: return op_has_create_name(op->code) && f->type == OP_T_BYTES && strcmp(f->name, "name") == 0;
    case OP_MUT_LENGTHS: return op_has_create_name(op->code) && strcmp(f->name, "length") == 0;
    case OP_MUT_REF: return op_is_ref(f->type);
    case OP_MUT_OUT: return op_is_out(f->type);
    default: return false;
    }
}

/* Picks a (op, field) pair uniformly among those the kind applies to; false when there is none. */
static bool op_pick_field(op_mutator *m, op_mut_kind kind, int *op_index, int *field_index)
{
    size_t n = 0;
    for (size_t i = 0; i < m->prog.count; i++) {
        const op_info *info = op_info_get((unsigned)m->prog.ops[i].code);
        for (size_t f = 0; info != NULL && f < info->field_count; f++)
            n += op_kind_matches(kind, &m->prog.ops[i], &info->fields[f]);
    }
    if (n == 0)
        return false;
    size_t pick = (size_t)op_rng_below(&m->rng, n);
    for (size_t i = 0; i < m->prog.count; i++) {
        const op_info *info = op_info_get((unsigned)m->prog.ops[i].code);
        for (size_t f = 0; info != NULL && f < info->field_count; f++)
            if (op_kind_matches(kind, &m->prog.ops[i], &info->fields[f]) && pick-- == 0) {
                *op_index = (int)i;
                *field_index = (int)f;
                return true;
            }
    }
    return false;
}

/* ---- Slot bookkeeping ----------------------------------------------------------------------------- */

/* The slots that operations before `before` fill with results of type out (a bit per slot). With the
 * interpreter's prologue, h0 and h1 are filled before the program starts. */
static unsigned op_produced_slots(const op_program *p, size_t before, op_type out, op_code only)
{
    unsigned mask = 0;
    for (size_t i = 0; i < before && i < p->count; i++) {
        const op_info *info = op_info_get((unsigned)p->ops[i].code);
        if (info == NULL || (only != OP_RAW && p->ops[i].code != only))
            continue;
        for (size_t f = 0; f < info->field_count; f++)
            if (info->fields[f].type == out)
                mask |= 1u << op_slot_index((uint8_t)op_field_get(&p->ops[i], &info->fields[f]));
    }
    return mask;
}

static int op_pick_bit(op_rng *r, unsigned mask)
{
    int n = __builtin_popcount(mask);
    if (n == 0)
        return -1;
    int k = (int)op_rng_below(r, (uint64_t)n);
    for (int b = 0; b < 32; b++)
        if ((mask >> b) & 1u) {
            if (k-- == 0)
                return b;
        }
    return -1;
}

/* The most recent slot of type out filled before `before` by an operation with code `only` (OP_RAW:
 * any), or -1. */
static int op_last_produced(const op_program *p, size_t before, op_type out, op_code only)
{
    for (size_t i = before < p->count ? before : p->count; i-- > 0;) {
        const op_info *info = op_info_get((unsigned)p->ops[i].code);
        if (info == NULL || (only != OP_RAW && p->ops[i].code != only))
            continue;
        for (size_t f = 0; f < info->field_count; f++)
            if (info->fields[f].type == out)
                return (int)op_slot_index((uint8_t)op_field_get(&p->ops[i], &info->fields[f]));
    }
    return -1;
}

/* ---- Field-level mutations ------------------------------------------------------------------------ */

static bool op_mutate_ref(op_mutator *m, int oi, const op_field_info *f)
{
    op_op *op = &m->prog.ops[oi];
    uint8_t old = (uint8_t)op_field_get(op, f);
    for (int tries = 0; tries < 16; tries++) {
        uint8_t v;
        unsigned produced = op_produced_slots(&m->prog, (size_t)oi, op_out_of(f->type), OP_RAW);
        if (f->type == OP_T_HREF)
            produced |= 0x3u; /* the prologue's filter and pin */
        switch (op_rng_below(&m->rng, 8)) {
        case 0: case 1: case 2: {
            int b = op_pick_bit(&m->rng, produced);
            v = (uint8_t)(b >= 0 ? b : 0);
            break;
        }
        case 3: v = OP_REF_CLOSED; break;
        case 4: v = OP_REF_BOGUS; break;
        case 5: v = OP_REF_NULL; break;
        default: v = (uint8_t)op_rng_below(&m->rng, OP_SLOT_COUNT); break;
        }
        if (v != old) {
            op_field_set(op, f, v);
            return true;
        }
    }
    return false;
}

static bool op_mutate_out(op_mutator *m, int oi, const op_field_info *f)
{
    op_op *op = &m->prog.ops[oi];
    unsigned old = op_slot_index((uint8_t)op_field_get(op, f));
    /* The slots later operations refer to: pointing a result at one of them connects a producer. */
    unsigned wanted = 0;
    op_type ref = op_ref_of(f->type);
    for (size_t i = (size_t)oi + 1; i < m->prog.count; i++) {
        const op_info *info = op_info_get((unsigned)m->prog.ops[i].code);
        for (size_t k = 0; info != NULL && k < info->field_count; k++)
            if (info->fields[k].type == ref) {
                uint8_t s = (uint8_t)op_field_get(&m->prog.ops[i], &info->fields[k]);
                if (s < OP_REF_CLOSED)
                    wanted |= 1u << op_slot_index(s);
            }
    }
    wanted &= ~(1u << old);
    int b = op_rng_below(&m->rng, 2) == 0 ? op_pick_bit(&m->rng, wanted) : -1;
    if (b < 0)
        b = (int)((old + 1 + op_rng_below(&m->rng, OP_SLOT_COUNT - 1)) % OP_SLOT_COUNT);
    op_field_set(op, f, (uint64_t)b);
    return true;
}

static bool op_mutate_scalar(op_mutator *m, op_mut_kind kind, int oi, const op_field_info *f)
{
    op_op *op = &m->prog.ops[oi];
    uint64_t old = op_field_get(op, f);
    unsigned bits = op_type_bits(f->type);
    op_class cls = f->cls;
    if (op_class_kind_of(cls) == OP_K_REQFLAGS) {
        const op_field_info *code = op_field_named(op_info_get((unsigned)op->code), "code", NULL);
        cls = op_reqflags_class(code != NULL ? (uint32_t)op_field_get(op, code) : 0);
    }
    for (int tries = 0; tries < 32; tries++) {
        uint64_t v;
        switch (kind) {
        case OP_MUT_FLAGS: v = op_value_flags(&m->rng, cls, bits, old); break;
        case OP_MUT_ENUM: v = op_value_enum(&m->rng, cls, bits, old); break;
        case OP_MUT_ALIGN: v = op_value_align(&m->rng, old); break;
        default: v = op_value_int(&m->rng, bits, old); break;
        }
        v &= op_width_mask(bits);
        if (v != old) {
            op_field_set(op, f, v);
            return true;
        }
    }
    return false;
}

static bool op_mutate_guid(op_mutator *m, int oi, const op_field_info *f)
{
    op_op *op = &m->prog.ops[oi];
    GUID old, g;
    memcpy(&old, op_field_ptr(op, f), sizeof old);
    for (int tries = 0; tries < 16; tries++) {
        g = old;
        const op_guid_name *n = op_guid_name_at((size_t)op_rng_below(&m->rng, op_guid_name_count()));
        switch (op_rng_below(&m->rng, 8)) {
        case 0: case 1: case 2: g = n->guid; break; /* another name from the table */
        case 3: case 4: {                           /* one bit off a table GUID, or off the current one */
            if (op_rng_below(&m->rng, 2) == 0)
                g = n->guid;
            unsigned bit = (unsigned)op_rng_below(&m->rng, 128);
            uint8_t raw[16];
            memcpy(raw, &g, 16);
            raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            memcpy(&g, raw, 16);
            break;
        }
        case 5: memset(&g, 0, sizeof g); break; /* GUID_NULL (KSMEMORY_TYPE_WILDCARD) */
        case 6: g.Data1 += op_rng_below(&m->rng, 2) ? 1 : (ULONG)-1; break;
        default: {
            uint8_t raw[16];
            for (int i = 0; i < 16; i++)
                raw[i] = (uint8_t)op_rng_next(&m->rng);
            memcpy(&g, raw, 16);
            break;
        }
        }
        if (memcmp(&g, &old, sizeof g) != 0) {
            memcpy(op_field_ptr(op, f), &g, sizeof g);
            return true;
        }
    }
    return false;
}

/* Generic blob edits: truncate, extend, insert zero code units, bytes, u32 words and GUIDs inside. */
static bool op_mutate_blob(op_mutator *m, int oi, const op_field_info *f, size_t max_size)
{
    op_op *op = &m->prog.ops[oi];
    op_bytes b = op_field_bytes(op, f);
    size_t limit = max_size < 65535 ? max_size : 65535;
    for (int tries = 0; tries < 16; tries++) {
        size_t saved = m->arena_used;
        size_t len = b.len, nl = len;
        uint8_t *nb = NULL;
        unsigned choice = (unsigned)op_rng_below(&m->rng, 9);
        switch (choice) {
        case 0: /* truncate */
            if (len == 0)
                continue;
            nl = (size_t)op_rng_below(&m->rng, len);
            break;
        case 1: /* extend by a little */
            nl = len + 1 + (size_t)op_rng_below(&m->rng, 32);
            break;
        case 2: { /* resize to an interesting length */
            static const size_t sizes[] = { 0, 1, 2, 4, 8, 16, 23, 24, 25, 26, 28, 32, 40, 64, 102, 104, 111, 112, 113, 256 };
            nl = sizes[op_rng_below(&m->rng, sizeof sizes / sizeof sizes[0])];
            break;
        }
        default: break; /* same length or +2 below */
        }
        if (choice == 3)
            nl = len + 2; /* insert a zero code unit */
        if (nl > limit)
            continue;
        nb = op_arena_alloc(m, nl ? nl : 1);
        if (nb == NULL)
            return false;
        size_t keep = len < nl ? len : nl;
        if (keep)
            memcpy(nb, b.data, keep);
        if (nl > len) {
            if (choice == 1 && op_rng_below(&m->rng, 2) == 0)
                for (size_t i = len; i < nl; i++)
                    nb[i] = (uint8_t)op_rng_next(&m->rng);
            else
                memset(nb + len, 0, nl - len);
        }
        switch (choice) {
        case 3: { /* insert 0x0000 at an even offset */
            size_t at = (size_t)op_rng_below(&m->rng, len / 2 + 1) * 2;
            if (at > len)
                at = len;
            memmove(nb + at + 2, nb + at, len - at);
            nb[at] = nb[at + 1] = 0;
            break;
        }
        case 4: case 5: { /* an aligned u32 word set to a boundary, flag or alignment value */
            if (nl < 4)
                break;
            size_t at = (size_t)op_rng_below(&m->rng, nl / 4) * 4;
            uint32_t old = (uint32_t)nb[at] | (uint32_t)nb[at + 1] << 8 | (uint32_t)nb[at + 2] << 16 |
                           (uint32_t)nb[at + 3] << 24;
            uint32_t v = choice == 4 ? (uint32_t)op_value_int(&m->rng, 32, old) : (uint32_t)op_value_align(&m->rng, old);
            for (int i = 0; i < 4; i++)
                nb[at + (size_t)i] = (uint8_t)(v >> (8 * i));
            break;
        }
        case 6: { /* a table GUID at a 4-aligned offset */
            if (nl < 16)
                break;
            size_t at = (size_t)op_rng_below(&m->rng, (nl - 16) / 4 + 1) * 4;
            const op_guid_name *n = op_guid_name_at((size_t)op_rng_below(&m->rng, op_guid_name_count()));
            op_guid_to_bytes(&n->guid, nb + at);
            break;
        }
        case 7: case 8: /* a byte flipped / replaced */
            if (nl == 0)
                break;
            if (choice == 7)
                nb[op_rng_below(&m->rng, nl)] ^= (uint8_t)(1u << op_rng_below(&m->rng, 8));
            else
                nb[op_rng_below(&m->rng, nl)] = (uint8_t)op_rng_next(&m->rng);
            break;
        default: break;
        }
        if (nl == len && (len == 0 || memcmp(nb, b.data, len) == 0)) {
            m->arena_used = saved;
            continue;
        }
        op_field_set_bytes(op, f, nb, nl);
        return true;
    }
    return false;
}

static bool op_mutate_lengths(op_mutator *m, int oi)
{
    op_op *op = &m->prog.ops[oi];
    const op_info *info = op_info_get((unsigned)op->code);
    const op_field_info *fl = op_field_named(info, "length", NULL);
    const op_field_info *fm = op_field_named(info, "max_length", NULL);
    const op_field_info *fn = op_field_named(info, "name", NULL);
    if (fl == NULL || fm == NULL || fn == NULL)
        return false;
    uint32_t s = op_field_bytes(op, fn).len;
    uint32_t l0 = (uint32_t)op_field_get(op, fl), m0 = (uint32_t)op_field_get(op, fm);
    for (int tries = 0; tries < 16; tries++) {
        uint32_t l = l0, mx = m0;
        switch (op_rng_below(&m->rng, 12)) {
        case 0: l = mx = s; break;                       /* coherent */
        case 1: l = s; mx = s + 2; break;                /* room for a terminator */
        case 2: l = s; mx = s + 1; break;                /* odd MaximumLength */
        case 3: l = s; mx = s >= 2 ? s - 2 : 0; break;   /* MaximumLength < Length */
        case 4: l = s ? s - 1 : 1; mx = s; break;        /* odd Length */
        case 5: l = 0; break;
        case 6: mx = 0xFFFF; break;
        case 7: l = s + 2; mx = s + 2; break;            /* past the blob (zero padded by the interpreter) */
        case 8: { uint32_t t = l; l = mx; mx = t; break; }
        case 9: l = mx = s + 2 * (uint32_t)(1 + op_rng_below(&m->rng, 64)); break;
        case 10: l = s >= 2 ? s - 2 : 0; mx = s; break;  /* Length short of the blob */
        default: l = (uint32_t)op_value_int(&m->rng, 16, l); break;
        }
        l &= 0xFFFF;
        mx &= 0xFFFF;
        if (l != l0 || mx != m0) {
            op_field_set(op, fl, l);
            op_field_set(op, fm, mx);
            return true;
        }
    }
    return false;
}

/* ---- Program-level mutations ---------------------------------------------------------------------- */

static void op_insert_at(op_program *p, size_t at, const op_op *op)
{
    memmove(&p->ops[at + 1], &p->ops[at], (p->count - at) * sizeof p->ops[0]);
    p->ops[at] = *op;
    p->count++;
}

static void op_remove_at(op_program *p, size_t at)
{
    memmove(&p->ops[at], &p->ops[at + 1], (p->count - at - 1) * sizeof p->ops[0]);
    p->count--;
}

/* A fresh slot for a result of type out: the lowest one no operation of the program fills, else any. */
static unsigned op_fresh_slot(op_mutator *m, op_type out)
{
    unsigned used = op_produced_slots(&m->prog, m->prog.count, out, OP_RAW);
    if (out == OP_T_HOUT)
        used |= 0x3u;
    for (unsigned s = 0; s < OP_SLOT_COUNT; s++)
        if (!((used >> s) & 1u))
            return s;
    return (unsigned)op_rng_below(&m->rng, OP_SLOT_COUNT);
}

/* The reference a template field gets at position `at`: the most recent matching producer. */
static uint8_t op_template_ref(op_mutator *m, size_t at, const op_field_info *f)
{
    op_type out = op_out_of(f->type);
    int s = -1;
    if (f->type == OP_T_HREF) {
        if (strcmp(f->name, "filter") == 0) {
            s = op_last_produced(&m->prog, at, out, OP_OPEN_FILTER);
            if (s < 0)
                s = 0; /* the prologue's filter */
        } else if (strcmp(f->name, "parent") == 0) {
            s = op_last_produced(&m->prog, at, out, OP_OPEN_PIN);
            if (s < 0)
                s = 1; /* the prologue's pin */
        } else {
            static const op_code creators[] = { OP_CREATE_FRAMING, OP_CREATE_DEFAULT_EX, OP_CREATE_RAW };
            for (size_t i = 0; i < at && i < m->prog.count; i++)
                for (size_t c = 0; c < sizeof creators / sizeof creators[0]; c++)
                    if (m->prog.ops[i].code == creators[c]) {
                        int t = op_last_produced(&m->prog, i + 1, out, creators[c]);
                        if (t >= 0)
                            s = t;
                    }
        }
    }
    if (s < 0 && op_rng_below(&m->rng, 4) != 0)
        s = op_last_produced(&m->prog, at, out, OP_RAW);
    if (s < 0) {
        int b = op_pick_bit(&m->rng, op_produced_slots(&m->prog, at, out, OP_RAW));
        s = b >= 0 ? b : (f->type == OP_T_HREF ? 2 : 0);
    }
    return (uint8_t)s;
}

/* One operation of this opcode with sane defaults, to be inserted at position `at`. */
static void op_template(op_mutator *m, const op_info *info, size_t at, op_op *op)
{
    memset(op, 0, sizeof *op);
    op->code = info->code;
    for (size_t i = 0; i < info->field_count; i++) {
        const op_field_info *f = &info->fields[i];
        if (op_is_ref(f->type))
            op_field_set(op, f, f->required ? op_template_ref(m, at, f) : f->dflt);
        else if (op_is_out(f->type))
            op_field_set(op, f, op_fresh_slot(m, f->type));
        else if (op_is_int(f->type))
            op_field_set(op, f, f->dflt);
    }
    op_template_specifics(m, op, info);
}

static bool op_mutate_program(op_mutator *m, op_mut_kind kind, op_mut_info *info)
{
    op_program *p = &m->prog;
    size_t n = p->count;
    switch (kind) {
    case OP_MUT_INSERT: {
        if (n >= OP_MUT_MAX_STRUCT_OPS)
            return false;
        size_t at = (size_t)op_rng_below(&m->rng, n + 1);
        op_op op;
        op_template(m, op_info_at((size_t)op_rng_below(&m->rng, op_info_count())), at, &op);
        op_insert_at(p, at, &op);
        info->op = (int)at;
        return true;
    }
    case OP_MUT_DELETE: {
        if (n == 0)
            return false;
        size_t at = (size_t)op_rng_below(&m->rng, n);
        op_remove_at(p, at);
        info->op = (int)at;
        return true;
    }
    case OP_MUT_DUPLICATE: {
        if (n == 0 || n >= OP_MUT_MAX_STRUCT_OPS)
            return false;
        size_t from = (size_t)op_rng_below(&m->rng, n);
        size_t to = op_rng_below(&m->rng, 2) == 0 ? from + 1 : (size_t)op_rng_below(&m->rng, n + 1);
        op_op copy = p->ops[from];
        op_insert_at(p, to, &copy);
        info->op = (int)to;
        return true;
    }
    case OP_MUT_SWAP: {
        if (n < 2)
            return false;
        size_t at = (size_t)op_rng_below(&m->rng, n - 1);
        op_op t = p->ops[at];
        p->ops[at] = p->ops[at + 1];
        p->ops[at + 1] = t;
        info->op = (int)at;
        return true;
    }
    case OP_MUT_SPLICE: {
        if (n == 0 || n >= OP_MUT_MAX_STRUCT_OPS)
            return false;
        size_t from = (size_t)op_rng_below(&m->rng, n);
        size_t len = 1 + (size_t)op_rng_below(&m->rng, n - from < 8 ? n - from : 8);
        if (n + len > OP_MUT_MAX_STRUCT_OPS)
            len = OP_MUT_MAX_STRUCT_OPS - n;
        size_t to = (size_t)op_rng_below(&m->rng, n + 1);
        op_op run[8];
        memcpy(run, &p->ops[from], len * sizeof run[0]);
        for (size_t i = 0; i < len; i++)
            op_insert_at(p, to + i, &run[i]);
        info->op = (int)to;
        return true;
    }
    default: return false;
    }
}

/* ---- The raw path --------------------------------------------------------------------------------- */

/* Built-in byte havoc on buf[0..size) (capacity max_size): 1-4 stacked edits. */
static size_t op_havoc(op_rng *r, uint8_t *buf, size_t size, size_t max_size)
{
    static const uint32_t interesting[] = { 0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
                                            0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 24, 0x1000, 0xFFF };
    unsigned stack = 1 + (unsigned)op_rng_below(r, 4);
    for (unsigned s = 0; s < stack; s++) {
        switch (size == 0 ? 4 : op_rng_below(r, 7)) {
        case 0: buf[op_rng_below(r, size)] ^= (uint8_t)(1u << op_rng_below(r, 8)); break;
        case 1: buf[op_rng_below(r, size)] = (uint8_t)op_rng_next(r); break;
        case 2: { /* an interesting little-endian integer */
            unsigned w = 1u << op_rng_below(r, 3);
            if (size < w)
                break;
            size_t at = (size_t)op_rng_below(r, size - w + 1);
            uint32_t v = interesting[op_rng_below(r, sizeof interesting / sizeof interesting[0])];
            for (unsigned i = 0; i < w; i++)
                buf[at + i] = (uint8_t)(v >> (8 * i));
            break;
        }
        case 3: { /* delete a range */
            if (size < 2)
                break;
            size_t at = (size_t)op_rng_below(r, size);
            size_t len = 1 + (size_t)op_rng_below(r, (size - at) < 16 ? size - at : 16);
            memmove(buf + at, buf + at + len, size - at - len);
            size -= len;
            break;
        }
        case 4: { /* insert random bytes */
            if (size >= max_size)
                break;
            size_t at = (size_t)op_rng_below(r, size + 1);
            size_t len = 1 + (size_t)op_rng_below(r, 8);
            if (len > max_size - size)
                len = max_size - size;
            memmove(buf + at + len, buf + at, size - at);
            for (size_t i = 0; i < len; i++)
                buf[at + i] = (uint8_t)op_rng_next(r);
            size += len;
            break;
        }
        case 5: { /* duplicate a range */
            if (size >= max_size)
                break;
            size_t from = (size_t)op_rng_below(r, size);
            size_t len = 1 + (size_t)op_rng_below(r, (size - from) < 32 ? size - from : 32);
            if (len > max_size - size)
                len = max_size - size;
            size_t at = (size_t)op_rng_below(r, size + 1);
            uint8_t tmp[32];
            memcpy(tmp, buf + from, len);
            memmove(buf + at + len, buf + at, size - at);
            memcpy(buf + at, tmp, len);
            size += len;
            break;
        }
        default: { /* copy a range over another */
            size_t from = (size_t)op_rng_below(r, size), to = (size_t)op_rng_below(r, size);
            size_t len = 1 + (size_t)op_rng_below(r, 16);
            if (len > size - from)
                len = size - from;
            if (len > size - to)
                len = size - to;
            memmove(buf + to, buf + from, len);
            break;
        }
        }
    }
    return size;
}

static size_t op_mutate_raw(op_mutator *m, const uint8_t *data, size_t size, uint8_t *out, size_t max_size)
{
    size_t n = size < max_size ? size : max_size;
    if (!op_ensure_scratch(m, max_size)) {
        if (out != data)
            memmove(out, data, n);
        return n ? n : 0;
    }
    size_t in = n;
    for (int tries = 0; tries < 4; tries++) {
        n = in;
        memcpy(m->scratch, data, n);
        if (n >= 1 && m->scratch[0] != OP_FORMAT_VERSION && op_rng_below(&m->rng, 2) == 0) {
            m->scratch[0] = OP_FORMAT_VERSION; /* another version runs nothing: make the body count */
        } else {
            size_t r = m->raw != NULL ? m->raw(m->scratch, n, max_size) : 0;
            n = r != 0 && r <= max_size ? r : op_havoc(&m->rng, m->scratch, n, max_size);
        }
        if (n == 0) {
            m->scratch[0] = OP_FORMAT_VERSION;
            n = 1;
        }
        if (n != size || memcmp(m->scratch, data, n) != 0)
            break;
        if (tries == 3) /* still the input: flip one bit so the result is never a no-op */
            m->scratch[op_rng_below(&m->rng, n)] ^= (uint8_t)(1u << op_rng_below(&m->rng, 8));
    }
    memcpy(out, m->scratch, n);
    return n;
}

/* ---- Entry points --------------------------------------------------------------------------------- */

op_mutator *op_mutator_new(void)
{
    op_mutator *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->arena = malloc(OP_MUT_ARENA);
    if (m->arena == NULL || !op_ensure_scratch(m, 65536)) {
        op_mutator_free(m);
        return NULL;
    }
    return m;
}

void op_mutator_free(op_mutator *m)
{
    if (m == NULL)
        return;
    free(m->arena);
    free(m->scratch);
    free(m);
}

void op_mutator_set_raw(op_mutator *m, op_raw_mutate_fn fn) { m->raw = fn; }

static const struct {
    op_mut_kind kind;
    unsigned weight;
} op_kind_weights[] = {
    { OP_MUT_FLAGS, 6 }, { OP_MUT_ENUM, 6 }, { OP_MUT_ALIGN, 4 }, { OP_MUT_INT, 10 }, { OP_MUT_GUID, 3 },
    { OP_MUT_BLOB, 6 }, { OP_MUT_NAME, 4 }, { OP_MUT_LENGTHS, 3 }, { OP_MUT_REF, 6 }, { OP_MUT_OUT, 3 },
    { OP_MUT_INSERT, 8 }, { OP_MUT_DELETE, 5 }, { OP_MUT_DUPLICATE, 4 }, { OP_MUT_SWAP, 4 }, { OP_MUT_SPLICE, 3 },
    { OP_MUT_RAW, 9 },
};

static op_mut_kind op_pick_kind(op_rng *r)
{
    unsigned total = 0;
    for (size_t i = 0; i < sizeof op_kind_weights / sizeof op_kind_weights[0]; i++)
        total += op_kind_weights[i].weight;
    unsigned x = (unsigned)op_rng_below(r, total);
    for (size_t i = 0; i < sizeof op_kind_weights / sizeof op_kind_weights[0]; i++) {
        if (x < op_kind_weights[i].weight)
            return op_kind_weights[i].kind;
        x -= op_kind_weights[i].weight;
    }
    return OP_MUT_RAW;
}

static bool op_apply(op_mutator *m, op_mut_kind kind, size_t max_size, op_mut_info *info)
{
    if (kind >= OP_MUT_INSERT)
        return op_mutate_program(m, kind, info);
    int oi, fi;
    if (!op_pick_field(m, kind, &oi, &fi))
        return false;
    const op_field_info *f = &op_info_get((unsigned)m->prog.ops[oi].code)->fields[fi];
    info->op = oi;
    info->field = fi;
    switch (kind) {
    case OP_MUT_REF: return op_mutate_ref(m, oi, f);
    case OP_MUT_OUT: return op_mutate_out(m, oi, f);
    case OP_MUT_GUID: return op_mutate_guid(m, oi, f);
    case OP_MUT_BLOB: return op_mutate_blob(m, oi, f, max_size);
    case OP_MUT_NAME: return op_mutate_name(m, &m->prog.ops[oi], max_size);
    case OP_MUT_LENGTHS: return op_mutate_lengths(m, oi);
    default: return op_mutate_scalar(m, kind, oi, f);
    }
}

size_t op_mutate(op_mutator *m, const uint8_t *data, size_t size, uint8_t *out, size_t max_size, uint32_t seed,
                 op_mut_kind kind, op_mut_info *info)
{
    op_mut_info scratch_info;
    if (info == NULL)
        info = &scratch_info;
    op_rng_seed(&m->rng, seed);
    if (max_size == 0) {
        *info = (op_mut_info){ OP_MUT_RAW, -1, -1 };
        return 0;
    }
    bool structured = size == 0 || data[0] == OP_FORMAT_VERSION;
    for (int attempt = 0; structured && attempt < OP_MUT_ATTEMPTS; attempt++) {
        op_mut_kind k = kind == OP_MUT_ANY ? op_pick_kind(&m->rng) : kind;
        if (k == OP_MUT_RAW)
            break;
        op_decode(data, size, &m->prog);
        m->prog.version = OP_FORMAT_VERSION; /* the empty input grows into a program */
        m->arena_used = 0;
        *info = (op_mut_info){ k, -1, -1 };
        if (!op_apply(m, k, max_size, info))
            continue;
        size_t n = op_encode(&m->prog, NULL, 0);
        if (n > max_size || !op_ensure_scratch(m, n))
            continue;
        op_encode(&m->prog, m->scratch, n);
        if (n == size && memcmp(m->scratch, data, n) == 0)
            continue;
        memcpy(out, m->scratch, n);
        return n;
    }
    *info = (op_mut_info){ OP_MUT_RAW, -1, -1 };
    return op_mutate_raw(m, data, size, out, max_size);
}

/* The child: a[0..i) + b[j..j+k) + a[i2..). Returns its encoded size. */
static size_t op_cross_build(op_mutator *m, size_t i, size_t j, size_t k, size_t i2)
{
    op_program *c = &m->built;
    c->version = OP_FORMAT_VERSION;
    c->count = 0;
    for (size_t x = 0; x < i && c->count < OP_MUT_MAX_STRUCT_OPS; x++)
        c->ops[c->count++] = m->prog.ops[x];
    for (size_t x = j; x < j + k && c->count < OP_MUT_MAX_STRUCT_OPS; x++)
        c->ops[c->count++] = m->other.ops[x];
    for (size_t x = i2; x < m->prog.count && c->count < OP_MUT_MAX_STRUCT_OPS; x++)
        c->ops[c->count++] = m->prog.ops[x];
    return op_encode(c, NULL, 0);
}

size_t op_crossover(op_mutator *m, const uint8_t *a, size_t a_size, const uint8_t *b, size_t b_size, uint8_t *out,
                    size_t max_out, uint32_t seed)
{
    op_rng_seed(&m->rng, seed ^ 0xC0550000u);
    if (max_out == 0)
        return 0;
    op_decode(a, a_size, &m->prog);
    op_decode(b, b_size, &m->other);
    size_t na = m->prog.count, nb = m->other.count;
    for (int attempt = 0; attempt < OP_MUT_ATTEMPTS; attempt++) {
        size_t i = (size_t)op_rng_below(&m->rng, (na < OP_MUT_MAX_STRUCT_OPS ? na : OP_MUT_MAX_STRUCT_OPS) + 1);
        size_t j = (size_t)op_rng_below(&m->rng, nb + 1);
        size_t k = (size_t)op_rng_below(&m->rng, nb - j + 1);
        size_t i2 = op_rng_below(&m->rng, 2) == 0 ? i : i + (size_t)op_rng_below(&m->rng, na - i + 1);
        if (i + k > OP_MUT_MAX_STRUCT_OPS)
            k = OP_MUT_MAX_STRUCT_OPS - i;
        /* shrink the run taken from b until the child fits */
        size_t n = op_cross_build(m, i, j, k, i2);
        while (n > max_out && k > 0)
            n = op_cross_build(m, i, j, --k, i2);
        if (n > max_out || n == 0 || !op_ensure_scratch(m, n))
            continue;
        op_encode(&m->built, m->scratch, n);
        memcpy(out, m->scratch, n);
        return n;
    }
    /* Nothing fitted: the longest prefix of a's operations that does (at least the version byte). */
    size_t i = na < OP_MUT_MAX_STRUCT_OPS ? na : OP_MUT_MAX_STRUCT_OPS;
    size_t n = op_cross_build(m, i, 0, 0, na);
    while (n > max_out && i > 0)
        n = op_cross_build(m, --i, 0, 0, na);
    if (n > max_out || !op_ensure_scratch(m, n))
        return 0;
    op_encode(&m->built, m->scratch, n);
    memcpy(out, m->scratch, n);
    return n;
}

const char *op_mut_kind_name(op_mut_kind kind)
{
    static const char *const names[OP_MUT_KIND_COUNT] = {
        [OP_MUT_ANY] = "any", [OP_MUT_FLAGS] = "flags", [OP_MUT_ENUM] = "enum", [OP_MUT_ALIGN] = "align",
        [OP_MUT_INT] = "int", [OP_MUT_GUID] = "guid", [OP_MUT_BLOB] = "blob", [OP_MUT_NAME] = "name",
        [OP_MUT_LENGTHS] = "lengths", [OP_MUT_REF] = "ref", [OP_MUT_OUT] = "out", [OP_MUT_INSERT] = "insert",
        [OP_MUT_DELETE] = "delete", [OP_MUT_DUPLICATE] = "duplicate", [OP_MUT_SWAP] = "swap",
        [OP_MUT_SPLICE] = "splice", [OP_MUT_RAW] = "raw",
    };
    return kind < OP_MUT_KIND_COUNT ? names[kind] : "?";
}
