/* mutator_name.c: the create_raw name mutation (the allocator create name of facts §2.1: the class
 * string, a '\' separator, then the raw 24-byte KSALLOCATOR_FRAMING) and the per-opcode insertion
 * templates. The name is split into prefix / separator / parameters and one part is replaced by a
 * variant from the create fuzz axes (facts §7): case, leading '\', missing/doubled/other separator,
 * other class strings, one framing field, parameter lengths 0/23/24/25/26/... */
#include <string.h>

#include <ks.h>

#include "mutator_internal.h"

#define OP_CLASS_UNITS 38 /* "{642F5D00-4791-11D0-A5D6-28DB04C10000}" */
#define OP_FRAMING_BYTES 24

static const char op_allocator_class[] = "{642F5D00-4791-11D0-A5D6-28DB04C10000}";
static const char *const op_other_classes[] = {
    "{091BB63B-603F-11D1-B067-00A0C9062802}", /* KSSTRING_AllocatorEx */
    "{146F1A80-4791-11D0-A5D6-28DB04C10000}", /* KSSTRING_Pin */
    "{9B365890-165F-11D0-A195-0020AFD156E4}", /* KSSTRING_Filter */
    "{53172480-4791-11D0-A5D6-28DB04C10000}", /* KSSTRING_Clock */
};

/* A KSALLOCATOR_FRAMING: SYSTEM_MEMORY, NonPagedPool, 2 frames of 4096 bytes, FILE_LONG_ALIGNMENT. */
static const uint32_t op_default_framing[6] = { KSALLOCATOR_OPTIONF_SYSTEM_MEMORY, 0, 2, 4096, FILE_LONG_ALIGNMENT, 0 };

static void op_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t op_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t op_put_utf16(uint8_t *p, const char *ascii)
{
    size_t n = 0;
    for (; ascii[n] != '\0'; n++) {
        p[2 * n] = (uint8_t)ascii[n];
        p[2 * n + 1] = 0;
    }
    return 2 * n;
}

static bool op_is_unit(const uint8_t *p, char c) { return p[0] == (uint8_t)c && p[1] == 0; }

/* The well-formed name (class string, '\', default framing) into p[0..102). */
static size_t op_put_default_name(uint8_t *p)
{
    size_t n = op_put_utf16(p, op_allocator_class);
    n += op_put_utf16(p + n, "\\");
    for (int i = 0; i < 6; i++)
        op_put_u32(p + n + 4 * (size_t)i, op_default_framing[i]);
    return n + OP_FRAMING_BYTES;
}

typedef struct op_name_parts {
    size_t prefix_end, sep_end, len; /* prefix [0, prefix_end), separator [prefix_end, sep_end), params [sep_end, len) */
} op_name_parts;

static op_name_parts op_split_name(const uint8_t *b, size_t len)
{
    op_name_parts p = { len, len, len };
    size_t lead = len >= 2 && op_is_unit(b, '\\') ? 2 : 0;
    for (size_t i = lead; i + 1 < len; i += 2)
        if (op_is_unit(b + i, '\\')) {
            p.prefix_end = i;
            p.sep_end = i + 2;
            if (p.sep_end + 1 < len && op_is_unit(b + p.sep_end, '\\'))
                p.sep_end += 2;
            return p;
        }
    size_t cls = lead + 2 * OP_CLASS_UNITS;
    if (len > cls)
        p.prefix_end = p.sep_end = cls;
    return p;
}

/* A prefix variant into out (room for 2 * 48 bytes); returns its size. */
static size_t op_prefix_variant(op_rng *r, const uint8_t *old, size_t old_len, uint8_t *out)
{
    char s[48];
    memcpy(s, op_allocator_class, sizeof op_allocator_class);
    switch (op_rng_below(r, 9)) {
    case 0: break; /* exact */
    case 1:        /* lower case */
        for (char *c = s; *c; c++)
            if (*c >= 'A' && *c <= 'F')
                *c = (char)(*c - 'A' + 'a');
        break;
    case 2: { /* the current prefix with one letter's case toggled */
        if (old_len < 2 || old_len > 2 * 44)
            break; /* a one-byte prefix has no code unit to toggle (out[1] would be read unset: MSan) */
        memcpy(out, old, old_len);
        for (int tries = 0; tries < 8; tries++) {
            size_t at = (size_t)op_rng_below(r, old_len / 2) * 2;
            uint8_t c = out[at];
            if (out[at + 1] == 0 && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
                out[at] ^= 0x20;
                break;
            }
        }
        return old_len & ~(size_t)1;
    }
    case 3: /* a leading backslash (the old client format) */
        memmove(s + 1, s, sizeof op_allocator_class);
        s[0] = '\\';
        break;
    case 4: memcpy(s, op_other_classes[op_rng_below(r, 4)], sizeof op_allocator_class); break;
    case 5: { /* one hex digit off */
        static const char hex[] = "0123456789ABCDEF";
        size_t at = 1 + (size_t)op_rng_below(r, 36);
        if (s[at] != '-')
            s[at] = hex[(strchr(hex, s[at]) - hex + 1 + (long)op_rng_below(r, 15)) % 16];
        break;
    }
    case 6: s[OP_CLASS_UNITS - 1] = '\0'; break; /* no closing brace */
    case 7: /* no braces */
        memmove(s, s + 1, OP_CLASS_UNITS - 2);
        s[OP_CLASS_UNITS - 2] = '\0';
        break;
    default: s[0] = '\0'; break; /* no class at all */
    }
    return op_put_utf16(out, s);
}

/* Class-driven value for one of the six KSALLOCATOR_FRAMING fields. */
static uint32_t op_framing_value(op_rng *r, unsigned field, uint32_t old)
{
    switch (field) {
    case 0: return (uint32_t)op_value_flags(r, OP_C_allocflags, 32, old);
    case 1: return (uint32_t)op_value_enum(r, OP_C_pool, 32, old);
    case 4: return (uint32_t)op_value_align(r, old);
    default: return (uint32_t)op_value_int(r, 32, old);
    }
}

bool op_mutate_name(op_mutator *m, op_op *op, size_t max_size)
{
    op_rng *r = op_mutator_rng(m);
    const op_info *info = op_info_get((unsigned)op->code);
    const op_field_info *fn = op_field_named(info, "name", NULL);
    const op_field_info *fl = op_field_named(info, "length", NULL);
    const op_field_info *fm = op_field_named(info, "max_length", NULL);
    if (fn == NULL || fl == NULL || fm == NULL)
        return false;
    op_bytes b = op_field_bytes(op, fn);
    static const uint8_t empty[1] = { 0 };
    const uint8_t *old = b.len ? b.data : empty;
    op_name_parts parts = op_split_name(old, b.len);
    size_t limit = max_size < 65535 ? max_size : 65535;

    for (int tries = 0; tries < 16; tries++) {
        uint8_t prefix[96], sep[6], *params;
        size_t prefix_len = parts.prefix_end, sep_len = parts.sep_end - parts.prefix_end;
        size_t params_len = parts.len - parts.sep_end;
        const uint8_t *params_src = old + parts.sep_end;
        if (prefix_len > sizeof prefix)
            prefix_len = 0; /* an overlong prefix is replaced below */
        memcpy(prefix, old, prefix_len);
        memcpy(sep, old + parts.prefix_end, sep_len < sizeof sep ? sep_len : (sep_len = 0));
        unsigned what = (unsigned)op_rng_below(r, 4);
        if (parts.prefix_end > sizeof prefix)
            what = 0;
        size_t new_params_len = params_len;
        if (what == 3) {
            static const size_t sizes[] = { 0, 2, 20, 22, 23, 24, 25, 26, 28, 32, 48, 200 };
            new_params_len = sizes[op_rng_below(r, sizeof sizes / sizeof sizes[0])];
        } else if (what == 2 && params_len < OP_FRAMING_BYTES) {
            new_params_len = OP_FRAMING_BYTES;
        }
        size_t total = 2 * 48 + 4 + new_params_len;
        uint8_t *nb = op_arena_alloc(m, total);
        if (nb == NULL)
            return false;
        switch (what) {
        case 0: prefix_len = op_prefix_variant(r, old, prefix_len, prefix); break;
        case 1: {
            static const char *const seps[] = { "\\", "", "\\\\", "/", "" };
            unsigned k = (unsigned)op_rng_below(r, 5);
            sep_len = op_put_utf16(sep, seps[k]);
            if (k == 4) { /* a NUL code unit */
                sep[0] = sep[1] = 0;
                sep_len = 2;
            }
            break;
        }
        default: break;
        }
        size_t n = 0;
        memcpy(nb + n, prefix, prefix_len);
        n += prefix_len;
        memcpy(nb + n, sep, sep_len);
        n += sep_len;
        params = nb + n;
        /* parameters: the old ones (cut or zero padded), or the default framing when there were none */
        size_t copy = params_len < new_params_len ? params_len : new_params_len;
        memcpy(params, params_src, copy);
        for (size_t i = copy; i < new_params_len; i++)
            params[i] = params_len == 0 && i < OP_FRAMING_BYTES ? (uint8_t)(op_default_framing[i / 4] >> (8 * (i % 4))) : 0;
        if (what == 2) {
            unsigned field = (unsigned)op_rng_below(r, 6);
            op_put_u32(params + 4 * field, op_framing_value(r, field, op_get_u32(params + 4 * field)));
        }
        n += new_params_len;
        if (n > limit)
            continue;
        if (n == b.len && memcmp(nb, old, n) == 0)
            continue;
        op_field_set_bytes(op, fn, nb, n);
        /* Usually keep UNICODE_STRING coherent with the new name; sometimes leave Length/MaximumLength */
        switch (op_rng_below(r, 5)) {
        case 0: case 1: case 2: op_field_set(op, fl, n); op_field_set(op, fm, n); break;
        case 3: op_field_set(op, fl, n); op_field_set(op, fm, n + 2); break;
        default: break;
        }
        return true;
    }
    return false;
}

void op_template_specifics(op_mutator *m, op_op *op, const op_info *info)
{
    const op_field_info *f;
#define OP_SET(name, value) \
    do { \
        if ((f = op_field_named(info, name, NULL)) != NULL) \
            op_field_set(op, f, (value)); \
    } while (0)
    switch (op->code) {
    case OP_CREATE_FRAMING:
    case OP_CREATE_DEFAULT_EX:
        OP_SET("options", KSALLOCATOR_OPTIONF_SYSTEM_MEMORY);
        OP_SET("frames", 2);
        OP_SET("frame_size", op->code == OP_CREATE_FRAMING ? 4096 : 256);
        OP_SET("alignment", FILE_LONG_ALIGNMENT);
        OP_SET("callbacks", 0x1E); /* ALLOCATE|FREE|INITIALIZE|DELETE */
        break;
    case OP_CREATE_RAW:
    case OP_VALIDATE_IRP: {
        uint8_t *name = op_arena_alloc(m, 2 * OP_CLASS_UNITS + 2 + OP_FRAMING_BYTES);
        if (name != NULL && (f = op_field_named(info, "name", NULL)) != NULL) {
            size_t n = op_put_default_name(name);
            op_field_set_bytes(op, f, name, n);
            OP_SET("length", n);
            OP_SET("max_length", n);
        }
        break;
    }
    case OP_FRAMING_EX: {
        uint8_t *framing = op_arena_alloc(m, 112); /* CountItems 1 and one zero KS_FRAMING_ITEM */
        if (framing != NULL && (f = op_field_named(info, "framing", NULL)) != NULL) {
            memset(framing, 0, 112);
            framing[0] = 1;
            op_field_set_bytes(op, f, framing, 112);
            OP_SET("buffer_size", 112);
        }
        break;
    }
    case OP_IOCTL: {
        OP_SET("code", IOCTL_KS_PROPERTY);
        OP_SET("id", KSPROPERTY_STREAMALLOCATOR_STATUS);
        OP_SET("flags", KSPROPERTY_TYPE_GET);
        OP_SET("out_size", 32);
        if ((f = op_field_named(info, "set", NULL)) != NULL)
            memcpy((unsigned char *)&op->u + f->offset, &op_guid_name_at(0)->guid, sizeof(GUID));
        break;
    }
    case OP_FAULT: OP_SET("nth", 1); break;
    case OP_NULL_ARGS: OP_SET("null", 0x2); break; /* KsCreateAllocator with a NULL framing */
    default: break;
    }
#undef OP_SET
}
