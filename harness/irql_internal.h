/* irql_internal.h: private to harness/: the calling thread's IRQL contract check and identity,
 * for every module that enforces an IRQL rule or records an owner (pool, locks, I/O manager). */
#ifndef KM_IRQL_INTERNAL_H
#define KM_IRQL_INTERNAL_H

#include "km_internal.h"

/* What Windows keeps per processor/thread and the model keeps per host thread (architecture.md).
 * Defined in irql.c; exposed here only so the hot paths (spin locks, IRQL checks) reach it inline. */
typedef struct {
    KIRQL irql;
    KPROCESSOR_MODE previous_mode;
    unsigned id; /* 0 until first use */
} km_thread_ctx;

extern _Thread_local km_thread_ctx km_current_thread;
extern unsigned km_thread_ids; /* last thread number handed out (atomic) */

/* Gives the calling thread its number (first use only). */
void km_thread_assign_id(km_thread_ctx *t);

static inline km_thread_ctx *km_thread_current(void)
{
    km_thread_ctx *t = &km_current_thread;
    if (__builtin_expect(t->id == 0, 0))
        km_thread_assign_id(t);
    return t;
}

/* Fails IRQL_TOO_HIGH naming `routine` when the current IRQL is above `max`. */
static inline void km_require_irql_at_most(KIRQL max, const char *routine)
{
    KIRQL irql = km_thread_current()->irql;
    KM_VERIFY(IRQL_TOO_HIGH, irql <= max, "%s at IRQL %u, maximum %u", routine, irql, max);
}
/* A small per-thread number: 1 for the thread that ran km_init, then 2, 3... in order of first use. */
static inline unsigned km_thread_id(void) { return km_thread_current()->id; }
/* The highest thread number handed out since km_init (a spin-lock word above it is garbage). */
static inline unsigned km_thread_id_max(void) { return __atomic_load_n(&km_thread_ids, __ATOMIC_ACQUIRE); }

#endif /* KM_IRQL_INTERNAL_H */
