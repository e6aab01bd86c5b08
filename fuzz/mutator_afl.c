/* mutator_afl.c: the structure-aware mutator as an AFL++ custom mutator library (4.04c C API,
 * docs custom_mutators.md): AFL_CUSTOM_MUTATOR_LIBRARY=build/<preset>/afl_op_mutator.so.
 * Debian ships no AFL++ headers, so afl_state_t is opaque here (we never look inside it).
 *
 * - afl_custom_fuzz: one op_mutate, or (one call in five, when AFL passes a second queue entry) an
 *   op_crossover at operation boundaries. The output buffer belongs to the mutator state. Returns > 0.
 * - afl_custom_havoc_mutation: one field-level or program-level mutation, stacked into AFL's havoc.
 * - Determinism: the n-th call's seed is derived from afl_custom_init's seed and n. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutator.h"

typedef struct afl_state afl_state_t; /* opaque */

#define OP_AFL_API __attribute__((visibility("default")))

typedef struct op_afl {
    op_mutator *m;
    uint8_t *buf;
    size_t cap;
    uint32_t seed;
    uint64_t calls;
    op_mut_kind last;
    char description[32];
} op_afl;

OP_AFL_API void *afl_custom_init(afl_state_t *afl, unsigned int seed);
OP_AFL_API size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf, uint8_t *add_buf,
                                  size_t add_buf_size, size_t max_size);
OP_AFL_API size_t afl_custom_havoc_mutation(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf,
                                            size_t max_size);
OP_AFL_API uint8_t afl_custom_havoc_mutation_probability(void *data);
OP_AFL_API const char *afl_custom_describe(void *data, size_t max_description_len);
OP_AFL_API void afl_custom_deinit(void *data);

void *afl_custom_init(afl_state_t *afl, unsigned int seed)
{
    (void)afl;
    op_afl *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->m = op_mutator_new();
    if (s->m == NULL) {
        free(s);
        return NULL;
    }
    s->seed = seed;
    s->last = OP_MUT_ANY;
    return s;
}

static uint32_t op_afl_next_seed(op_afl *s)
{
    uint64_t x = ((uint64_t)s->seed << 32) ^ ++s->calls;
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDull;
    x ^= x >> 33;
    return (uint32_t)x;
}

static int op_afl_reserve(op_afl *s, size_t n)
{
    if (n <= s->cap)
        return 1;
    uint8_t *p = realloc(s->buf, n);
    if (p == NULL)
        return 0;
    s->buf = p;
    s->cap = n;
    return 1;
}

/* AFL needs a non-empty result: when nothing else works, hand back the input (or one version byte). */
static size_t op_afl_fallback(op_afl *s, uint8_t *buf, size_t buf_size, uint8_t **out_buf, size_t max_size)
{
    if (buf_size > 0 && buf_size <= max_size) {
        *out_buf = buf;
        return buf_size;
    }
    static uint8_t version = 1;
    *out_buf = s != NULL && s->cap > 0 ? (s->buf[0] = 1, s->buf) : &version;
    return 1;
}

static size_t op_afl_mutate(op_afl *s, uint8_t *buf, size_t buf_size, uint8_t **out_buf, uint8_t *add_buf,
                            size_t add_buf_size, size_t max_size, op_mut_kind kind)
{
    if (s == NULL || max_size == 0 || !op_afl_reserve(s, max_size))
        return op_afl_fallback(s, buf, buf_size, out_buf, max_size ? max_size : 1);
    uint32_t seed = op_afl_next_seed(s);
    size_t n;
    if (add_buf != NULL && add_buf_size > 0 && kind == OP_MUT_ANY && seed % 5 == 0) {
        n = op_crossover(s->m, buf, buf_size, add_buf, add_buf_size, s->buf, max_size, seed);
        s->last = OP_MUT_SPLICE;
    } else {
        op_mut_info info;
        n = op_mutate(s->m, buf, buf_size, s->buf, max_size, seed, kind, &info);
        s->last = info.kind;
    }
    if (n == 0)
        return op_afl_fallback(s, buf, buf_size, out_buf, max_size);
    *out_buf = s->buf;
    return n;
}

size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf, uint8_t *add_buf,
                       size_t add_buf_size, size_t max_size)
{
    return op_afl_mutate(data, buf, buf_size, out_buf, add_buf, add_buf_size, max_size, OP_MUT_ANY);
}

size_t afl_custom_havoc_mutation(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf, size_t max_size)
{
    return op_afl_mutate(data, buf, buf_size, out_buf, NULL, 0, max_size, OP_MUT_ANY);
}

uint8_t afl_custom_havoc_mutation_probability(void *data)
{
    (void)data;
    return 20; /* percent of AFL's havoc stacking steps that call afl_custom_havoc_mutation */
}

const char *afl_custom_describe(void *data, size_t max_description_len)
{
    op_afl *s = data;
    if (s == NULL)
        return "op";
    snprintf(s->description, sizeof s->description, "op-%s", op_mut_kind_name(s->last));
    if (max_description_len < sizeof s->description)
        s->description[max_description_len] = '\0';
    return s->description;
}

void afl_custom_deinit(void *data)
{
    op_afl *s = data;
    if (s == NULL)
        return;
    op_mutator_free(s->m);
    free(s->buf);
    free(s);
}
