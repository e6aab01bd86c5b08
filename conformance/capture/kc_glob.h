/* kc_glob.h: the --cases matcher; a header so the host self-test (tests/capture/kc_selftest.c) checks
 * the code the kit runs. Portable C, no Windows headers. */
#ifndef KC_GLOB_H
#define KC_GLOB_H

#include <stdbool.h>

/* A shell-style glob with * (any run, also empty) and ? (one byte) on the case id; every other byte
 * matches itself. One backtrack point, the last '*': the text before it matched as early as it could,
 * which never leaves less for the rest, so growing only the last star's span is enough. Time is at
 * most pattern length times id length (the recursive form was exponential in the number of stars). */
static inline bool kc_glob(const char *p, const char *s)
{
    const char *star = NULL;  /* the pattern just after the last run of '*' */
    const char *retry = NULL; /* where in s that star's span ends; it grows by one byte per retry */
    while (*s != 0) {
        if (*p == '*') {
            while (*p == '*') /* a run of stars is one star */
                p++;
            if (*p == 0)
                return true;
            star = p;
            retry = s;
        } else if (*p != 0 && (*p == '?' || *p == *s)) {
            p++;
            s++;
        } else if (star != NULL) { /* the last star takes one more byte */
            p = star;
            s = ++retry;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == 0;
}

#endif /* KC_GLOB_H */
