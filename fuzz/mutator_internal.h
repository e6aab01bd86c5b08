/* mutator_internal.h: shared between the mutator's files (mutator.c: the core and program-level
 * mutations; mutator_values.c: value generators driven by ops.def classes; mutator_name.c:
 * create_raw names and operation templates). Not an API. */
#ifndef OP_MUTATOR_INTERNAL_H
#define OP_MUTATOR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mutator.h"
#include "op_program.h"

typedef struct op_rng {
    uint64_t s;
} op_rng;

void op_rng_seed(op_rng *r, uint32_t seed);
uint64_t op_rng_next(op_rng *r);
uint64_t op_rng_below(op_rng *r, uint64_t n); /* 0 when n is 0 */

op_rng *op_mutator_rng(op_mutator *m);
/* n bytes that live until the next mutation attempt; NULL when the arena is full. */
uint8_t *op_arena_alloc(op_mutator *m, size_t n);

unsigned op_type_bits(op_type t);
uint64_t op_field_get(const op_op *op, const op_field_info *f);
void op_field_set(op_op *op, const op_field_info *f, uint64_t value);
op_bytes op_field_bytes(const op_op *op, const op_field_info *f);
void op_field_set_bytes(op_op *op, const op_field_info *f, const uint8_t *data, size_t len);
const op_field_info *op_field_named(const op_info *info, const char *name, int *index);

/* Value generators (mutator_values.c). Each returns a candidate that may equal old; callers retry. */
uint64_t op_value_flags(op_rng *r, op_class cls, unsigned bits, uint64_t old);
uint64_t op_value_enum(op_rng *r, op_class cls, unsigned bits, uint64_t old);
uint64_t op_value_align(op_rng *r, uint64_t old);
uint64_t op_value_int(op_rng *r, unsigned bits, uint64_t old);
/* The flag class an ioctl's KSIDENTIFIER.Flags is read with, by IOCTL code (as the printer does). */
op_class op_reqflags_class(uint32_t ioctl_code);
void op_guid_to_bytes(const GUID *g, uint8_t out[16]);

/* mutator_name.c: the operations whose `name`, `length` and `max_length` are a create name's UNICODE_STRING. */
static inline bool op_has_create_name(op_code code) { return code == OP_CREATE_RAW || code == OP_VALIDATE_IRP; }
bool op_mutate_name(op_mutator *m, op_op *op, size_t max_size);
/* Per-opcode sane values on top of the table defaults (well-formed create name, a framing, ...). */
void op_template_specifics(op_mutator *m, op_op *op, const op_info *info);

#endif /* OP_MUTATOR_INTERNAL_H */
