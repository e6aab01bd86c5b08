/* mutator.h: the structure-aware mutator of operation-language programs (docs/operation-language.md).
 * It decodes the input (op_decode is total), applies one mutation chosen from the operation table in
 * fuzz/ops.def (typed fields and their value classes), and encodes the result (op_encode), never past
 * max_size. Field-level mutations: flags, enums, FileAlignment masks, boundary integers, GUIDs, blobs,
 * create_raw names and Length/MaximumLength, slot references and result slots. Program-level: insert
 * an operation from a per-opcode template, delete, duplicate, swap adjacent, splice a run of
 * operations. About one mutation in ten is a raw byte mutation (LLVMFuzzerMutate under libFuzzer, the
 * built-in byte havoc otherwise).
 *
 * Deterministic: the same input, max_size and seed give the same output (own PRNG, no global state),
 * unless a raw callback is installed that is not itself deterministic.
 *
 * Engine glue: fuzz/mutator_libfuzzer.c (LLVMFuzzerCustomMutator / LLVMFuzzerCustomCrossOver) and
 * fuzz/mutator_afl.c (the AFL++ 4.04c custom mutator library). */
#ifndef OP_MUTATOR_H
#define OP_MUTATOR_H

#include <stddef.h>
#include <stdint.h>

typedef struct op_mutator op_mutator;

/* A raw byte mutator: mutates data[0..size) in place within max_size bytes and returns the new size;
 * 0 means "did nothing" (the built-in havoc is used instead). LLVMFuzzerMutate has this signature. */
typedef size_t (*op_raw_mutate_fn)(uint8_t *data, size_t size, size_t max_size);

/* The mutation kinds. OP_MUT_ANY lets the mutator choose (weighted); any other value forces that kind
 * (tests use this) and falls back to OP_MUT_RAW when it does not apply to the input. */
typedef enum op_mut_kind {
    OP_MUT_ANY = 0,
    /* field level */
    OP_MUT_FLAGS,     /* FLAGS/REQFLAGS fields: flip a known bit, unions of known bits, unknown bits */
    OP_MUT_ENUM,      /* ENUM fields (not align): another constant, a neighbour, garbage */
    OP_MUT_ALIGN,     /* align fields: every 2^n-1 up to 0xFFF, non-masks <= 0xFFF, values > 0xFFF */
    OP_MUT_INT,       /* DEC/HEX integers: boundary values, small arithmetic, bit flips */
    OP_MUT_GUID,      /* GUID fields: another table GUID, one bit off, zero, random */
    OP_MUT_BLOB,      /* BYTES fields: truncate, extend, insert zero code units, words, GUIDs inside */
    OP_MUT_NAME,      /* create_raw name: class-string prefix variants, separator, framing bytes */
    OP_MUT_LENGTHS,   /* create_raw length / max_length skew */
    OP_MUT_REF,       /* HREF/FREF/EREF: another producer's slot, a random slot, closed/bogus/null */
    OP_MUT_OUT,       /* HOUT/FOUT/EOUT: another slot (a consumer's, or random) */
    /* program level */
    OP_MUT_INSERT,    /* a new operation from its opcode's template */
    OP_MUT_DELETE,
    OP_MUT_DUPLICATE, /* an operation copied right after itself or elsewhere */
    OP_MUT_SWAP,      /* two adjacent operations exchanged */
    OP_MUT_SPLICE,    /* a run of operations copied to another position (crossover within one input) */
    /* bytes */
    OP_MUT_RAW,
    OP_MUT_KIND_COUNT
} op_mut_kind;

/* What one op_mutate call did. op/field index the output program (op: -1 when not applicable;
 * field: index into op_info_get(code)->fields, -1 for program-level kinds). */
typedef struct op_mut_info {
    op_mut_kind kind;
    int op;
    int field;
} op_mut_info;

op_mutator *op_mutator_new(void);
void op_mutator_free(op_mutator *m);
/* Installs the raw path (NULL: built-in byte havoc only). */
void op_mutator_set_raw(op_mutator *m, op_raw_mutate_fn fn);

/* Mutates data[0..size) into out[0..max_size) and returns the new size, which is in 1..max_size
 * (0 only when max_size is 0). out may be data (libFuzzer mutates in place). */
size_t op_mutate(op_mutator *m, const uint8_t *data, size_t size, uint8_t *out, size_t max_size, uint32_t seed,
                 op_mut_kind kind, op_mut_info *info);

/* Crossover at operation boundaries: a prefix of a's operations, a run of b's, then the rest of a's,
 * into out[0..max_out). Returns the size (0 only when max_out is 0). out must not overlap a or b. */
size_t op_crossover(op_mutator *m, const uint8_t *a, size_t a_size, const uint8_t *b, size_t b_size, uint8_t *out,
                    size_t max_out, uint32_t seed);

const char *op_mut_kind_name(op_mut_kind kind);

#endif /* OP_MUTATOR_H */
