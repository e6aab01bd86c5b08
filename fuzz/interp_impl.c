/* interp_impl.c: which allocator implementation a run exercises (op_impl, interp.h): the test filter's
 * pin hosts the default allocator or its filter-specific one; the reference model is told, because the
 * filter-specific allocator deliberately ignores create_default_ex's callback set. */
#include "interp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ks_test_filter.h"

#ifndef KM_DEFAULT_IMPLEMENTATION
#define KM_DEFAULT_IMPLEMENTATION OP_IMPL_DEFAULT
#endif

static op_impl ip_impl_now = OP_IMPL_DEFAULT;

bool op_impl_parse(const char *name, op_impl *impl)
{
    if (strcmp(name, "default") == 0)
        *impl = OP_IMPL_DEFAULT;
    else if (strcmp(name, "filter-specific") == 0)
        *impl = OP_IMPL_FILTER_SPECIFIC;
    else
        return false;
    return true;
}

const char *op_impl_name(op_impl impl)
{
    return impl == OP_IMPL_FILTER_SPECIFIC ? "filter-specific" : impl == OP_IMPL_DEFAULT ? "default" : "build";
}

/* KM_IMPLEMENTATION: unset or empty is the build's default; anything but 'default' or 'filter-specific'
 * stops the process (exit 2) rather than pick an allocator the user did not ask for. */
static op_impl ip_impl_from_env(void)
{
    const char *env = getenv("KM_IMPLEMENTATION");
    op_impl impl;
    if (env == NULL || *env == '\0')
        return KM_DEFAULT_IMPLEMENTATION;
    if (op_impl_parse(env, &impl))
        return impl;
    fprintf(stderr, "KM_IMPLEMENTATION='%s': expected 'default' or 'filter-specific' (unset: %s)\n", env,
            op_impl_name(KM_DEFAULT_IMPLEMENTATION));
    exit(2);
}

/* Checked at start-up: read at the first operation, a bad value ended a fuzzer in the middle of its
 * first input, which the campaign recorded as a finding ("Unexpected exit in op_impl_resolve"). */
__attribute__((constructor)) static void ip_impl_env_check(void) { (void)op_impl_resolve(OP_IMPL_BUILD); }

op_impl op_impl_resolve(op_impl impl)
{
    static op_impl from_env = OP_IMPL_BUILD; /* read once: fuzz targets call op_run per input */
    if (impl != OP_IMPL_BUILD)
        return impl;
    if (from_env == OP_IMPL_BUILD)
        from_env = ip_impl_from_env();
    return from_env;
}

void ip_impl_begin(const op_run_config *config)
{
    ip_impl_now = op_impl_resolve(config != NULL ? config->implementation : OP_IMPL_BUILD);
    kstf_configure_pin_allocator(ip_impl_now == OP_IMPL_FILTER_SPECIFIC ? KSTF_PIN_FILTER_SPECIFIC
                                                                         : KSTF_PIN_DEFAULT_ALLOCATOR);
}

bool ip_filter_specific(void) { return ip_impl_now == OP_IMPL_FILTER_SPECIFIC; }
