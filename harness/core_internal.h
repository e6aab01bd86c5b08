/* core_internal.h: private to harness/: the pointer map and the fault-plan hook shared by the
 * pool and the lookaside lists. */
#ifndef KM_CORE_INTERNAL_H
#define KM_CORE_INTERNAL_H

#include <pthread.h>

#include "irql_internal.h"

/* ---- Pointer map (ptrmap.c): open addressing, keys are addresses, never NULL ----------------- */
struct km_ptrmap_slot {
    const void *key; /* NULL = empty */
    void *value;
};

typedef struct km_ptrmap {
    struct km_ptrmap_slot *slots;
    size_t capacity; /* power of two, or 0 */
    size_t count;
} km_ptrmap;

void *km_ptrmap_get(const km_ptrmap *map, const void *key);

static inline size_t km_ptrmap_hash(const void *key, size_t capacity)
{
    /* Pool addresses are 16-byte aligned: drop the low bits, then mix (Fibonacci hashing). */
    uint64_t h = ((uint64_t)(uintptr_t)key >> 4) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 17) & (capacity - 1);
}

/* Keys are host addresses, so how long a probe runs depends on where the host allocator put things:
 * the probing code carries no coverage instrumentation (KM_NO_COVERAGE), or every run of the same input
 * would light different edge counts (AFL++ stability below 100%, libFuzzer features that are noise).
 * It is out of line so that no instrumented caller inlines the loop back. Sanitizers still check it. */
#if defined(__clang__)
#define KM_NO_COVERAGE __attribute__((noinline, no_sanitize("coverage")))
#else
#define KM_NO_COVERAGE __attribute__((noinline))
#endif

/* The key's value slot, to read or overwrite in place (valid until the next put or remove), or NULL. */
KM_NO_COVERAGE void **km_ptrmap_find(const km_ptrmap *map, const void *key);
/* Inserts or replaces; aborts on host memory exhaustion (the model's own memory is not faultable). */
KM_NO_COVERAGE void km_ptrmap_put(km_ptrmap *map, const void *key, void *value);
/* Removes the key and returns its value (NULL when absent). */
KM_NO_COVERAGE void *km_ptrmap_remove(km_ptrmap *map, const void *key);
/* Calls fn for every entry, in no particular order; fn must not modify the map. */
KM_NO_COVERAGE void km_ptrmap_each(const km_ptrmap *map, void (*fn)(const void *key, void *value, void *ctx), void *ctx);
void km_ptrmap_clear(km_ptrmap *map);

/* ---- Fault plans (pool_fault.c) ---------------------------------------------------------------- */
/* Counts one allocation attempt and says whether the armed plan fails it. */
bool km_fault_should_fail(const char *site, ULONG tag);

#endif /* KM_CORE_INTERNAL_H */
