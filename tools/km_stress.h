/* km_stress.h: what km_stress's files share: the round-dependent delay and the cases in other files. */
#ifndef KM_STRESS_H
#define KM_STRESS_H

#include <stddef.h>

/* A delay that differs from round to round r: 1 to 2^(span-1) spins, on a log scale. */
static inline void st_spin(unsigned r, unsigned span)
{
    unsigned scale = 1u << (r % span);
    for (volatile unsigned spin = scale + (r * 7919u) % scale; spin != 0; spin--)
        ;
}

/* stress.create_completed_elsewhere (km_stress_create.c): how the rounds' creates ended. */
typedef struct {
    unsigned long long opened, abandoned;
} st_create_race;

/* Runs `rounds` rounds; NULL when every create ended consistently, else what went wrong (in `failure`
 * or a constant string). */
const char *st_create_race_run(unsigned rounds, st_create_race *out, char *failure, size_t size);

#endif /* KM_STRESS_H */
