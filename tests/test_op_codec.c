/* test_op_codec.c: the operation language's C codec: every operation decodes into its typed fields,
 * any byte string (truncated, unknown opcodes, other versions, past the cap) decodes and re-encodes
 * byte for byte, the printer's canonical text, and the table's names agree with include/. */
#include "ktest.h"

#include <stdlib.h>
#include <string.h>

#include "op_program.h"

static op_program op_test_prog; /* 256 ops: too big for a comfortable stack frame */

/* Appends one record for info with field values derived from seed; returns the new length. */
static size_t op_test_record(const op_info *info, uint8_t seed, uint8_t *buf, size_t len)
{
    buf[len++] = (uint8_t)info->code;
    for (size_t i = 0; i < info->field_count; i++) {
        const op_field_info *f = &info->fields[i];
        size_t width = 1;
        switch (f->type) {
        case OP_T_U16: width = 2; break;
        case OP_T_U32: width = 4; break;
        case OP_T_U64: width = 8; break;
        case OP_T_GUID: width = 16; break;
        case OP_T_BYTES:
            buf[len++] = 3; /* a 3-byte blob */
            buf[len++] = 0;
            width = 3;
            break;
        default: break;
        }
        for (size_t k = 0; k < width; k++)
            buf[len++] = (uint8_t)(seed + i * 16 + k);
    }
    return len;
}

/* version byte + one record of every operation in table order. */
static size_t op_test_every_op(uint8_t *buf)
{
    size_t len = 0;
    buf[len++] = OP_FORMAT_VERSION;
    for (size_t i = 0; i < op_info_count(); i++)
        len = op_test_record(op_info_at(i), (uint8_t)(i * 7), buf, len);
    return len;
}

static void op_test_expect_reencodes(const uint8_t *data, size_t size)
{
    op_decode(data, size, &op_test_prog);
    uint8_t *again = malloc(size + 1);
    ASSERT_TRUE(again != NULL);
    size_t n = op_encode(&op_test_prog, again, size + 1);
    EXPECT_EQ(n, size);
    if (n == size && memcmp(again, data, size) != 0)
        ktest_fail_at(__FILE__, __LINE__, "re-encoded bytes differ (%zu bytes)", size);
    EXPECT_TRUE(op_test_prog.count <= OP_MAX_OPS);
    free(again);
}

KTEST(op, op_decode_every_operation)
{
    uint8_t buf[4096];
    for (size_t i = 0; i < op_info_count(); i++) {
        const op_info *info = op_info_at(i);
        buf[0] = OP_FORMAT_VERSION;
        size_t len = op_test_record(info, 0x40, buf, 1);
        op_decode(buf, len, &op_test_prog);
        ASSERT_TRUE(op_test_prog.count == 1);
        const op_op *op = &op_test_prog.ops[0];
        EXPECT_EQ(op->code, info->code);
        EXPECT_EQ(op->offset, 1);
        EXPECT_EQ(op->size, len - 1);
        /* Every field lands at its offset with the value the record carried. */
        size_t at = 2;
        for (size_t f = 0; f < info->field_count; f++) {
            const op_field_info *fi = &info->fields[f];
            const unsigned char *field = (const unsigned char *)&op->u + fi->offset;
            uint8_t first = (uint8_t)(0x40 + f * 16);
            if (fi->type == OP_T_BYTES) {
                op_bytes b;
                memcpy(&b, field, sizeof b);
                EXPECT_EQ(b.len, 3);
                EXPECT_TRUE(b.data == buf + at + 2);
                EXPECT_EQ(b.data[0], first);
                at += 5;
            } else {
                EXPECT_EQ(field[0], first); /* little endian: the first byte is the low byte */
                at += fi->type == OP_T_U16 ? 2 : fi->type == OP_T_U32 ? 4 : fi->type == OP_T_U64 ? 8
                      : fi->type == OP_T_GUID ? 16 : 1;
            }
        }
        EXPECT_EQ(at, len);
        op_test_expect_reencodes(buf, len);
    }
}

KTEST(op, op_decode_typed_fields_for_the_interpreter)
{
    /* create_framing parent=h1 options=2 pool=1 frames=8 frame_size=4096 alignment=3 reserved=0
     * mode=UserMode irql=DISPATCH_LEVEL out=h2 */
    static const uint8_t bin[] = { 1, OP_CREATE_FRAMING, 1, 2, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0x10, 0, 0,
                                   3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 2 };
    op_decode(bin, sizeof bin, &op_test_prog);
    ASSERT_TRUE(op_test_prog.count == 1 && op_test_prog.ops[0].code == OP_CREATE_FRAMING);
    const op_args_create_framing *a = &op_test_prog.ops[0].u.create_framing;
    EXPECT_EQ(a->parent, 1);
    EXPECT_EQ(a->options, 2);
    EXPECT_EQ(a->pool, 1);
    EXPECT_EQ(a->frames, 8);
    EXPECT_EQ(a->frame_size, 4096);
    EXPECT_EQ(a->alignment, 3);
    EXPECT_EQ(a->mode, 1);
    EXPECT_EQ(a->irql, 2);
    EXPECT_EQ(a->out, 2);

    /* ioctl: the GUID comes out in Windows in-memory order (Data1 little endian). */
    uint8_t io[64] = { 1, OP_IOCTL, 0xFF, 0x03, 0x00, 0x2F, 0x00, 0x42, 0x43, 0x6E, 0xCF, 0x87, 0xEC, 0xCF, 0x11,
                       0xA1, 0x30, 0x00, 0x20, 0xAF, 0xD1, 0x56, 0xE4 };
    size_t len = 23;
    memset(io + len, 0, 16); /* id, flags, in_size, out_size */
    io[len] = 1;
    len += 16;
    io[len++] = 2; /* extra: 2 bytes */
    io[len++] = 0;
    io[len++] = 0xAA;
    io[len++] = 0xBB;
    io[len++] = 0; /* data: empty */
    io[len++] = 0;
    io[len++] = OP_REF_NULL; /* frame */
    io[len++] = 0;           /* buffers */
    io[len++] = 0xFF;        /* mode */
    io[len++] = 0xFF;        /* irql */
    io[len++] = 5;           /* out */
    op_decode(io, len, &op_test_prog);
    ASSERT_TRUE(op_test_prog.count == 1 && op_test_prog.ops[0].code == OP_IOCTL);
    const op_args_ioctl *c = &op_test_prog.ops[0].u.ioctl;
    EXPECT_EQ(c->target, OP_REF_NULL);
    EXPECT_EQ(c->code, 0x002F0003);
    EXPECT_TRUE(memcmp(&c->set, &KSPROPSETID_StreamAllocator, sizeof(GUID)) == 0);
    EXPECT_EQ(c->id, 1);
    EXPECT_EQ(c->extra.len, 2);
    EXPECT_EQ(c->extra.data[1], 0xBB);
    EXPECT_EQ(c->data.len, 0);
    EXPECT_EQ(c->frame, OP_REF_NULL);
    EXPECT_EQ(op_slot_index(c->out), 5);
    EXPECT_EQ(op_slot_index(21), 5);
}

KTEST(op, op_decode_truncation_at_every_offset_reencodes)
{
    uint8_t buf[4096];
    size_t len = op_test_every_op(buf);
    op_decode(buf, len, &op_test_prog);
    EXPECT_EQ(op_test_prog.count, op_info_count());
    for (size_t cut = 0; cut <= len; cut++) {
        /* An exact-size copy, so ASan catches any read past the end of the input. */
        uint8_t *prefix = malloc(cut > 0 ? cut : 1);
        ASSERT_TRUE(prefix != NULL);
        memcpy(prefix, buf, cut);
        op_test_expect_reencodes(prefix, cut);
        char text[8192];
        EXPECT_TRUE(op_format(&op_test_prog, text, sizeof text) < sizeof text);
        free(prefix);
    }
}

KTEST(op, op_decode_unknown_opcodes_are_kept_as_one_raw)
{
    /* 0x00 and 0xEE are not opcodes; 0x11 0x02 is set_irql DISPATCH_LEVEL; a final 0x01 is truncated. */
    static const uint8_t bin[] = { 1, 0x00, 0xEE, 0x00, OP_SET_IRQL, 2, OP_OPEN_FILTER };
    op_decode(bin, sizeof bin, &op_test_prog);
    ASSERT_TRUE(op_test_prog.count == 3);
    EXPECT_EQ(op_test_prog.ops[0].code, OP_RAW);
    EXPECT_EQ(op_test_prog.ops[0].u.raw.len, 3);
    EXPECT_EQ(op_test_prog.ops[1].code, OP_SET_IRQL);
    EXPECT_EQ(op_test_prog.ops[1].u.set_irql.irql, 2);
    EXPECT_EQ(op_test_prog.ops[2].code, OP_RAW);
    EXPECT_EQ(op_test_prog.ops[2].offset, 6);
    op_test_expect_reencodes(bin, sizeof bin);
}

KTEST(op, op_decode_blob_length_past_end_is_raw)
{
    /* fault nth=0 also=0 site=<0xFFFF bytes claimed, 2 present>: the record is truncated. */
    static const uint8_t bin[] = { 1, OP_FAULT, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 'K', 's' };
    op_decode(bin, sizeof bin, &op_test_prog);
    for (size_t i = 0; i < op_test_prog.count; i++)
        EXPECT_NE(op_test_prog.ops[i].code, OP_FAULT);
    op_test_expect_reencodes(bin, sizeof bin);
}

KTEST(op, op_decode_empty_and_other_versions)
{
    op_decode(NULL, 0, &op_test_prog);
    EXPECT_EQ(op_test_prog.version, OP_VERSION_ABSENT);
    EXPECT_EQ(op_test_prog.count, 0);
    EXPECT_EQ(op_encode(&op_test_prog, NULL, 0), 0);

    static const uint8_t v2[] = { 2, OP_SET_IRQL, 2 };
    op_decode(v2, sizeof v2, &op_test_prog);
    EXPECT_EQ(op_test_prog.version, 2);
    ASSERT_TRUE(op_test_prog.count == 1);
    EXPECT_EQ(op_test_prog.ops[0].code, OP_RAW);
    op_test_expect_reencodes(v2, sizeof v2);

    static const uint8_t v1[] = { 1 };
    op_decode(v1, sizeof v1, &op_test_prog);
    EXPECT_EQ(op_test_prog.version, 1);
    EXPECT_EQ(op_test_prog.count, 0);
}

KTEST(op, op_decode_cap_keeps_the_rest_as_one_raw)
{
    enum { RECORDS = 300 };
    uint8_t buf[1 + 2 * RECORDS];
    buf[0] = OP_FORMAT_VERSION;
    for (int i = 0; i < RECORDS; i++) {
        buf[1 + 2 * i] = OP_SET_IRQL;
        buf[2 + 2 * i] = (uint8_t)i;
    }
    op_decode(buf, sizeof buf, &op_test_prog);
    ASSERT_TRUE(op_test_prog.count == OP_MAX_OPS);
    EXPECT_EQ(op_test_prog.ops[OP_MAX_OPS - 2].code, OP_SET_IRQL);
    const op_op *last = &op_test_prog.ops[OP_MAX_OPS - 1];
    EXPECT_EQ(last->code, OP_RAW);
    EXPECT_EQ(last->u.raw.len, 2 * (RECORDS - (OP_MAX_OPS - 1)));
    op_test_expect_reencodes(buf, sizeof buf);
}

/* xorshift64: a fixed-seed generator, so the sample is the same on every run. */
static uint64_t op_test_rng = 0x9E3779B97F4A7C15ull;
static uint64_t op_test_next(void)
{
    op_test_rng ^= op_test_rng << 13;
    op_test_rng ^= op_test_rng >> 7;
    op_test_rng ^= op_test_rng << 17;
    return op_test_rng;
}

KTEST(op, op_decode_random_and_mutated_inputs_reencode)
{
    uint8_t valid[4096], buf[4096];
    size_t valid_len = op_test_every_op(valid);
    for (int round = 0; round < 3000; round++) {
        size_t len;
        if (round % 2 == 0) { /* random bytes behind a valid version byte */
            len = op_test_next() % 300;
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)op_test_next();
            if (len > 0)
                buf[0] = OP_FORMAT_VERSION;
        } else { /* a valid program with a few bytes flipped and a random cut */
            len = 1 + op_test_next() % valid_len;
            memcpy(buf, valid, len);
            for (int k = 0; k < 4; k++)
                buf[1 + op_test_next() % (len > 1 ? len - 1 : 1)] ^= (uint8_t)op_test_next();
        }
        uint8_t *exact = malloc(len > 0 ? len : 1);
        ASSERT_TRUE(exact != NULL);
        memcpy(exact, buf, len);
        op_test_expect_reencodes(exact, len);
        size_t need = op_format(&op_test_prog, NULL, 0);
        char *text = malloc(need + 1);
        ASSERT_TRUE(text != NULL);
        EXPECT_EQ(op_format(&op_test_prog, text, need + 1), need);
        EXPECT_EQ(strlen(text), need);
        free(text);
        free(exact);
    }
}

KTEST(op, op_format_prints_canonical_text)
{
    static const uint8_t name[] = { '{', 0, '6', 0, '4', 0, '2', 0, 'F', 0, '\\', 0, 2, 0, 0, 0 };
    uint8_t bin[256];
    size_t len = 0;
    bin[len++] = OP_FORMAT_VERSION;
    bin[len++] = OP_OPEN_FILTER;
    bin[len++] = 0;
    bin[len++] = 0;
    bin[len++] = OP_CREATE_RAW;
    bin[len++] = OP_REF_BOGUS;
    bin[len++] = sizeof name;
    bin[len++] = 0;
    memcpy(bin + len, name, sizeof name);
    len += sizeof name;
    bin[len++] = 102; /* length */
    bin[len++] = 0;
    bin[len++] = 104; /* max_length */
    bin[len++] = 0;
    bin[len++] = 1;    /* mode */
    bin[len++] = 0xFF; /* irql: current, the default */
    bin[len++] = 3;
    bin[len++] = 0xEE;
    op_decode(bin, len, &op_test_prog);
    char text[512];
    op_format(&op_test_prog, text, sizeof text);
    const char *want = "version 1\n"
                       "open_filter out=h0\n"
                       "create_raw parent=bogus name=utf16:\"{642F\\\\\"+hex:02000000 length=102 max_length=104 "
                       "mode=UserMode out=h3\n"
                       "raw bytes=hex:ee\n";
    if (strcmp(text, want) != 0)
        ktest_fail_at(__FILE__, __LINE__, "got:\n%s\nwanted:\n%s", text, want);

    /* snprintf semantics: the full length comes back, the buffer holds a NUL-terminated prefix. */
    char small[8];
    EXPECT_EQ(op_format(&op_test_prog, small, sizeof small), strlen(want));
    EXPECT_TRUE(strcmp(small, "version") == 0);
}

KTEST(op, op_table_names_match_include)
{
    static const struct {
        const char *name;
        const GUID *guid;
    } known[] = {
        { "KSPROPSETID_StreamAllocator", &KSPROPSETID_StreamAllocator },
        { "KSMETHODSETID_StreamAllocator", &KSMETHODSETID_StreamAllocator },
        { "KSEVENTSETID_StreamAllocator", &KSEVENTSETID_StreamAllocator },
        { "KSPROPSETID_Connection", &KSPROPSETID_Connection },
        { "KSPROPSETID_Stream", &KSPROPSETID_Stream },
        { "KSNAME_Allocator", &KSNAME_Allocator },
        { "KSNAME_AllocatorEx", &KSNAME_AllocatorEx },
        { "KSNAME_Pin", &KSNAME_Pin },
        { "KSNAME_Filter", &KSNAME_Filter },
        { "KSMEMORY_TYPE_SYSTEM", &KSMEMORY_TYPE_SYSTEM },
        { "KSMEMORY_TYPE_USER", &KSMEMORY_TYPE_USER },
        { "KSMEMORY_TYPE_KERNEL_PAGED", &KSMEMORY_TYPE_KERNEL_PAGED },
        { "KSMEMORY_TYPE_KERNEL_NONPAGED", &KSMEMORY_TYPE_KERNEL_NONPAGED },
        { "KSMEMORY_TYPE_DEVICE_UNKNOWN", &KSMEMORY_TYPE_DEVICE_UNKNOWN },
    };
    EXPECT_EQ(op_guid_name_count(), sizeof known / sizeof known[0]);
    for (size_t i = 0; i < op_guid_name_count(); i++) {
        const op_guid_name *g = op_guid_name_at(i);
        bool found = false;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            if (strcmp(known[k].name, g->name) == 0) {
                found = true;
                if (memcmp(known[k].guid, &g->guid, sizeof(GUID)) != 0)
                    ktest_fail_at(__FILE__, __LINE__, "ops.def GUID %s differs from ks.h", g->name);
            }
        if (!found)
            ktest_fail_at(__FILE__, __LINE__, "ops.def GUID %s is not checked against ks.h here", g->name);
    }
    /* Field names are unique within an operation (text keys), and names are unique across operations. */
    for (size_t i = 0; i < op_info_count(); i++) {
        const op_info *a = op_info_at(i);
        EXPECT_TRUE(op_info_get((unsigned)a->code) == a);
        EXPECT_TRUE(strcmp(op_name(a->code), a->name) == 0);
        for (size_t j = 0; j < i; j++)
            EXPECT_TRUE(strcmp(op_info_at(j)->name, a->name) != 0);
        for (size_t f = 0; f < a->field_count; f++)
            for (size_t g = 0; g < f; g++)
                EXPECT_TRUE(strcmp(a->fields[f].name, a->fields[g].name) != 0);
    }
    EXPECT_TRUE(op_info_get(0x00) == NULL);
    EXPECT_TRUE(strcmp(op_name(OP_RAW), "raw") == 0);
}

/* A /proc file is a regular file whose size reads as 0 whatever it holds: the size limit must hold on
 * the bytes read, not only on fstat's size (which is all it was checked on). */
KTEST(op, op_read_file_bounds_the_read_itself)
{
    size_t size = 0;
    uint8_t *all = op_read_file("km_tests", "/proc/self/maps", 0, &size);
    if (all == NULL)
        ktest_skip("/proc/self/maps cannot be read");
    free(all);
    EXPECT_TRUE(size > 16);
    EXPECT_TRUE(op_read_file("km_tests", "/proc/self/maps", 16, &size) == NULL);
}
