/* core_internal.h: private to harness/: the pointer map and the fault-plan hook shared by the
 * pool and the lookaside lists. */
#ifndef KM_CORE_INTERNAL_H
#define KM_CORE_INTERNAL_H

#include <pthread.h>

#include "irql_internal.h"

/* ---- Pointer map (ptrmap.c): open addressing, keys are addresses, never NULL ----------------- */
typedef struct km_ptrmap {
    struct km_ptrmap_slot *slots;
    size_t capacity; /* power of two, or 0 */
    size_t count;
} km_ptrmap;

void *km_ptrmap_get(const km_ptrmap *map, const void *key);
/* The key's value slot, to read or overwrite in place (valid until the next put or remove), or NULL. */
void **km_ptrmap_find(const km_ptrmap *map, const void *key);
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

#endif /* KM_CORE_INTERNAL_H */
