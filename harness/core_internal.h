/* core_internal.h: private to harness/: the per-thread context, the pointer map and the dispatcher
 * lock shared by the core services (IRQL, pool, spin locks, dispatcher objects, lookaside lists). */
#ifndef KM_CORE_INTERNAL_H
#define KM_CORE_INTERNAL_H

#include <pthread.h>

#include "km_internal.h"

/* ---- Thread context (irql.c) ------------------------------------------------------------------ */
/* What Windows keeps per processor/thread and the model keeps per host thread (architecture.md). */
typedef struct km_thread_ctx {
    KIRQL irql;
    KPROCESSOR_MODE previous_mode;
    uint32_t id;             /* the model's thread number, 1 for the thread that ran km_init */
    uint32_t spinlocks_held; /* executive spin locks this thread holds */
} km_thread_ctx;

km_thread_ctx *km_thread_current(void);
/* Fails IRQL_TOO_HIGH naming `routine` when the current IRQL is above `max`. */
void km_irql_require_max(KIRQL max, const char *routine);

/* ---- Pointer map (ptrmap.c): open addressing, keys are addresses, never NULL ----------------- */
typedef struct km_ptrmap {
    struct km_ptrmap_slot *slots;
    size_t capacity; /* power of two, or 0 */
    size_t count;
} km_ptrmap;

void *km_ptrmap_get(const km_ptrmap *map, const void *key);
/* Inserts or replaces; aborts on host memory exhaustion (the model's own memory is not faultable). */
void km_ptrmap_put(km_ptrmap *map, const void *key, void *value);
/* Removes the key and returns its value (NULL when absent). */
void *km_ptrmap_remove(km_ptrmap *map, const void *key);
/* Calls fn for every entry, in no particular order; fn must not modify the map. */
void km_ptrmap_each(const km_ptrmap *map, void (*fn)(const void *key, void *value, void *ctx), void *ctx);
void km_ptrmap_clear(km_ptrmap *map);

/* ---- Fault plans (pool_fault.c) ---------------------------------------------------------------- */
/* Counts one allocation attempt and says whether the armed plan fails it. */
bool km_fault_should_fail(const char *site, ULONG tag);

/* ---- Dispatcher lock (dispatcher.c) --------------------------------------------------------- */
/* One host mutex and condition variable serialise every dispatcher object and fast mutex: waits
 * are rare in allocator code, and one lock makes wake-ups trivially correct. */
extern pthread_mutex_t km_dispatcher_lock;
extern pthread_cond_t km_dispatcher_wake;

#endif /* KM_CORE_INTERNAL_H */
