/* km/verifier.h: the Driver-Verifier-style checker. A violated check prints one stable line
 * "VERIFIER <ID>: <message> (<detail>)" to stderr and aborts, like a bugcheck. */
#ifndef KM_VERIFIER_H
#define KM_VERIFIER_H

#include <stdbool.h>

typedef enum {
#define KM_CHECK(id, level, msg) KM_V_##id,
#include "../../verifier_checks.def"
#undef KM_CHECK
    KM_V_COUNT
} km_check_id;

/* The active level: checks whose level is above it are skipped. Default 3 (everything); the
 * KM_VERIFIER_LEVEL environment variable (0..3; anything else exits 2), read by km_init, overrides it. */
void km_verifier_set_level(int level);
int km_verifier_level(void);
bool km_verifier_enabled(km_check_id id);

const char *km_verifier_id_name(km_check_id id);
const char *km_verifier_message(km_check_id id);
int km_verifier_check_level(km_check_id id);
/* Looks an ID up by name; returns KM_V_COUNT when unknown. */
km_check_id km_verifier_lookup(const char *name);

/* Reports a violation: runs the hook (if any), prints the stable line, aborts. The detail is a
 * printf-style string that must not contain pointers, so the line is reproducible. */
__attribute__((noreturn, format(printf, 2, 3))) void km_verifier_fail(km_check_id id, const char *fmt, ...);

/* Checks a condition at a check site: fails with `id` when the check is enabled and cond is false. */
#define KM_VERIFY(id, cond, ...) \
    do { \
        if (!(cond) && km_verifier_enabled(KM_V_##id)) \
            km_verifier_fail(KM_V_##id, __VA_ARGS__); \
    } while (0)

/* A hook runs just before the line is printed (the interpreter uses it to flush its trace). */
typedef void (*km_verifier_hook)(km_check_id id, const char *detail, void *context);
void km_verifier_set_hook(km_verifier_hook hook, void *context);

#endif /* KM_VERIFIER_H */
