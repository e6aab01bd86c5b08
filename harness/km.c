/* km.c: model lifecycle: runs the registered modules' reset, rundown and check hooks in order. */
#include "km_internal.h"

#include <stdlib.h>
#include <string.h>

static km_module *km_modules; /* sorted by order */
static uint64_t km_generation_count;

uint64_t km_generation(void) { return km_generation_count; }

void km_module_register(km_module *module)
{
    km_module **link = &km_modules;
    while (*link != NULL && (*link)->order <= module->order)
        link = &(*link)->next;
    module->next = *link;
    *link = module;
}

const char *km_basename(const char *path)
{
    const char *slash = path != NULL ? strrchr(path, '/') : NULL;
    return slash != NULL ? slash + 1 : (path != NULL ? path : "?");
}

void km_init(void)
{
    km_generation_count++;
    /* The only environment read in the model: the verifier level a user asked for. */
    const char *level = getenv("KM_VERIFIER_LEVEL");
    km_verifier_set_level(level != NULL && level[0] >= '0' && level[0] <= '9' ? atoi(level) : 3);
    for (km_module *m = km_modules; m != NULL; m = m->next)
        if (m->reset != NULL)
            m->reset();
}

void km_census_take(km_census *census)
{
    memset(census, 0, sizeof *census);
    for (km_module *m = km_modules; m != NULL; m = m->next)
        if (m->census != NULL)
            m->census(census);
}

bool km_census_equal(const km_census *a, const km_census *b) { return memcmp(a, b, sizeof *a) == 0; }

void km_rerun(void)
{
    for (km_module *m = km_modules; m != NULL; m = m->next)
        if (m->rerun != NULL)
            m->rerun();
}

void km_teardown(void)
{
    for (km_module *m = km_modules; m != NULL; m = m->next)
        if (m->rundown != NULL)
            m->rundown();
    for (km_module *m = km_modules; m != NULL; m = m->next)
        if (m->check != NULL)
            m->check();
}
