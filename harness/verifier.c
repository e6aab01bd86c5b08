/* verifier.c: the verifier check table and the single place that reports a violation. */
#include "km/verifier.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int level;
    const char *message;
} km_checks[KM_V_COUNT] = {
#define KM_CHECK(id, level, msg) [KM_V_##id] = { #id, level, msg },
#include "verifier_checks.def"
#undef KM_CHECK
};

static int km_level = 3;
static km_verifier_hook km_hook;
static void *km_hook_context;

void km_verifier_set_level(int level) { km_level = level; }
int km_verifier_level(void) { return km_level; }

bool km_verifier_enabled(km_check_id id)
{
    return (unsigned)id < KM_V_COUNT && km_checks[id].level <= km_level;
}

const char *km_verifier_id_name(km_check_id id) { return (unsigned)id < KM_V_COUNT ? km_checks[id].name : "UNKNOWN"; }
const char *km_verifier_message(km_check_id id) { return (unsigned)id < KM_V_COUNT ? km_checks[id].message : ""; }
int km_verifier_check_level(km_check_id id) { return (unsigned)id < KM_V_COUNT ? km_checks[id].level : 0; }

km_check_id km_verifier_lookup(const char *name)
{
    for (int i = 0; i < KM_V_COUNT; i++)
        if (name != NULL && strcmp(km_checks[i].name, name) == 0)
            return (km_check_id)i;
    return KM_V_COUNT;
}

void km_verifier_set_hook(km_verifier_hook hook, void *context)
{
    km_hook = hook;
    km_hook_context = context;
}

void km_verifier_fail(km_check_id id, const char *fmt, ...)
{
    char detail[512] = "";
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
    }
    km_verifier_hook hook = km_hook;
    km_hook = NULL; /* a hook that trips a check must not recurse */
    if (hook != NULL)
        hook(id, detail, km_hook_context);
    fflush(stdout);
    if (detail[0] != '\0')
        fprintf(stderr, "VERIFIER %s: %s (%s)\n", km_verifier_id_name(id), km_verifier_message(id), detail);
    else
        fprintf(stderr, "VERIFIER %s: %s\n", km_verifier_id_name(id), km_verifier_message(id));
    fflush(stderr);
    abort();
}
