/* ktest.h: the unit-test header: self-registering cases, expectations with exact NTSTATUS
 * comparison, skips, and negative tests that must trip exactly one verifier check.
 * Each case runs in its own process with a fresh kernel model (km_init .. km_teardown). */
#ifndef KTEST_H
#define KTEST_H

#include <stdint.h>
#include <stdio.h>

#include "km/km.h"

typedef struct ktest_case {
    const char *suite;
    const char *name;
    void (*fn)(void);
    const char *expect_check; /* negative test: the verifier ID it must trip; NULL otherwise */
    struct ktest_case *next;
} ktest_case;

void ktest_register(ktest_case *tc);
void ktest_fail_at(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
__attribute__((noreturn)) void ktest_skip(const char *reason);
__attribute__((noreturn)) void ktest_abort_case(void);
int ktest_failures(void);
const char *ktest_status_text(NTSTATUS status, char buf[32]);

#define KTEST_DEFINE_(suite, name, check) \
    static void ktest_fn_##suite##_##name(void); \
    static ktest_case ktest_case_##suite##_##name = { #suite, #name, ktest_fn_##suite##_##name, check, NULL }; \
    __attribute__((constructor)) static void ktest_reg_##suite##_##name(void) \
    { \
        ktest_register(&ktest_case_##suite##_##name); \
    } \
    static void ktest_fn_##suite##_##name(void)

/* KTEST(suite, Function_condition) { ... }  runs as "suite.Function_condition". */
#define KTEST(suite, name) KTEST_DEFINE_(suite, name, NULL)
/* A negative test passes only if the case aborts with "VERIFIER <CHECK>:" as its first finding. */
#define KTEST_NEGATIVE(suite, name, CHECK) KTEST_DEFINE_(suite, name, #CHECK)

#define EXPECT_TRUE(c) \
    do { \
        if (!(c)) \
            ktest_fail_at(__FILE__, __LINE__, "expected true: %s", #c); \
    } while (0)
#define EXPECT_FALSE(c) EXPECT_TRUE(!(c))
#define EXPECT_EQ(a, b) \
    do { \
        long long ktest_a_ = (long long)(a), ktest_b_ = (long long)(b); \
        if (ktest_a_ != ktest_b_) \
            ktest_fail_at(__FILE__, __LINE__, "%s == %s: %lld != %lld (0x%llx != 0x%llx)", #a, #b, ktest_a_, \
                          ktest_b_, (unsigned long long)ktest_a_, (unsigned long long)ktest_b_); \
    } while (0)
#define EXPECT_NE(a, b) \
    do { \
        long long ktest_a_ = (long long)(a), ktest_b_ = (long long)(b); \
        if (ktest_a_ == ktest_b_) \
            ktest_fail_at(__FILE__, __LINE__, "%s != %s: both %lld", #a, #b, ktest_a_); \
    } while (0)
#define EXPECT_STATUS(actual, expected) \
    do { \
        NTSTATUS ktest_s_ = (actual), ktest_e_ = (expected); \
        char ktest_b1_[32], ktest_b2_[32]; \
        if (ktest_s_ != ktest_e_) \
            ktest_fail_at(__FILE__, __LINE__, "%s: got %s, expected %s", #actual, \
                          ktest_status_text(ktest_s_, ktest_b1_), ktest_status_text(ktest_e_, ktest_b2_)); \
    } while (0)
#define EXPECT_MEM_EQ(a, b, n) \
    do { \
        if (memcmp((a), (b), (n)) != 0) \
            ktest_fail_at(__FILE__, __LINE__, "memory differs: %s vs %s (%zu bytes)", #a, #b, (size_t)(n)); \
    } while (0)
/* ASSERT_* stop the case at the first failure (use when later steps depend on this one). */
#define ASSERT_TRUE(c) \
    do { \
        if (!(c)) { \
            ktest_fail_at(__FILE__, __LINE__, "assertion failed: %s", #c); \
            ktest_abort_case(); \
        } \
    } while (0)
#define ASSERT_STATUS(actual, expected) \
    do { \
        int ktest_before_ = ktest_failures(); \
        EXPECT_STATUS(actual, expected); \
        if (ktest_failures() != ktest_before_) \
            ktest_abort_case(); \
    } while (0)
#define KTEST_SKIP(reason) ktest_skip(reason)


/* The registered cases (unsorted), for meta-tests such as "every verifier check has a negative test". */
const ktest_case *ktest_all(void);

#endif /* KTEST_H */
