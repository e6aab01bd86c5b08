/* test_rtl.c: counted strings, case folding, GUID text and the NTSTATUS to Win32 table. */
#include "ktest.h"

KTEST(rtl, RtlInitUnicodeString_counts_bytes)
{
    UNICODE_STRING s;
    RtlInitUnicodeString(&s, L"abc");
    EXPECT_EQ(s.Length, 6);
    EXPECT_EQ(s.MaximumLength, 8);
    RtlInitUnicodeString(&s, L"");
    EXPECT_EQ(s.Length, 0);
    EXPECT_EQ(s.MaximumLength, 2);
    RtlInitUnicodeString(&s, NULL);
    EXPECT_EQ(s.Length, 0);
    EXPECT_EQ(s.MaximumLength, 0);
    EXPECT_TRUE(s.Buffer == NULL);
}

KTEST(rtl, RtlUpcaseUnicodeChar_ascii_and_latin1)
{
    EXPECT_EQ(RtlUpcaseUnicodeChar(L'a'), L'A');
    EXPECT_EQ(RtlUpcaseUnicodeChar(L'z'), L'Z');
    EXPECT_EQ(RtlUpcaseUnicodeChar(L'A'), L'A');
    EXPECT_EQ(RtlUpcaseUnicodeChar(L'{'), L'{');
    EXPECT_EQ(RtlUpcaseUnicodeChar(0xE9), 0xC9);
    EXPECT_EQ(RtlUpcaseUnicodeChar(0xF7), 0xF7);
    EXPECT_EQ(RtlUpcaseUnicodeChar(0xFF), 0x178);
}

KTEST(rtl, RtlCompareUnicodeString_first_difference_then_length)
{
    UNICODE_STRING a, b, c;
    RtlInitUnicodeString(&a, L"abc");
    RtlInitUnicodeString(&b, L"abd");
    RtlInitUnicodeString(&c, L"ab");
    EXPECT_EQ(RtlCompareUnicodeString(&a, &b, FALSE), L'c' - L'd');
    EXPECT_EQ(RtlCompareUnicodeString(&b, &a, FALSE), 1);
    EXPECT_TRUE(RtlCompareUnicodeString(&a, &c, FALSE) > 0); /* equal prefix: the longer is greater */
    EXPECT_TRUE(RtlCompareUnicodeString(&c, &a, FALSE) < 0);
    EXPECT_EQ(RtlCompareUnicodeString(&a, &a, FALSE), 0);
    UNICODE_STRING upper;
    RtlInitUnicodeString(&upper, L"ABC");
    EXPECT_TRUE(RtlCompareUnicodeString(&a, &upper, FALSE) > 0);
    EXPECT_EQ(RtlCompareUnicodeString(&a, &upper, TRUE), 0);
}

KTEST(rtl, RtlEqualUnicodeString_and_RtlPrefixUnicodeString)
{
    UNICODE_STRING a, b, p;
    RtlInitUnicodeString(&a, L"{8C134960-51AD-11CF-878A-94F801C10000}\\x");
    RtlInitUnicodeString(&b, L"{8c134960-51ad-11cf-878a-94f801c10000}\\X");
    RtlInitUnicodeString(&p, L"{8c134960");
    EXPECT_FALSE(RtlEqualUnicodeString(&a, &b, FALSE));
    EXPECT_TRUE(RtlEqualUnicodeString(&a, &b, TRUE));
    EXPECT_TRUE(RtlPrefixUnicodeString(&p, &b, FALSE));
    EXPECT_FALSE(RtlPrefixUnicodeString(&p, &a, FALSE));
    EXPECT_TRUE(RtlPrefixUnicodeString(&p, &a, TRUE));
    EXPECT_FALSE(RtlPrefixUnicodeString(&a, &p, TRUE));
    /* Counted strings are not NUL-terminated: only Length counts. */
    UNICODE_STRING cut = a;
    cut.Length = p.Length;
    EXPECT_TRUE(RtlEqualUnicodeString(&cut, &p, TRUE));
    cut.Length++; /* an odd byte count compares whole units only */
    EXPECT_TRUE(RtlEqualUnicodeString(&cut, &p, TRUE));
}

static const GUID rtl_guid = { 0x8C134960, 0x51AD, 0x11CF, { 0x87, 0x8A, 0x94, 0xF8, 0x01, 0xC1, 0x00, 0x00 } };

KTEST(rtl, RtlStringFromGUID_formats_upper_case_in_pool)
{
    UNICODE_STRING s, want;
    ASSERT_STATUS(RtlStringFromGUID(&rtl_guid, &s), STATUS_SUCCESS);
    RtlInitUnicodeString(&want, L"{8C134960-51AD-11CF-878A-94F801C10000}");
    EXPECT_EQ(s.Length, 76);
    EXPECT_EQ(s.MaximumLength, 78);
    EXPECT_TRUE(RtlEqualUnicodeString(&s, &want, FALSE));
    EXPECT_EQ(s.Buffer[38], 0);
    EXPECT_EQ(km_pool_outstanding_for_tag(0x67727453), 1);
    RtlFreeUnicodeString(&s);
    EXPECT_TRUE(s.Buffer == NULL);
    EXPECT_EQ(km_pool_outstanding_for_tag(0x67727453), 0);
}

KTEST(rtl, RtlStringFromGUID_allocation_failure)
{
    UNICODE_STRING s = { 0 };
    km_fault_arm(&(km_fault_plan){ .fail_nth = 1 });
    EXPECT_STATUS(RtlStringFromGUID(&rtl_guid, &s), STATUS_NO_MEMORY);
    EXPECT_TRUE(s.Buffer == NULL);
}

KTEST(rtl, RtlGUIDFromString_round_trip_any_case)
{
    UNICODE_STRING s;
    GUID g;
    RtlInitUnicodeString(&s, L"{8c134960-51ad-11cf-878a-94f801c10000}");
    ASSERT_STATUS(RtlGUIDFromString(&s, &g), STATUS_SUCCESS);
    EXPECT_TRUE(IsEqualGUID(&g, &rtl_guid));
}

KTEST(rtl, RtlGUIDFromString_rejects_malformed_text)
{
    static const PCWSTR bad[] = {
        L"8C134960-51AD-11CF-878A-94F801C10000",    /* no braces */
        L"{8C134960-51AD-11CF-878A-94F801C1000}",   /* short */
        L"{8C134960-51AD-11CF-878A-94F801C100000}", /* long */
        L"{8C134960_51AD-11CF-878A-94F801C10000}",  /* wrong separator */
        L"{8C134960-51AD-11CF-878A-94F801C1000G}",  /* not hex */
        L"(8C134960-51AD-11CF-878A-94F801C10000)",  /* wrong brackets */
        L"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        UNICODE_STRING s;
        GUID g;
        RtlInitUnicodeString(&s, bad[i]);
        EXPECT_STATUS(RtlGUIDFromString(&s, &g), STATUS_INVALID_PARAMETER);
    }
}

KTEST(rtl, RtlNtStatusToDosError_common_pairs)
{
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_SUCCESS), ERROR_SUCCESS);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_PENDING), ERROR_IO_PENDING);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_INVALID_PARAMETER), ERROR_INVALID_PARAMETER);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_INVALID_HANDLE), ERROR_INVALID_HANDLE);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_ACCESS_DENIED), ERROR_ACCESS_DENIED);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_NO_MEMORY), ERROR_NOT_ENOUGH_MEMORY);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_INSUFFICIENT_RESOURCES), ERROR_NO_SYSTEM_RESOURCES);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_OBJECT_NAME_NOT_FOUND), ERROR_FILE_NOT_FOUND);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_OBJECT_PATH_NOT_FOUND), ERROR_PATH_NOT_FOUND);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_OBJECT_NAME_INVALID), ERROR_INVALID_NAME);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_OBJECT_NAME_COLLISION), ERROR_ALREADY_EXISTS);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_BUFFER_TOO_SMALL), ERROR_INSUFFICIENT_BUFFER);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_BUFFER_OVERFLOW), ERROR_MORE_DATA);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_NOT_SUPPORTED), ERROR_NOT_SUPPORTED);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_INVALID_DEVICE_REQUEST), ERROR_INVALID_FUNCTION);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_NOT_FOUND), ERROR_NOT_FOUND);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_CANCELLED), ERROR_OPERATION_ABORTED);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_UNSUCCESSFUL), ERROR_GEN_FAILURE);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_NOT_IMPLEMENTED), ERROR_INVALID_FUNCTION);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_ACCESS_VIOLATION), ERROR_NOACCESS);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_INVALID_BUFFER_SIZE), ERROR_INVALID_USER_BUFFER);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_PROPSET_NOT_FOUND), ERROR_SET_NOT_FOUND);
    EXPECT_EQ(RtlNtStatusToDosError(STATUS_INTEGER_OVERFLOW), ERROR_ARITHMETIC_OVERFLOW);
    EXPECT_EQ(RtlNtStatusToDosError((NTSTATUS)0xC0DEC0DE), ERROR_MR_MID_NOT_FOUND);
}

KTEST(rtl, DbgPrint_returns_success)
{
    EXPECT_EQ(DbgPrint("%s %d\n", "frame", 3), STATUS_SUCCESS);
}
