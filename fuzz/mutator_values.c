/* mutator_values.c: value generators for typed fields, driven by the value classes of fuzz/ops.def
 * (op_constant_at): flag classes give their known bits, enum classes their constants; alignment and
 * boundary integers follow the fuzz axes of the allocator facts (§4.4, §7, CVE-2024-38245). */
#include <ks.h>

#include "mutator_internal.h"

#define OP_PAGE 0x1000u

static const uint64_t op_interesting[] = {
    0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 23, 24, 25, 26, 31, 32, 40, 63, 64, 100, 101, 102, 103, 104, 111, 112, 113,
    127, 128, 255, 256, 0x3FF, 0x400, OP_PAGE - 1, OP_PAGE, OP_PAGE + 1, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
    0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFE, 0xFFFFFFFF, 0x100000000ull, 0xFFFFFFFFFFFFFFFFull,
};
#define OP_N_INTERESTING (sizeof op_interesting / sizeof op_interesting[0])

static uint64_t op_mask_of(unsigned bits) { return bits >= 64 ? ~0ull : (1ull << bits) - 1; }

/* The OR of the class's constants, and how many constants it has. */
static uint64_t op_class_mask(op_class cls, size_t *count)
{
    uint64_t mask = 0;
    size_t n = 0;
    for (size_t i = 0; i < op_constant_count(); i++) {
        const op_constant *c = op_constant_at(i);
        if (c->cls == cls) {
            mask |= c->value;
            n++;
        }
    }
    if (count)
        *count = n;
    return mask;
}

/* The k-th constant of the class (k < count). */
static uint64_t op_class_value(op_class cls, size_t k)
{
    for (size_t i = 0; i < op_constant_count(); i++) {
        const op_constant *c = op_constant_at(i);
        if (c->cls == cls && k-- == 0)
            return c->value;
    }
    return 0;
}

static int op_random_bit_in(op_rng *r, uint64_t set)
{
    int n = __builtin_popcountll(set);
    if (n == 0)
        return -1;
    int k = (int)op_rng_below(r, (uint64_t)n);
    for (int b = 0; b < 64; b++)
        if (((set >> b) & 1u) && k-- == 0)
            return b;
    return -1;
}

op_class op_reqflags_class(uint32_t ioctl_code)
{
    if (ioctl_code == IOCTL_KS_METHOD)
        return OP_C_methodflags;
    if (ioctl_code == IOCTL_KS_ENABLE_EVENT || ioctl_code == IOCTL_KS_DISABLE_EVENT)
        return OP_C_eventflags;
    return OP_C_propflags;
}

uint64_t op_value_flags(op_rng *r, op_class cls, unsigned bits, uint64_t old)
{
    uint64_t width = op_mask_of(bits);
    size_t count;
    uint64_t known = op_class_mask(cls, &count) & width;
    uint64_t unknown = width & ~known;
    switch (op_rng_below(r, 8)) {
    case 0: case 1: { /* flip one known bit */
        int b = op_random_bit_in(r, known ? known : width);
        return old ^ (1ull << b);
    }
    case 2: { /* a union of known constants */
        uint64_t v = 0;
        for (size_t k = 0; k < count; k++)
            if (op_rng_below(r, 2))
                v |= op_class_value(cls, k);
        return v & width;
    }
    case 3: { /* an unknown bit on top */
        int b = op_random_bit_in(r, unknown ? unknown : width);
        return old | (1ull << b);
    }
    case 4: return old ^ (1ull << (bits - 1)); /* the top bit (0x80000000 for ULONG flags) */
    case 5: return 0;
    case 6: { /* every known bit, sometimes with unknown ones */
        uint64_t v = known;
        if (op_rng_below(r, 2) && unknown)
            v |= 1ull << op_random_bit_in(r, unknown);
        return v;
    }
    default: return old ^ (1ull << op_rng_below(r, bits));
    }
}

/* CTL_CODE(Device, Function, Method, Access) neighbours of an IOCTL code. */
static uint64_t op_ioctl_variant(op_rng *r, uint64_t v)
{
    switch (op_rng_below(r, 5)) {
    case 0: return v ^ (1u + op_rng_below(r, 3));           /* another transfer method */
    case 1: return v ^ ((1u + op_rng_below(r, 3)) << 14);   /* another required access */
    case 2: return v + (op_rng_below(r, 2) ? 4u : (uint64_t)-4); /* function +-1 */
    case 3: return (v & 0xFFFF) | ((uint64_t)op_rng_below(r, 0x40) << 16); /* another device type */
    default: return (v & ~(uint64_t)0x3FFC) | (op_rng_below(r, 0x1000) << 2); /* any function */
    }
}

uint64_t op_value_enum(op_rng *r, op_class cls, unsigned bits, uint64_t old)
{
    size_t count;
    op_class_mask(cls, &count);
    unsigned choices = cls == OP_C_ioctl ? 8 : 7;
    switch (op_rng_below(r, choices)) {
    case 0: case 1: case 2: case 3:
        if (count)
            return op_class_value(cls, (size_t)op_rng_below(r, count));
        return op_rng_below(r, 8);
    case 4: { /* a neighbour of a constant (or of the value) */
        uint64_t base = count && op_rng_below(r, 2) ? op_class_value(cls, (size_t)op_rng_below(r, count)) : old;
        return op_rng_below(r, 2) ? base + 1 : base - 1;
    }
    case 5: return op_interesting[op_rng_below(r, OP_N_INTERESTING)];
    case 6: return op_rng_below(r, 2) ? op_rng_below(r, 64) : op_rng_next(r);
    default: return op_ioctl_variant(r, old);
    }
}

uint64_t op_value_align(op_rng *r, uint64_t old)
{
    static const uint64_t non_masks[] = { 0x2, 0x4, 0x5, 0x6, 0x8, 0xA, 0x10, 0x11, 0x1E, 0x20, 0x30, 0x40,
                                          0xF0, 0x100, 0x101, 0x7FE, 0x800, 0xFF0, 0xFFE };
    static const uint64_t big[] = { 0x1000, 0x1001, 0x1FFF, 0x2000, 0x3FFF, 0xFFFF, 0x10000, 0xFFFFF,
                                    0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF };
    switch (op_rng_below(r, 8)) {
    case 0: case 1: case 2: /* a real mask 2^n-1, n = 0..12 (FILE_*_ALIGNMENT and beyond, up to PAGE_SIZE-1) */
        return (1ull << op_rng_below(r, 13)) - 1;
    case 3: /* known non-masks <= 0xFFF: the CVE-2024-38245 shape */
        return non_masks[op_rng_below(r, sizeof non_masks / sizeof non_masks[0])];
    case 4: { /* any non-mask <= 0xFFF */
        uint64_t v = op_rng_below(r, 0x1000);
        return (v & (v + 1)) == 0 ? v ^ 0x10 : v;
    }
    case 5: /* above PAGE_SIZE-1 */
        return big[op_rng_below(r, sizeof big / sizeof big[0])];
    case 6: return op_rng_below(r, 2) ? (old << 1) | 1 : old >> 1; /* the neighbouring masks */
    default: return op_rng_below(r, 2) ? old + 1 : old - 1;
    }
}

uint64_t op_value_int(op_rng *r, unsigned bits, uint64_t old)
{
    switch (op_rng_below(r, 8)) {
    case 0: case 1: case 2: case 3: return op_interesting[op_rng_below(r, OP_N_INTERESTING)];
    case 4: {
        uint64_t d = 1 + op_rng_below(r, 16);
        return op_rng_below(r, 2) ? old + d : old - d;
    }
    case 5: return old ^ (1ull << op_rng_below(r, bits));
    case 6: return op_rng_below(r, 2) ? op_rng_below(r, 0x2000) : op_rng_next(r);
    default: return op_rng_below(r, 2) ? old * 2 : old / 2 + (op_rng_below(r, 2) ? OP_PAGE : 0);
    }
}

void op_guid_to_bytes(const GUID *g, uint8_t out[16])
{
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(g->Data1 >> (8 * i));
    out[4] = (uint8_t)g->Data2;
    out[5] = (uint8_t)(g->Data2 >> 8);
    out[6] = (uint8_t)g->Data3;
    out[7] = (uint8_t)(g->Data3 >> 8);
    for (int i = 0; i < 8; i++)
        out[8 + i] = g->Data4[i];
}
