/* bench_mutator_target.c: the libFuzzer targets of tools/bench_mutator.py.
 * - BENCH_INTERP defined ("interp"): the program runs through the interpreter (fuzz/interp.h) with the
 *   prologue and the reference model, every operation allowed (like fuzz/targets/session.c).
 * - otherwise ("codec"): decode, re-encode (must be byte-exact), print the canonical text (op_format:
 *   per-class naming of every field) and walk the slot model the way the interpreter decides what
 *   runs. It measures how much of the operation language a mutator reaches, not the allocator. */
#include <stdlib.h>
#include <string.h>

#include "op_program.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef BENCH_INTERP
#include "interp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const op_run_config config = { .prologue = true, .reference_model = true };
    if (size <= 65536)
        op_run_bytes(data, size, &config, NULL);
    return 0;
}
#else

static op_program bench_prog;
static char bench_text[1 << 20];
static uint8_t bench_again[1 << 17];

/* 1 bit per slot and kind: which slots hold a result (prologue: h0, h1). */
static unsigned bench_walk(const op_program *p)
{
    unsigned filled[3] = { 0x3u, 0, 0 }, ran = 0, skipped = 0, reserved = 0;
    for (size_t i = 0; i < p->count; i++) {
        const op_info *info = op_info_get((unsigned)p->ops[i].code);
        if (info == NULL)
            continue;
        int skip = 0;
        for (size_t f = 0; f < info->field_count && !skip; f++) {
            const op_field_info *fi = &info->fields[f];
            uint8_t v;
            memcpy(&v, (const unsigned char *)&p->ops[i].u + fi->offset, 1);
            int kind = fi->type == OP_T_HREF ? 0 : fi->type == OP_T_FREF ? 1 : fi->type == OP_T_EREF ? 2 : -1;
            if (kind < 0)
                continue;
            if (v >= OP_REF_CLOSED)
                reserved++;
            else if (!((filled[kind] >> op_slot_index(v)) & 1u))
                skip = 1;
        }
        if (skip) {
            skipped++;
            continue;
        }
        ran++;
        for (size_t f = 0; f < info->field_count; f++) {
            const op_field_info *fi = &info->fields[f];
            int kind = fi->type == OP_T_HOUT ? 0 : fi->type == OP_T_FOUT ? 1 : fi->type == OP_T_EOUT ? 2 : -1;
            if (kind < 0)
                continue;
            uint8_t v;
            memcpy(&v, (const unsigned char *)&p->ops[i].u + fi->offset, 1);
            filled[kind] |= 1u << op_slot_index(v);
        }
        if (p->ops[i].code == OP_CLOSE)
            filled[0] &= ~(1u << op_slot_index(p->ops[i].u.close.handle));
    }
    return ran * 3 + skipped * 5 + reserved;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    op_decode(data, size, &bench_prog);
    size_t n = op_encode(&bench_prog, bench_again, sizeof bench_again);
    if (n != size || (n <= sizeof bench_again && memcmp(bench_again, data, n) != 0))
        abort(); /* the codec is canonical: this never happens */
    op_format(&bench_prog, bench_text, sizeof bench_text);
    volatile unsigned sink = bench_walk(&bench_prog);
    (void)sink;
    return 0;
}
#endif /* BENCH_INTERP */
