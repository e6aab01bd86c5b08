/* test_verifier.c: the verifier table itself: names, levels, lookup, and that every check has a negative test. */
#include "ktest.h"

#include <string.h>

KTEST(verifier, km_verifier_lookup_finds_every_check)
{
    for (int i = 0; i < KM_V_COUNT; i++) {
        EXPECT_EQ(km_verifier_lookup(km_verifier_id_name((km_check_id)i)), i);
        EXPECT_TRUE(km_verifier_message((km_check_id)i)[0] != '\0');
        EXPECT_TRUE(km_verifier_check_level((km_check_id)i) >= 1 && km_verifier_check_level((km_check_id)i) <= 3);
    }
    EXPECT_EQ(km_verifier_lookup("NO_SUCH_CHECK"), KM_V_COUNT);
    EXPECT_EQ(km_verifier_lookup(NULL), KM_V_COUNT);
}

KTEST(verifier, km_verifier_enabled_follows_level)
{
    km_verifier_set_level(0);
    EXPECT_FALSE(km_verifier_enabled(KM_V_POOL_LEAK));
    km_verifier_set_level(3);
    EXPECT_TRUE(km_verifier_enabled(KM_V_POOL_LEAK));
    EXPECT_FALSE(km_verifier_enabled(KM_V_COUNT));
}

KTEST(verifier, every_check_has_a_negative_test)
{
    for (int i = 0; i < KM_V_COUNT; i++) {
        const char *id = km_verifier_id_name((km_check_id)i);
        int found = 0;
        for (const ktest_case *tc = ktest_all(); tc != NULL; tc = tc->next)
            found += tc->expect_check != NULL && strcmp(tc->expect_check, id) == 0;
        if (!found)
            ktest_fail_at(__FILE__, __LINE__, "verifier check %s has no KTEST_NEGATIVE", id);
    }
}

KTEST(status, km_status_name_knows_common_values)
{
    EXPECT_TRUE(strcmp(km_status_name(STATUS_SUCCESS), "STATUS_SUCCESS") == 0);
    EXPECT_TRUE(strcmp(km_status_name(STATUS_INVALID_PARAMETER), "STATUS_INVALID_PARAMETER") == 0);
    EXPECT_TRUE(km_status_name((NTSTATUS)0xC0DEC0DE) == NULL);
}
