/* ptrmap.c: a small address-keyed hash map (linear probing, backward-shift deletion) for the
 * pool's allocation records and the lookaside lists' entry ownership. The slot layout, the hash
 * and the lookup (km_ptrmap_find) are inline in core_internal.h for the hot paths. */
#include "core_internal.h"

#include <stdio.h>
#include <stdlib.h>

KM_NO_COVERAGE static void km_ptrmap_grow(km_ptrmap *map)
{
    size_t old_capacity = map->capacity;
    struct km_ptrmap_slot *old = map->slots;
    map->capacity = old_capacity ? old_capacity * 2 : 64;
    map->slots = calloc(map->capacity, sizeof *map->slots);
    if (map->slots == NULL) {
        fprintf(stderr, "kernel model: host out of memory\n");
        abort();
    }
    map->count = 0;
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i].key != NULL)
            km_ptrmap_put(map, old[i].key, old[i].value);
    free(old);
}

void **km_ptrmap_find(const km_ptrmap *map, const void *key)
{
    if (map->capacity == 0 || key == NULL)
        return NULL;
    for (size_t i = km_ptrmap_hash(key, map->capacity);; i = (i + 1) & (map->capacity - 1)) {
        if (map->slots[i].key == key)
            return &map->slots[i].value;
        if (map->slots[i].key == NULL)
            return NULL;
    }
}

void *km_ptrmap_get(const km_ptrmap *map, const void *key)
{
    void **value = km_ptrmap_find(map, key);
    return value != NULL ? *value : NULL;
}

KM_NO_COVERAGE void km_ptrmap_put(km_ptrmap *map, const void *key, void *value)
{
    if ((map->count + 1) * 4 > map->capacity * 3) /* keep the load below 3/4 */
        km_ptrmap_grow(map);
    size_t i = km_ptrmap_hash(key, map->capacity);
    while (map->slots[i].key != NULL && map->slots[i].key != key)
        i = (i + 1) & (map->capacity - 1);
    if (map->slots[i].key == NULL)
        map->count++;
    map->slots[i].key = key;
    map->slots[i].value = value;
}

KM_NO_COVERAGE void *km_ptrmap_remove(km_ptrmap *map, const void *key)
{
    if (map->capacity == 0 || key == NULL)
        return NULL;
    size_t mask = map->capacity - 1, i = km_ptrmap_hash(key, map->capacity);
    while (map->slots[i].key != key) {
        if (map->slots[i].key == NULL)
            return NULL;
        i = (i + 1) & mask;
    }
    void *value = map->slots[i].value;
    /* Backward-shift: move later members of the probe run into the hole so lookups stay correct. */
    for (size_t j = (i + 1) & mask; map->slots[j].key != NULL; j = (j + 1) & mask) {
        size_t home = km_ptrmap_hash(map->slots[j].key, map->capacity);
        if (((j - home) & mask) >= ((j - i) & mask)) {
            map->slots[i] = map->slots[j];
            i = j;
        }
    }
    map->slots[i].key = NULL;
    map->slots[i].value = NULL;
    map->count--;
    return value;
}

KM_NO_COVERAGE void km_ptrmap_each(const km_ptrmap *map, void (*fn)(const void *key, void *value, void *ctx), void *ctx)
{
    for (size_t i = 0; i < map->capacity; i++)
        if (map->slots[i].key != NULL)
            fn(map->slots[i].key, map->slots[i].value, ctx);
}

void km_ptrmap_clear(km_ptrmap *map)
{
    free(map->slots);
    map->slots = NULL;
    map->capacity = 0;
    map->count = 0;
}
