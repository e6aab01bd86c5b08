/* test_mutator.c: the structure-aware mutator (fuzz/mutator.h): determinism, MaxSize, canonical and
 * structured output, every field-level kind changing exactly its field (with the values the fuzz axes
 * ask for showing up), program-level kinds, crossover at operation boundaries, 10,000 garbage inputs,
 * the libFuzzer hooks and the AFL++ library loaded with dlopen. */
#include "ktest.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <ks.h>

#include "mutator.h"
#include "op_program.h"

static op_program mt_in, mt_out; /* too big for the stack */
static uint8_t mt_rich[4096];
static size_t mt_rich_size;

static uint64_t mt_rng_state;
static uint32_t mt_rand(void)
{
    mt_rng_state ^= mt_rng_state << 13;
    mt_rng_state ^= mt_rng_state >> 7;
    mt_rng_state ^= mt_rng_state << 17;
    return (uint32_t)(mt_rng_state >> 16);
}

/* ---- A program with every operation (no raw operations) ------------------------------------------ */

static uint8_t mt_name[102], mt_framing[112];

static void mt_put16(uint8_t *p, const char *s)
{
    for (; *s; s++, p += 2) {
        p[0] = (uint8_t)*s;
        p[1] = 0;
    }
}

static size_t mt_build_rich(uint8_t *out, size_t cap)
{
    static op_program p;
    memset(&p, 0, sizeof p);
    mt_put16(mt_name, "{642F5D00-4791-11D0-A5D6-28DB04C10000}\\");
    const uint32_t framing[6] = { 2, 0, 2, 4096, 3, 0 };
    memcpy(mt_name + 78, framing, sizeof framing);
    memset(mt_framing, 0, sizeof mt_framing);
    mt_framing[0] = 1;
    GUID set = op_guid_name_at(0)->guid;
    op_op *o = p.ops;
    p.version = OP_FORMAT_VERSION;
#define MT_OP(CODE, member, ...) (o->code = CODE, o->u.member = (op_args_##member){ __VA_ARGS__ }, o++)
    MT_OP(OP_OPEN_FILTER, open_filter, .device = 0, .out = 0);
    MT_OP(OP_OPEN_PIN, open_pin, .filter = 0, .pin_id = 0, .out = 1);
    MT_OP(OP_CREATE_FRAMING, create_framing, .parent = 1, .options = 2, .frames = 2, .frame_size = 4096,
          .alignment = 3, .mode = 0xFF, .irql = 0xFF, .out = 2);
    MT_OP(OP_CREATE_RAW, create_raw, .parent = 1, .name = { mt_name, 102 }, .length = 102, .max_length = 102,
          .mode = 0xFF, .irql = 0xFF, .out = 3);
    MT_OP(OP_CREATE_DEFAULT_EX, create_default_ex, .parent = 1, .callbacks = 0x1E, .options = 2, .frames = 2,
          .frame_size = 256, .alignment = 7, .mode = 0xFF, .irql = 0xFF, .out = 4);
    MT_OP(OP_FRAMING_EX, framing_ex, .framing = { mt_framing, 112 }, .buffer_size = 112, .irql = 0xFF);
    MT_OP(OP_IOCTL, ioctl, .target = 2, .code = 0x2F0003, .set = set, .id = 1, .flags = 1, .in_size = 24,
          .out_size = 32, .frame = 0xFF, .mode = 0xFF, .irql = 0xFF, .out = 5);
    MT_OP(OP_PROP_STATUS, prop_status, .target = 2, .out_size = 32, .mode = 0xFF, .irql = 0xFF);
    MT_OP(OP_PROP_FUNCTIONTABLE, prop_functiontable, .target = 2, .out_size = 16, .mode = 0xFF, .irql = 0xFF);
    MT_OP(OP_METHOD_ALLOC, method_alloc, .target = 2, .out_size = 8, .mode = 0xFF, .irql = 0xFF, .out = 0);
    MT_OP(OP_METHOD_FREE, method_free, .target = 2, .frame = 0, .out_size = 8, .mode = 0xFF, .irql = 0xFF);
    MT_OP(OP_FN_ALLOC, fn_alloc, .target = 2, .irql = 2, .out = 1);
    MT_OP(OP_FN_FREE, fn_free, .target = 2, .frame = 1, .irql = 2);
    MT_OP(OP_EVENT_ENABLE, event_enable, .target = 2, .event_id = 1, .flags = 1, .notify = 1, .mode = 0xFF,
          .irql = 0xFF, .out = 0);
    MT_OP(OP_EVENT_DISABLE, event_disable, .target = 2, .event = 0, .mode = 0xFF, .irql = 0xFF);
    MT_OP(OP_FAULT, fault, .nth = 1, .site = { (const uint8_t *)"Ksal", 4 });
    MT_OP(OP_SET_IRQL, set_irql, .irql = 0);
    MT_OP(OP_SET_MODE, set_mode, .mode = 1);
    MT_OP(OP_VALIDATE_IRP, validate_irp, .name = { mt_name, 102 }, .length = 102, .max_length = 102, .irql = 0xFF);
    MT_OP(OP_NULL_ARGS, null_args, .ddi = 0, .null = 2, .irql = 0xFF);
    MT_OP(OP_CLOSE, close, .handle = 2, .mode = 0xFF);
#undef MT_OP
    p.count = (size_t)(o - p.ops);
    return op_encode(&p, out, cap);
}

static void mt_setup(void)
{
    mt_rich_size = mt_build_rich(mt_rich, sizeof mt_rich);
    mt_rng_state = 0x9E3779B97F4A7C15ull;
}

/* ---- Field access, independent of the mutator's own helpers --------------------------------------- */

static const op_field_info *mt_field(const op_op *op, int fi) { return &op_info_get((unsigned)op->code)->fields[fi]; }

static bool mt_field_equal(const op_op *a, const op_op *b, const op_field_info *f)
{
    const unsigned char *pa = (const unsigned char *)&a->u + f->offset, *pb = (const unsigned char *)&b->u + f->offset;
    switch (f->type) {
    case OP_T_BYTES: {
        op_bytes x, y;
        memcpy(&x, pa, sizeof x);
        memcpy(&y, pb, sizeof y);
        return x.len == y.len && (x.len == 0 || memcmp(x.data, y.data, x.len) == 0);
    }
    case OP_T_GUID: return memcmp(pa, pb, sizeof(GUID)) == 0;
    case OP_T_U16: return memcmp(pa, pb, 2) == 0;
    case OP_T_U32: return memcmp(pa, pb, 4) == 0;
    case OP_T_U64: return memcmp(pa, pb, 8) == 0;
    default: return *pa == *pb;
    }
}

static uint64_t mt_get(const op_op *op, const char *name)
{
    const op_info *info = op_info_get((unsigned)op->code);
    for (size_t i = 0; i < info->field_count; i++)
        if (strcmp(info->fields[i].name, name) == 0) {
            const unsigned char *p = (const unsigned char *)&op->u + info->fields[i].offset;
            uint64_t v = 0;
            switch (info->fields[i].type) {
            case OP_T_U16: { uint16_t x; memcpy(&x, p, 2); v = x; break; }
            case OP_T_U32: { uint32_t x; memcpy(&x, p, 4); v = x; break; }
            case OP_T_U64: memcpy(&v, p, 8); break;
            default: v = *p; break;
            }
            return v;
        }
    return ~0ull;
}

static uint64_t mt_get_fi(const op_op *op, int fi)
{
    return mt_get(op, mt_field(op, fi)->name);
}

static bool mt_op_equal(const op_op *a, const op_op *b)
{
    if (a->code != b->code)
        return false;
    if (a->code == OP_RAW)
        return a->u.raw.len == b->u.raw.len && memcmp(a->u.raw.data, b->u.raw.data, a->u.raw.len) == 0;
    const op_info *info = op_info_get((unsigned)a->code);
    for (size_t i = 0; i < info->field_count; i++)
        if (!mt_field_equal(a, b, &info->fields[i]))
            return false;
    return true;
}

static size_t mt_raw_ops(const op_program *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->count; i++)
        n += p->ops[i].code == OP_RAW;
    return n;
}

/* ---- Determinism, bounds, canonical output --------------------------------------------------------- */

KTEST(mutator, same_seed_gives_same_output)
{
    mt_setup();
    op_mutator *m1 = op_mutator_new(), *m2 = op_mutator_new();
    ASSERT_TRUE(m1 != NULL && m2 != NULL);
    static uint8_t a[4096], b[4096], other[4096];
    size_t differ = 0;
    for (uint32_t seed = 0; seed < 1000; seed++) {
        size_t na = op_mutate(m1, mt_rich, mt_rich_size, a, sizeof a, seed, OP_MUT_ANY, NULL);
        /* m2 first does unrelated work: no state may leak from one call into the next */
        op_mutate(m2, mt_rich, mt_rich_size, other, sizeof other, seed + 7777, OP_MUT_ANY, NULL);
        size_t nb = op_mutate(m2, mt_rich, mt_rich_size, b, sizeof b, seed, OP_MUT_ANY, NULL);
        EXPECT_EQ(na, nb);
        if (na == nb && memcmp(a, b, na) != 0)
            ktest_fail_at(__FILE__, __LINE__, "seed %u: same seed, different bytes", seed);
        differ += na != mt_rich_size || memcmp(a, mt_rich, na) != 0;
    }
    EXPECT_EQ(differ, 1000); /* every call changed the input */
    /* and different seeds give different mutations */
    size_t n0 = op_mutate(m1, mt_rich, mt_rich_size, a, sizeof a, 1, OP_MUT_ANY, NULL);
    size_t distinct = 0;
    for (uint32_t seed = 2; seed < 50; seed++) {
        size_t n = op_mutate(m1, mt_rich, mt_rich_size, b, sizeof b, seed, OP_MUT_ANY, NULL);
        distinct += n != n0 || memcmp(a, b, n) != 0;
    }
    EXPECT_TRUE(distinct >= 45);
    /* crossover too */
    size_t c1 = op_crossover(m1, mt_rich, mt_rich_size, a, n0, b, sizeof b, 99);
    size_t c2 = op_crossover(m2, mt_rich, mt_rich_size, a, n0, other, sizeof other, 99);
    EXPECT_EQ(c1, c2);
    EXPECT_TRUE(c1 == c2 && memcmp(b, other, c1) == 0);
    op_mutator_free(m1);
    op_mutator_free(m2);
}

KTEST(mutator, output_never_exceeds_max_size)
{
    mt_setup();
    op_mutator *m = op_mutator_new();
    ASSERT_TRUE(m != NULL);
    const size_t caps[] = { 1, 2, 3, 8, 30, 64, 100, mt_rich_size - 1, mt_rich_size, mt_rich_size + 40, 4096 };
    size_t grew = 0;
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        for (uint32_t seed = 0; seed < 300; seed++) {
            size_t in = mt_rich_size < caps[c] ? mt_rich_size : caps[c]; /* libFuzzer: Size <= MaxSize */
            uint8_t *out = malloc(caps[c]); /* exact size: ASan sees a write past MaxSize */
            ASSERT_TRUE(out != NULL);
            size_t n = op_mutate(m, mt_rich, in, out, caps[c], seed, OP_MUT_ANY, NULL);
            EXPECT_TRUE(n >= 1 && n <= caps[c]);
            grew += n > in;
            free(out);
        }
    }
    EXPECT_TRUE(grew > 0);
    uint8_t none[1] = { 0xAA };
    EXPECT_EQ(op_mutate(m, mt_rich, mt_rich_size, none, 0, 1, OP_MUT_ANY, NULL), 0);
    EXPECT_EQ(none[0], 0xAA);
    op_mutator_free(m);
}

/* In-place use (libFuzzer's): out == data, the result still correct. */
KTEST(mutator, in_place_matches_out_of_place)
{
    mt_setup();
    op_mutator *m = op_mutator_new();
    ASSERT_TRUE(m != NULL);
    static uint8_t buf[4096], ref[4096];
    for (uint32_t seed = 0; seed < 500; seed++) {
        size_t nr = op_mutate(m, mt_rich, mt_rich_size, ref, sizeof ref, seed, OP_MUT_ANY, NULL);
        memcpy(buf, mt_rich, mt_rich_size);
        size_t nb = op_mutate(m, buf, mt_rich_size, buf, sizeof buf, seed, OP_MUT_ANY, NULL);
        EXPECT_EQ(nr, nb);
        if (nr == nb && memcmp(ref, buf, nr) != 0)
            ktest_fail_at(__FILE__, __LINE__, "seed %u: in-place result differs", seed);
    }
    op_mutator_free(m);
}

KTEST(mutator, output_is_canonical_and_keeps_the_structure)
{
    mt_setup();
    op_mutator *m = op_mutator_new();
    ASSERT_TRUE(m != NULL);
    static uint8_t out[8192], again[8192];
    size_t kinds[OP_MUT_KIND_COUNT] = { 0 };
    op_decode(mt_rich, mt_rich_size, &mt_in);
    ASSERT_TRUE(mt_raw_ops(&mt_in) == 0);
    for (uint32_t seed = 0; seed < 5000; seed++) {
        op_mut_info info;
        size_t n = op_mutate(m, mt_rich, mt_rich_size, out, sizeof out, seed, OP_MUT_ANY, &info);
        kinds[info.kind]++;
        op_decode(out, n, &mt_out);
        size_t again_n = op_encode(&mt_out, again, sizeof again);
        EXPECT_EQ(again_n, n);
        if (again_n == n && memcmp(again, out, n) != 0)
            ktest_fail_at(__FILE__, __LINE__, "seed %u: re-encoding differs", seed);
        if (info.kind == OP_MUT_RAW)
            continue;
        /* a structured mutation of a program without raw bytes yields one without raw bytes */
        if (mt_raw_ops(&mt_out) != 0)
            ktest_fail_at(__FILE__, __LINE__, "seed %u: kind %s produced raw bytes", seed, op_mut_kind_name(info.kind));
        long d = (long)mt_out.count - (long)mt_in.count;
        switch (info.kind) {
        case OP_MUT_INSERT: case OP_MUT_DUPLICATE: EXPECT_EQ(d, 1); break;
        case OP_MUT_DELETE: EXPECT_EQ(d, -1); break;
        case OP_MUT_SPLICE: EXPECT_TRUE(d >= 1 && d <= 8); break;
        default: EXPECT_EQ(d, 0); break;
        }
    }
    /* every kind is used, and the raw path is a minority (~10%) */
    for (int k = OP_MUT_FLAGS; k < OP_MUT_KIND_COUNT; k++)
        if (kinds[k] == 0)
            ktest_fail_at(__FILE__, __LINE__, "kind %s never chosen", op_mut_kind_name((op_mut_kind)k));
    EXPECT_TRUE(kinds[OP_MUT_RAW] >= 250 && kinds[OP_MUT_RAW] <= 800);
    op_mutator_free(m);
}

/* ---- Each field-level kind changes the field it names, and only that ------------------------------ */

typedef struct mt_seen {
    bool mask, non_mask_small, above_fff;  /* align */
    bool bit31, unknown_bit, known_union;  /* flags */
    bool boundary_24, page, all_ones;      /* int */
    bool table_guid, off_guid;             /* guid */
    bool shorter, longer, zero_unit;       /* blob */
    bool lower_prefix, leading_bs, no_sep, doubled_sep, other_class, framing_field; /* name */
    bool max_lt_len, odd_max;              /* lengths */
    bool closed, bogus, null, producer;    /* ref */
} mt_seen;

static bool mt_is_table_guid(const GUID *g)
{
    for (size_t i = 0; i < op_guid_name_count(); i++)
        if (memcmp(&op_guid_name_at(i)->guid, g, sizeof *g) == 0)
            return true;
    return false;
}

static bool mt_name_starts(const op_bytes *b, const char *ascii)
{
    size_t n = strlen(ascii);
    if (b->len < 2 * n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (b->data[2 * i] != (uint8_t)ascii[i] || b->data[2 * i + 1] != 0)
            return false;
    return true;
}

static void mt_observe(op_mut_kind kind, const op_op *before, const op_op *after, int fi, mt_seen *s)
{
    const op_field_info *f = mt_field(after, fi);
    const unsigned char *pa = (const unsigned char *)&after->u + f->offset;
    uint64_t v = f->type == OP_T_GUID || f->type == OP_T_BYTES ? 0 : mt_get_fi(after, fi);
    uint64_t old = f->type == OP_T_GUID || f->type == OP_T_BYTES ? 0 : mt_get_fi(before, fi);
    switch (kind) {
    case OP_MUT_ALIGN:
        s->mask |= (v & (v + 1)) == 0 && v <= 0xFFF;
        s->non_mask_small |= (v & (v + 1)) != 0 && v <= 0xFFF;
        s->above_fff |= v > 0xFFF;
        break;
    case OP_MUT_FLAGS:
        s->bit31 |= f->type == OP_T_U32 && (v & 0x80000000u) && !(old & 0x80000000u);
        s->unknown_bit |= f->cls == OP_C_allocflags && (v & ~(uint64_t)0x8000001F) != 0;
        s->known_union |= __builtin_popcountll(v) >= 2 && (v & ~(uint64_t)0x1F) == 0;
        break;
    case OP_MUT_INT:
        s->boundary_24 |= v == 24 || v == 23 || v == 25 || v == 26;
        s->page |= v == 4096 || v == 4095;
        s->all_ones |= f->type == OP_T_U32 && v == 0xFFFFFFFF;
        break;
    case OP_MUT_GUID: {
        GUID g;
        memcpy(&g, pa, sizeof g);
        bool table = mt_is_table_guid(&g);
        s->table_guid |= table;
        s->off_guid |= !table;
        break;
    }
    case OP_MUT_BLOB: {
        op_bytes x, y;
        memcpy(&x, (const unsigned char *)&before->u + f->offset, sizeof x);
        memcpy(&y, pa, sizeof y);
        s->shorter |= y.len < x.len;
        s->longer |= y.len > x.len;
        s->zero_unit |= y.len == x.len + 2;
        break;
    }
    case OP_MUT_NAME: {
        op_bytes y;
        memcpy(&y, pa, sizeof y);
        s->lower_prefix |= mt_name_starts(&y, "{642f5d00-4791-11d0-a5d6-28db04c10000}");
        s->leading_bs |= mt_name_starts(&y, "\\{642F5D00-4791-11D0-A5D6-28DB04C10000}\\");
        s->no_sep |= mt_name_starts(&y, "{642F5D00-4791-11D0-A5D6-28DB04C10000}") && y.len >= 78 &&
                     !(y.data[76] == '\\' && y.data[77] == 0);
        s->doubled_sep |= mt_name_starts(&y, "{642F5D00-4791-11D0-A5D6-28DB04C10000}\\\\");
        s->other_class |= mt_name_starts(&y, "{146F1A80-4791-11D0-A5D6-28DB04C10000}") ||
                          mt_name_starts(&y, "{091BB63B-603F-11D1-B067-00A0C9062802}");
        s->framing_field |= mt_name_starts(&y, "{642F5D00-4791-11D0-A5D6-28DB04C10000}\\") && y.len == 102 &&
                            memcmp(y.data + 78, mt_name + 78, 24) != 0;
        break;
    }
    case OP_MUT_LENGTHS: {
        uint64_t l = mt_get(after, "length"), mx = mt_get(after, "max_length");
        s->max_lt_len |= mx < l;
        s->odd_max |= mx % 2 == 1;
        break;
    }
    case OP_MUT_REF:
        s->closed |= v == OP_REF_CLOSED;
        s->bogus |= v == OP_REF_BOGUS;
        s->null |= v == OP_REF_NULL;
        s->producer |= v < OP_SLOT_COUNT;
        break;
    default: break;
    }
}

static void mt_check_kind(op_mut_kind kind, mt_seen *seen)
{
    mt_setup();
    op_mutator *m = op_mutator_new();
    ASSERT_TRUE(m != NULL);
    static uint8_t out[8192];
    op_decode(mt_rich, mt_rich_size, &mt_in);
    for (uint32_t seed = 0; seed < 600; seed++) {
        op_mut_info info;
        size_t n = op_mutate(m, mt_rich, mt_rich_size, out, sizeof out, seed, kind, &info);
        if (info.kind != kind) {
            ktest_fail_at(__FILE__, __LINE__, "seed %u: asked for %s, got %s", seed, op_mut_kind_name(kind),
                          op_mut_kind_name(info.kind));
            continue;
        }
        op_decode(out, n, &mt_out);
        ASSERT_TRUE(mt_out.count == mt_in.count);
        ASSERT_TRUE(info.op >= 0 && (size_t)info.op < mt_out.count && info.field >= 0);
        for (size_t i = 0; i < mt_in.count; i++)
            if ((int)i != info.op && !mt_op_equal(&mt_in.ops[i], &mt_out.ops[i]))
                ktest_fail_at(__FILE__, __LINE__, "seed %u: %s changed op %zu, not only op %d", seed,
                              op_mut_kind_name(kind), i, info.op);
        const op_op *a = &mt_in.ops[info.op], *b = &mt_out.ops[info.op];
        const op_info *oi = op_info_get((unsigned)b->code);
        const op_field_info *f = &oi->fields[info.field];
        bool changed = !mt_field_equal(a, b, f);
        if (kind == OP_MUT_LENGTHS) /* the pair: one of them at least */
            changed = mt_get(a, "length") != mt_get(b, "length") || mt_get(a, "max_length") != mt_get(b, "max_length");
        if (!changed)
            ktest_fail_at(__FILE__, __LINE__, "seed %u: %s did not change %s.%s", seed, op_mut_kind_name(kind),
                          oi->name, f->name);
        for (size_t k = 0; k < oi->field_count; k++) {
            const op_field_info *g = &oi->fields[k];
            bool allowed = (int)k == info.field ||
                           ((kind == OP_MUT_NAME || kind == OP_MUT_LENGTHS) &&
                            (strcmp(g->name, "length") == 0 || strcmp(g->name, "max_length") == 0));
            if (!allowed && !mt_field_equal(a, b, g))
                ktest_fail_at(__FILE__, __LINE__, "seed %u: %s also changed %s.%s", seed, op_mut_kind_name(kind),
                              oi->name, g->name);
        }
        /* the field is of the kind's type/class */
        op_class_kind ck = op_class_kind_of(f->cls);
        switch (kind) {
        case OP_MUT_FLAGS: EXPECT_TRUE(ck == OP_K_FLAGS || ck == OP_K_REQFLAGS); break;
        case OP_MUT_ENUM: EXPECT_TRUE(ck == OP_K_ENUM && f->cls != OP_C_align && f->type != OP_T_GUID); break;
        case OP_MUT_ALIGN: EXPECT_TRUE(f->cls == OP_C_align); break;
        case OP_MUT_INT: EXPECT_TRUE((ck == OP_K_DEC || ck == OP_K_HEX) && f->type <= OP_T_U64); break;
        case OP_MUT_GUID: EXPECT_TRUE(f->type == OP_T_GUID); break;
        case OP_MUT_BLOB: EXPECT_TRUE(f->type == OP_T_BYTES); break;
        case OP_MUT_NAME:
            EXPECT_TRUE((b->code == OP_CREATE_RAW || b->code == OP_VALIDATE_IRP) && strcmp(f->name, "name") == 0);
            break;
        case OP_MUT_LENGTHS: EXPECT_TRUE(b->code == OP_CREATE_RAW || b->code == OP_VALIDATE_IRP); break;
        case OP_MUT_REF: EXPECT_TRUE(f->type == OP_T_HREF || f->type == OP_T_FREF || f->type == OP_T_EREF); break;
        case OP_MUT_OUT: EXPECT_TRUE(f->type == OP_T_HOUT || f->type == OP_T_FOUT || f->type == OP_T_EOUT); break;
        default: break;
        }
        mt_observe(kind, a, b, info.field, seen);
    }
    op_mutator_free(m);
}

KTEST(mutator, align_covers_masks_non_masks_and_large)
{
    mt_seen s = { 0 };
    mt_check_kind(OP_MUT_ALIGN, &s);
    EXPECT_TRUE(s.mask);
    EXPECT_TRUE(s.non_mask_small); /* CVE-2024-38245: not 2^n-1 but <= 0xFFF */
    EXPECT_TRUE(s.above_fff);
}

KTEST(mutator, flags_sets_bit31_unknown_bits_and_unions)
{
    mt_seen s = { 0 };
    mt_check_kind(OP_MUT_FLAGS, &s);
    EXPECT_TRUE(s.bit31);
    EXPECT_TRUE(s.unknown_bit);
    EXPECT_TRUE(s.known_union);
}

KTEST(mutator, enum_changes_enum_fields)
{
    mt_seen s = { 0 };
    mt_check_kind(OP_MUT_ENUM, &s);
}

KTEST(mutator, int_reaches_boundaries)
{
    mt_seen s = { 0 };
    mt_check_kind(OP_MUT_INT, &s);
    EXPECT_TRUE(s.boundary_24);
    EXPECT_TRUE(s.page);
    EXPECT_TRUE(s.all_ones);
}

KTEST(mutator, guid_swaps_and_flips)
{
    mt_seen s = { 0 };
    mt_check_kind(OP_MUT_GUID, &s);
    EXPECT_TRUE(s.table_guid);
    EXPECT_TRUE(s.off_guid);
}

KTEST(mutator, blob_truncates_extends_inserts)
{
    mt_seen s = { 0 };
    mt_check_kind(OP_MUT_BLOB, &s);
    EXPECT_TRUE(s.shorter);
    EXPECT_TRUE(s.longer);
    EXPECT_TRUE(s.zero_unit);
}

KTEST(mutator, name_prefix_separator_and_framing_variants)
{
    mt_seen s = { 0 };
    mt_check_kind(OP_MUT_NAME, &s);
    EXPECT_TRUE(s.lower_prefix);
    EXPECT_TRUE(s.leading_bs);
    EXPECT_TRUE(s.no_sep);
    EXPECT_TRUE(s.doubled_sep);
    EXPECT_TRUE(s.other_class);
    EXPECT_TRUE(s.framing_field);
}

/* A create_raw name of 0 to 3 bytes (no class string, no separator): every name mutation reads only
 * bytes it has. The campaign's MSan run found the one-byte prefix toggle reading an unset byte, which
 * only the unit-msan suite can see; everywhere the output must stay a decodable create_raw. */
KTEST(mutator, name_variants_of_names_shorter_than_a_code_unit_pair)
{
    static op_program p;
    static uint8_t in[256], out[8192];
    static const uint8_t bytes[3] = { '{', 0, 'x' };
    op_mutator *m = op_mutator_new();
    ASSERT_TRUE(m != NULL);
    for (size_t len = 0; len <= 3; len++) {
        memset(&p, 0, sizeof p);
        p.version = OP_FORMAT_VERSION;
        p.count = 1;
        p.ops[0].code = OP_CREATE_RAW;
        p.ops[0].u.create_raw = (op_args_create_raw){ .parent = 1, .name = { bytes, len }, .length = (uint16_t)len,
                                                      .max_length = (uint16_t)len, .mode = 0xFF, .irql = 0xFF };
        size_t n_in = op_encode(&p, in, sizeof in);
        ASSERT_TRUE(n_in > 0);
        for (uint32_t seed = 0; seed < 2000; seed++) {
            op_mut_info info;
            size_t n = op_mutate(m, in, n_in, out, sizeof out, seed, OP_MUT_NAME, &info);
            EXPECT_TRUE(info.kind == OP_MUT_NAME);
            op_decode(out, n, &mt_out);
            EXPECT_TRUE(mt_out.count == 1 && mt_out.ops[0].code == OP_CREATE_RAW);
        }
    }
    op_mutator_free(m);
}

KTEST(mutator, lengths_skew)
{
    mt_seen s = { 0 };
    mt_check_kind(OP_MUT_LENGTHS, &s);
    EXPECT_TRUE(s.max_lt_len);
    EXPECT_TRUE(s.odd_max);
}

KTEST(mutator, ref_retargets_to_slots_and_reserved_values)
{
    mt_seen s = { 0 };
    mt_check_kind(OP_MUT_REF, &s);
    EXPECT_TRUE(s.closed);
    EXPECT_TRUE(s.bogus);
    EXPECT_TRUE(s.null);
    EXPECT_TRUE(s.producer);
}

KTEST(mutator, out_retargets_result_slots)
{
    mt_seen s = { 0 };
    mt_check_kind(OP_MUT_OUT, &s);
}

/* ---- Program-level kinds -------------------------------------------------------------------------- */

static bool mt_in_input(const op_op *op)
{
    for (size_t i = 0; i < mt_in.count; i++)
        if (mt_op_equal(op, &mt_in.ops[i]))
            return true;
    return false;
}

KTEST(mutator, program_level_kinds)
{
    mt_setup();
    op_mutator *m = op_mutator_new();
    ASSERT_TRUE(m != NULL);
    static uint8_t out[8192];
    op_decode(mt_rich, mt_rich_size, &mt_in);
    bool inserted_fresh = false;
    for (uint32_t seed = 0; seed < 300; seed++) {
        op_mut_info info;
        for (int k = OP_MUT_INSERT; k <= OP_MUT_SPLICE; k++) {
            size_t n = op_mutate(m, mt_rich, mt_rich_size, out, sizeof out, seed, (op_mut_kind)k, &info);
            ASSERT_TRUE(info.kind == (op_mut_kind)k);
            op_decode(out, n, &mt_out);
            EXPECT_EQ(mt_raw_ops(&mt_out), 0);
            size_t at = (size_t)info.op;
            switch (k) {
            case OP_MUT_INSERT:
                ASSERT_TRUE(mt_out.count == mt_in.count + 1);
                EXPECT_TRUE(op_info_get((unsigned)mt_out.ops[at].code) != NULL);
                inserted_fresh |= !mt_in_input(&mt_out.ops[at]);
                for (size_t i = 0; i < mt_in.count; i++) /* everything else is kept, in order */
                    EXPECT_TRUE(mt_op_equal(&mt_in.ops[i], &mt_out.ops[i < at ? i : i + 1]));
                break;
            case OP_MUT_DELETE:
                ASSERT_TRUE(mt_out.count + 1 == mt_in.count);
                for (size_t i = 0; i < mt_out.count; i++)
                    EXPECT_TRUE(mt_op_equal(&mt_out.ops[i], &mt_in.ops[i < at ? i : i + 1]));
                break;
            case OP_MUT_DUPLICATE:
                ASSERT_TRUE(mt_out.count == mt_in.count + 1);
                EXPECT_TRUE(mt_in_input(&mt_out.ops[at]));
                for (size_t i = 0; i < mt_in.count; i++)
                    EXPECT_TRUE(mt_op_equal(&mt_in.ops[i], &mt_out.ops[i < at ? i : i + 1]));
                break;
            case OP_MUT_SWAP:
                ASSERT_TRUE(mt_out.count == mt_in.count);
                EXPECT_TRUE(mt_op_equal(&mt_out.ops[at], &mt_in.ops[at + 1]));
                EXPECT_TRUE(mt_op_equal(&mt_out.ops[at + 1], &mt_in.ops[at]));
                break;
            default: /* splice: a copied run; every operation is one of the input's */
                ASSERT_TRUE(mt_out.count > mt_in.count);
                for (size_t i = 0; i < mt_out.count; i++)
                    EXPECT_TRUE(mt_in_input(&mt_out.ops[i]));
                break;
            }
        }
    }
    EXPECT_TRUE(inserted_fresh);
    /* The empty input grows into a program; another version's body can be turned into version 1. */
    op_mut_info info;
    size_t n = op_mutate(m, NULL, 0, out, sizeof out, 5, OP_MUT_INSERT, &info);
    EXPECT_EQ(info.kind, OP_MUT_INSERT);
    op_decode(out, n, &mt_out);
    EXPECT_EQ(mt_out.version, OP_FORMAT_VERSION);
    EXPECT_EQ(mt_out.count, 1);
    op_mutator_free(m);
}

/* The template's create name: the class string, a backslash, 24 framing bytes, Length = MaximumLength = 102. */
static void mt_expect_well_formed_name(op_bytes name, uint16_t length, uint16_t max_length)
{
    EXPECT_EQ(name.len, 102);
    EXPECT_TRUE(mt_name_starts(&name, "{642F5D00-4791-11D0-A5D6-28DB04C10000}\\"));
    EXPECT_EQ(length, 102);
    EXPECT_EQ(max_length, 102);
}

/* Inserted operations come from templates: a create_raw or validate_irp gets the well-formed allocator
 * name, a null_args a NULL argument its DDI has. */
KTEST(mutator, insert_templates_are_well_formed)
{
    mt_setup();
    op_mutator *m = op_mutator_new();
    ASSERT_TRUE(m != NULL);
    static uint8_t out[8192];
    uint8_t prog[] = { OP_FORMAT_VERSION, OP_OPEN_FILTER, 0, 0, OP_OPEN_PIN, 0, 0, 0, 0, 0, 1 };
    bool saw_raw = false, saw_framing = false, saw_validate = false, saw_null = false;
    for (uint32_t seed = 0; seed < 400; seed++) {
        op_mut_info info;
        size_t n = op_mutate(m, prog, sizeof prog, out, sizeof out, seed, OP_MUT_INSERT, &info);
        op_decode(out, n, &mt_out);
        ASSERT_TRUE(info.op >= 0 && (size_t)info.op < mt_out.count);
        const op_op *op = &mt_out.ops[info.op];
        if (op->code == OP_CREATE_RAW) {
            saw_raw = true;
            mt_expect_well_formed_name(op->u.create_raw.name, op->u.create_raw.length, op->u.create_raw.max_length);
        }
        if (op->code == OP_VALIDATE_IRP) {
            saw_validate = true;
            mt_expect_well_formed_name(op->u.validate_irp.name, op->u.validate_irp.length,
                                       op->u.validate_irp.max_length);
        }
        if (op->code == OP_NULL_ARGS) {
            saw_null = true;
            EXPECT_EQ(op->u.null_args.ddi, 0);  /* KsCreateAllocator */
            EXPECT_EQ(op->u.null_args.null, 2); /* FRAMING */
        }
        if (op->code == OP_CREATE_FRAMING && info.op >= 2) {
            saw_framing = true;
            EXPECT_EQ(op->u.create_framing.parent, 1); /* the pin opened before it */
            EXPECT_EQ(op->u.create_framing.frame_size, 4096);
            EXPECT_TRUE(op->u.create_framing.out >= 2); /* a fresh handle slot */
        }
    }
    EXPECT_TRUE(saw_raw);
    EXPECT_TRUE(saw_framing);
    EXPECT_TRUE(saw_validate);
    EXPECT_TRUE(saw_null);
    op_mutator_free(m);
}

/* ---- Crossover ------------------------------------------------------------------------------------- */

KTEST(mutator, crossover_keeps_operation_boundaries)
{
    mt_setup();
    op_mutator *m = op_mutator_new();
    ASSERT_TRUE(m != NULL);
    /* b: 20 fault operations with nth 100..119, none of which occur in a */
    static uint8_t b[512], out[8192];
    size_t bn = 0;
    b[bn++] = OP_FORMAT_VERSION;
    for (uint32_t i = 0; i < 20; i++) {
        uint8_t rec[11] = { OP_FAULT, (uint8_t)(100 + i), 0, 0, 0, 0, 0, 0, 0, 0, 0 };
        memcpy(b + bn, rec, sizeof rec);
        bn += sizeof rec;
    }
    static op_program pb;
    op_decode(mt_rich, mt_rich_size, &mt_in);
    op_decode(b, bn, &pb);
    ASSERT_TRUE(pb.count == 20 && mt_raw_ops(&pb) == 0);
    const size_t caps[] = { 1, 12, 40, 200, 8192 };
    size_t mixed = 0;
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++)
        for (uint32_t seed = 0; seed < 400; seed++) {
            size_t n = op_crossover(m, mt_rich, mt_rich_size, b, bn, out, caps[c], seed);
            ASSERT_TRUE(n >= 1 && n <= caps[c]);
            op_decode(out, n, &mt_out);
            EXPECT_EQ(mt_raw_ops(&mt_out), 0);
            /* out = a[0..i) + b[j..j+k) + a[i2..) */
            size_t x = 0, i = 0;
            while (x < mt_out.count && i < mt_in.count && mt_op_equal(&mt_out.ops[x], &mt_in.ops[i]))
                x++, i++;
            size_t k = 0, j = 0;
            if (x < mt_out.count && mt_out.ops[x].code == OP_FAULT && mt_out.ops[x].u.fault.nth >= 100) {
                j = mt_out.ops[x].u.fault.nth - 100;
                while (x < mt_out.count && j + k < pb.count && mt_op_equal(&mt_out.ops[x], &pb.ops[j + k]))
                    x++, k++;
            }
            size_t rest = mt_out.count - x;
            bool ok = rest <= mt_in.count;
            for (size_t r = 0; ok && r < rest; r++)
                ok = mt_op_equal(&mt_out.ops[x + r], &mt_in.ops[mt_in.count - rest + r]);
            if (!ok)
                ktest_fail_at(__FILE__, __LINE__, "cap %zu seed %u: child is not prefix(a) + run(b) + suffix(a)",
                              caps[c], seed);
            mixed += k > 0 && (i > 0 || rest > 0);
        }
    EXPECT_TRUE(mixed > 200);
    op_mutator_free(m);
}

/* ---- Garbage never crashes ------------------------------------------------------------------------ */

KTEST(mutator, garbage_inputs_10000)
{
    mt_setup();
    op_mutator *m = op_mutator_new();
    ASSERT_TRUE(m != NULL);
    static uint8_t in[600], other[600];
    for (int iter = 0; iter < 10000; iter++) {
        size_t n = mt_rand() % 400;
        if (iter % 3 == 0 && n > 0) { /* a mutilated real program: most bytes make records */
            n = n < mt_rich_size ? n : mt_rich_size;
            memcpy(in, mt_rich, n);
            for (int f = 0; f < 1 + (int)(mt_rand() % 8); f++)
                in[mt_rand() % n] = (uint8_t)mt_rand();
        } else {
            for (size_t i = 0; i < n; i++)
                in[i] = (uint8_t)mt_rand();
            if (n > 0 && iter % 2 == 0)
                in[0] = OP_FORMAT_VERSION;
        }
        size_t on = mt_rand() % 200;
        for (size_t i = 0; i < on; i++)
            other[i] = (uint8_t)(mt_rand() % 24);
        if (on)
            other[0] = OP_FORMAT_VERSION;
        size_t cap = 1 + mt_rand() % 512;
        if (n > cap)
            n = cap;
        uint8_t *out = malloc(cap);
        ASSERT_TRUE(out != NULL);
        op_mut_kind kind = (op_mut_kind)(mt_rand() % OP_MUT_KIND_COUNT);
        size_t r = op_mutate(m, in, n, out, cap, mt_rand(), kind, NULL);
        EXPECT_TRUE(r >= 1 && r <= cap);
        r = op_crossover(m, in, n, other, on, out, cap, mt_rand());
        EXPECT_TRUE(r >= 1 && r <= cap);
        free(out);
    }
    op_mutator_free(m);
}

/* ---- libFuzzer hooks (fuzz/mutator_libfuzzer.c, linked into km_tests without libFuzzer) ----------- */

size_t LLVMFuzzerCustomMutator(uint8_t *Data, size_t Size, size_t MaxSize, unsigned int Seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *Data1, size_t Size1, const uint8_t *Data2, size_t Size2,
                                 uint8_t *Out, size_t MaxOutSize, unsigned int Seed);

KTEST(mutator, libfuzzer_hooks)
{
    mt_setup();
    static uint8_t a[4096], b[4096];
    for (unsigned seed = 0; seed < 300; seed++) {
        memcpy(a, mt_rich, mt_rich_size);
        memcpy(b, mt_rich, mt_rich_size);
        size_t na = LLVMFuzzerCustomMutator(a, mt_rich_size, sizeof a, seed);
        size_t nb = LLVMFuzzerCustomMutator(b, mt_rich_size, sizeof b, seed);
        EXPECT_TRUE(na >= 1 && na <= sizeof a);
        EXPECT_TRUE(na == nb && memcmp(a, b, na) == 0);
        size_t nc = LLVMFuzzerCustomCrossOver(mt_rich, mt_rich_size, a, na, b, 64, seed);
        EXPECT_TRUE(nc >= 1 && nc <= 64);
    }
}

/* ---- The AFL++ custom mutator library, loaded as afl-fuzz loads it ---------------------------------- */

KTEST(mutator, afl_library_dlopen)
{
#if defined(__has_feature)
#if __has_feature(memory_sanitizer)
    KTEST_SKIP("the AFL library is built without sanitizers; MSan would flag its writes");
#endif
#endif
#ifndef OP_AFL_MUTATOR_PATH
    KTEST_SKIP("afl_op_mutator is not built (cross-compiling)");
#else
    mt_setup();
    void *h = dlopen(OP_AFL_MUTATOR_PATH, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL)
        ktest_fail_at(__FILE__, __LINE__, "dlopen: %s", dlerror());
    ASSERT_TRUE(h != NULL);
    void *(*init)(void *, unsigned) = (void *(*)(void *, unsigned))dlsym(h, "afl_custom_init");
    size_t (*fuzz)(void *, uint8_t *, size_t, uint8_t **, uint8_t *, size_t, size_t) =
        (size_t(*)(void *, uint8_t *, size_t, uint8_t **, uint8_t *, size_t, size_t))dlsym(h, "afl_custom_fuzz");
    size_t (*havoc)(void *, uint8_t *, size_t, uint8_t **, size_t) =
        (size_t(*)(void *, uint8_t *, size_t, uint8_t **, size_t))dlsym(h, "afl_custom_havoc_mutation");
    const char *(*describe)(void *, size_t) = (const char *(*)(void *, size_t))dlsym(h, "afl_custom_describe");
    void (*deinit)(void *) = (void (*)(void *))dlsym(h, "afl_custom_deinit");
    ASSERT_TRUE(init && fuzz && havoc && describe && deinit);
    EXPECT_TRUE(dlsym(h, "op_mutate") == NULL); /* only the afl_custom_* API is exported */

    void *s1 = init(NULL, 1234), *s2 = init(NULL, 1234);
    ASSERT_TRUE(s1 != NULL && s2 != NULL);
    static uint8_t in[4096], add[64], copy[4096];
    memcpy(in, mt_rich, mt_rich_size);
    size_t addn = mt_build_rich(add, 40); /* a short second queue entry (truncated program) */
    addn = addn < 40 ? addn : 40;
    for (int i = 0; i < 2000; i++) {
        size_t max = i % 2 ? 4096 : 50 + (size_t)i % 300;
        uint8_t *o1 = NULL, *o2 = NULL;
        size_t n1 = fuzz(s1, in, mt_rich_size, &o1, add, addn, max);
        ASSERT_TRUE(n1 > 0 && n1 <= max && o1 != NULL);
        memcpy(copy, o1, n1); /* o1 is the state's buffer: the next call reuses it */
        size_t n2 = fuzz(s2, in, mt_rich_size, &o2, add, addn, max);
        EXPECT_TRUE(n1 == n2 && memcmp(copy, o2, n1) == 0);
        EXPECT_TRUE(o1 != in); /* output owned by the mutator */
        const char *d = describe(s1, 20);
        EXPECT_TRUE(d != NULL && strncmp(d, "op-", 3) == 0 && strlen(d) <= 20);
        size_t nh = havoc(s1, copy, n1, &o1, sizeof copy);
        EXPECT_TRUE(nh > 0 && nh <= sizeof copy);
        size_t nh2 = havoc(s2, copy, n1, &o2, sizeof copy);
        EXPECT_TRUE(nh == nh2 && memcmp(o1, o2, nh) == 0);
    }
    deinit(s1);
    deinit(s2);
    dlclose(h);
#endif
}
