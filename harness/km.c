/* km.c: model lifecycle: runs the registered modules' reset, rundown and check hooks in order. */
#include "km_internal.h"

#include <stdio.h>
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

/* The verifier level a user asked for: the only environment read in the model. Unset or empty means
 * 3; anything but one digit 0..3 stops the process (exit 2) rather than guess a level: "0abc" once
 * meant 0, every check off, and "bogus" meant 3. */
static int km_verifier_level_from_env(void)
{
    const char *level = getenv("KM_VERIFIER_LEVEL");
    if (level == NULL || level[0] == '\0')
        return 3;
    if (level[0] >= '0' && level[0] <= '3' && level[1] == '\0')
        return level[0] - '0';
    fprintf(stderr, "KM_VERIFIER_LEVEL='%s': expected 0, 1, 2 or 3 (unset: 3)\n", level);
    exit(2);
}

/* Read at start-up, so a bad value stops a program before it does anything (a fault sweep's parent, a
 * fuzzer before its first input) rather than in the middle of its first run; every km_init (one per
 * cold fuzz input) then restores that level without reading the environment again. */
static int km_env_verifier_level = -1;

static int km_verifier_level_asked(void)
{
    if (km_env_verifier_level < 0)
        km_env_verifier_level = km_verifier_level_from_env();
    return km_env_verifier_level;
}

__attribute__((constructor)) static void km_verifier_level_check(void) { (void)km_verifier_level_asked(); }

void km_init(void)
{
    km_generation_count++;
    km_verifier_set_level(km_verifier_level_asked());
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
