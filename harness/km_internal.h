/* km_internal.h: private to harness/: how modules hook into km_init / km_teardown. */
#ifndef KM_INTERNAL_H
#define KM_INTERNAL_H

#include "km/km.h"

/* A module registers itself from a constructor. km_init calls every reset in ascending order;
 * km_teardown calls every rundown in ascending order, then every check in ascending order.
 * Orders in use: io 10, ks 12, workitems 20, lookaside 40, irql 50, fault 89, pool 90. */
typedef struct km_module {
    const char *name;
    int order;
    void (*reset)(void);
    void (*rundown)(void);
    void (*check)(void);
    void (*census)(km_census *census); /* adds its counts of live resources (km_census_take) */
    void (*rerun)(void);               /* per-run state back to km_init's values, live objects kept (km_rerun) */
    struct km_module *next;
} km_module;

void km_module_register(km_module *module);

#define KM_MODULE(name_, order_, reset_, rundown_, check_, census_, rerun_) \
    static km_module km_module_##name_ = { #name_, order_, reset_, rundown_, check_, census_, rerun_, NULL }; \
    __attribute__((constructor)) static void km_module_register_##name_(void) \
    { \
        km_module_register(&km_module_##name_); \
    }

/* The basename of a path, for stable site names. */
const char *km_basename(const char *path);

#endif /* KM_INTERNAL_H */
