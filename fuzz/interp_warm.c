/* interp_warm.c: warm runs (op_run_config.warm): the model, the loaded test filter and the prologue's
 * filter and pin survive from one run to the next, so a fuzz target pays for km_init, the driver load,
 * the prologue and km_teardown once instead of per input. Sound only because every run must give the
 * model back as it found it: after the program's own objects are closed, the census (km_census_take)
 * must equal the one taken right after the prologue, or the run goes on down the cold path (close
 * the prologue's objects, km_teardown with its leak checks) and the next run starts cold. The trace
 * of a warm run is the trace the cold run would print: the prologue's lines are replayed from the
 * run that opened them. docs/operation-language.md, "Warm runs". */
#include "interp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    bool valid;
    bool prologue;    /* kept with the prologue's objects (runs without one need another model) */
    uint64_t generation; /* km_generation() when kept: a km_init since then made it stale */
    km_census census; /* the model right after the prologue */
    int object_count; /* the prologue's objects: ip.objects[0, object_count) */
    ip_object objects[2];
    int hslot[OP_SLOT_COUNT];
    unsigned handle_ordinals;
    op_trace text; /* the trace up to the end of the prologue */
} ip_warm;

static bool ip_in_use; /* the current run resumed or kept the warm state */

/* AFL++ builds start cold unless KM_FUZZ_COLD=0: warm, a few edges still depend on earlier inputs and
 * AFL++'s calibration counts them (session, 60 s: warm 7,044 exec/s at 99.88% stability, cold 5,020
 * exec/s at 100%). libFuzzer and replay builds run warm unless KM_FUZZ_COLD=1. */
#ifndef KM_FUZZ_COLD_DEFAULT
#define KM_FUZZ_COLD_DEFAULT 0
#endif

/* KM_FUZZ_COLD: 1 starts every run from km_init, 0 runs warm, unset or empty is the build's default;
 * anything else stops the process (exit 2): 'yes' or 'true' was ignored, so a user ruling out
 * history-dependent findings ran warm without knowing. */
static int ip_cold_from_env(void)
{
    const char *env = getenv("KM_FUZZ_COLD");
    if (env == NULL || env[0] == '\0')
        return KM_FUZZ_COLD_DEFAULT;
    if ((env[0] == '0' || env[0] == '1') && env[1] == '\0')
        return env[0] - '0';
    fprintf(stderr, "KM_FUZZ_COLD='%s': expected 0 or 1 (unset: %d)\n", env, KM_FUZZ_COLD_DEFAULT);
    exit(2);
}

static int ip_cold = -1; /* every run from km_init; read once, at start-up (ip_cold_asked) */

static int ip_cold_asked(void)
{
    if (ip_cold < 0)
        ip_cold = ip_cold_from_env();
    return ip_cold;
}

/* Checked at start-up, so a bad value stops a fuzzer before its first input, not during it. */
__attribute__((constructor)) static void ip_cold_env_check(void) { (void)ip_cold_asked(); }

bool ip_warm_wanted(const op_run_config *config)
{
    return config->warm && !config->external_faults && config->outcome == NULL && !ip_cold_asked();
}

/* A model someone else re-initialised (a test's own km_init) is not ours to tear down any more. */
static void ip_warm_forget_stale(void)
{
    if (ip_warm.valid && ip_warm.generation != km_generation())
        ip_warm.valid = false;
}

bool ip_warm_resume(void)
{
    ip_warm_forget_stale();
    if (ip_warm.valid && ip_warm.prologue != ip.config->prologue)
        ip_warm_discard();
    ip_in_use = ip_warm.valid;
    if (!ip_in_use)
        return false;
    km_rerun();
    memcpy(ip.objects, ip_warm.objects, sizeof ip_warm.objects);
    ip.object_count = ip_warm.object_count;
    memcpy(ip.hslot, ip_warm.hslot, sizeof ip.hslot);
    ip_handle_ordinals_set(ip_warm.handle_ordinals);
    if (ip.trace != NULL)
        tr_append(ip.trace, ip_warm.text.text != NULL ? ip_warm.text.text : "", ip_warm.text.len);
    return true;
}

void ip_warm_keep(unsigned handle_ordinals)
{
    bool opened = ip.object_count == (ip.config->prologue ? 2 : 0) && ip.trace != NULL && km_io_pending_count() == 0;
    for (int i = 0; i < ip.object_count; i++)
        opened = opened && ip.objects[i].open;
    if (!opened)
        return;
    km_census_take(&ip_warm.census);
    memcpy(ip_warm.objects, ip.objects, sizeof ip_warm.objects);
    ip_warm.object_count = ip.object_count;
    memcpy(ip_warm.hslot, ip.hslot, sizeof ip.hslot);
    ip_warm.handle_ordinals = handle_ordinals;
    ip_warm.prologue = ip.config->prologue;
    ip_warm.generation = km_generation();
    ip_warm.text.len = 0;
    tr_append(&ip_warm.text, ip.trace->text != NULL ? ip.trace->text : "", ip.trace->len);
    ip_warm.valid = ip_in_use = true;
}

void ip_warm_discard(void)
{
    ip_in_use = false;
    ip_warm_forget_stale();
    if (!ip_warm.valid)
        return;
    ip_warm.valid = false;
    for (int i = ip_warm.object_count - 1; i >= 0; i--)
        (void)ZwClose(ip_warm.objects[i].handle);
    km_teardown();
}

bool ip_warm_ready(void)
{
    ip_warm_forget_stale();
    return ip_warm.valid;
}

bool ip_warm_in_use(void) { return ip_in_use; }

int ip_warm_objects(void) { return ip_warm.object_count; }

/* After the program's objects are closed: true when the model holds exactly what the prologue left
 * (the interpreter's own event handles apart, which are closed here), so the state is kept. */
bool ip_warm_quiescent(void)
{
    if (!ip_in_use)
        return false;
    ip_in_use = false;
    km_census now;
    km_census_take(&now);
    uint64_t event_handles = 0;
    for (int i = 0; i < ip.event_count; i++)
        event_handles += ip.events[i].event_handle != NULL;
    now.handles -= event_handles <= now.handles ? event_handles : now.handles;
    bool same = km_census_equal(&now, &ip_warm.census);
    for (int i = 0; same && i < ip_warm.object_count; i++)
        same = ip.objects[i].open && ip.objects[i].handle == ip_warm.objects[i].handle;
    if (!same) {
        ip_warm.valid = false;
        return false;
    }
    for (int i = 0; i < ip.event_count; i++)
        if (ip.events[i].event_handle != NULL) {
            (void)ZwClose(ip.events[i].event_handle);
            ip.events[i].event_handle = NULL;
        }
    return true;
}
