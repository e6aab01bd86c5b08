/* pool_fault.c: fault plans: which pool allocation attempts fail (the Nth, a pair, or a site/tag). */
#include "core_internal.h"

#include <stdio.h>
#include <string.h>

static struct {
    km_fault_plan plan;
    char site[64]; /* the plan's site pattern, copied so the caller's string may go away */
    uint64_t attempts;
    uint64_t injected;
    char last_site[64]; /* the site of the most recent injected failure, for sweeps' site counts */
    bool armed;
} km_fault;

static pthread_mutex_t km_fault_lock = PTHREAD_MUTEX_INITIALIZER;

void km_fault_arm(const km_fault_plan *plan)
{
    pthread_mutex_lock(&km_fault_lock);
    km_fault.plan = *plan;
    km_fault.site[0] = '\0';
    if (plan->site != NULL) {
        snprintf(km_fault.site, sizeof km_fault.site, "%s", plan->site);
        km_fault.plan.site = km_fault.site;
    }
    __atomic_store_n(&km_fault.attempts, 0, __ATOMIC_RELEASE);
    km_fault.injected = 0;
    km_fault.last_site[0] = '\0';
    __atomic_store_n(&km_fault.armed, true, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&km_fault_lock);
}

void km_fault_disarm(void)
{
    pthread_mutex_lock(&km_fault_lock);
    __atomic_store_n(&km_fault.armed, false, __ATOMIC_RELEASE);
    km_fault.plan = (km_fault_plan){ 0 };
    km_fault.site[0] = '\0';
    pthread_mutex_unlock(&km_fault_lock);
}

uint64_t km_fault_attempts(void) { return __atomic_load_n(&km_fault.attempts, __ATOMIC_SEQ_CST); }
uint64_t km_fault_injected(void)
{
    pthread_mutex_lock(&km_fault_lock);
    uint64_t n = km_fault.injected;
    pthread_mutex_unlock(&km_fault_lock);
    return n;
}

/* A site pattern names a site ("file.c:123"), a whole file ("file.c"), or a tag (exactly 4 chars,
 * in memory order, as pool tools print tags). */
static bool km_fault_site_matches(const char *pattern, const char *site, ULONG tag)
{
    if (pattern[0] == '\0')
        return false;
    size_t n = strlen(pattern);
    if (n == 4 && memcmp(pattern, &tag, 4) == 0)
        return true;
    if (strcmp(pattern, site) == 0)
        return true;
    return strchr(pattern, ':') == NULL && strncmp(pattern, site, n) == 0 && site[n] == ':';
}

bool km_fault_should_fail(const char *site, ULONG tag)
{
    uint64_t n = __atomic_add_fetch(&km_fault.attempts, 1, __ATOMIC_ACQ_REL);
    if (!__atomic_load_n(&km_fault.armed, __ATOMIC_ACQUIRE)) /* the common case takes no lock */
        return false;
    pthread_mutex_lock(&km_fault_lock);
    bool fail = (km_fault.plan.fail_nth != 0 && n == km_fault.plan.fail_nth) ||
                (km_fault.plan.fail_nth_also != 0 && n == km_fault.plan.fail_nth_also) ||
                (km_fault.plan.site != NULL && km_fault_site_matches(km_fault.plan.site, site, tag));
    km_fault.injected += fail;
    if (fail)
        snprintf(km_fault.last_site, sizeof km_fault.last_site, "%s", site);
    pthread_mutex_unlock(&km_fault_lock);
    return fail;
}

const char *km_fault_last_site(void)
{
    static _Thread_local char copy[64]; /* a stable copy: the plan may fire again on another thread */
    pthread_mutex_lock(&km_fault_lock);
    memcpy(copy, km_fault.last_site, sizeof copy);
    pthread_mutex_unlock(&km_fault_lock);
    return copy[0] != '\0' ? copy : NULL;
}

static void km_fault_reset(void)
{
    km_fault_disarm();
    __atomic_store_n(&km_fault.attempts, 0, __ATOMIC_RELEASE);
    pthread_mutex_lock(&km_fault_lock);
    km_fault.injected = 0;
    km_fault.last_site[0] = '\0';
    pthread_mutex_unlock(&km_fault_lock);
}

KM_MODULE(fault, 89, km_fault_reset, NULL, NULL, NULL, km_fault_reset)
