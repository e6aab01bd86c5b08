/* irql_internal.h: private to harness/: the calling thread's IRQL contract check and identity,
 * for every module that enforces an IRQL rule or records an owner (pool, locks, I/O manager). */
#ifndef KM_IRQL_INTERNAL_H
#define KM_IRQL_INTERNAL_H

#include "km_internal.h"

/* Fails IRQL_TOO_HIGH naming `routine` when the current IRQL is above `max`. */
void km_require_irql_at_most(KIRQL max, const char *routine);
/* A small per-thread number: 1 for the thread that ran km_init, then 2, 3... in order of first use. */
unsigned km_thread_id(void);
/* The highest thread number handed out since km_init (a spin-lock word above it is garbage). */
unsigned km_thread_id_max(void);

#endif /* KM_IRQL_INTERNAL_H */
