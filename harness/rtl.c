/* rtl.c: the run-time library routines of wdm.h: counted Unicode strings and GUID text (the NTSTATUS
 * to Win32 error table that user-mode KsCreateAllocator results pass through, Q7, is rtl_status.c). */
#include "irql_internal.h"

#include "winerror.h"

/* DDI wdm/nf-wdm-rtlinitunicodestring: MaximumLength covers the terminating NUL. */
VOID RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString)
{
    KM_VERIFY(API_INVALID_PARAMETER, DestinationString != NULL, "RtlInitUnicodeString(NULL, ...)");
    size_t n = 0;
    if (SourceString != NULL)
        while (SourceString[n] != 0)
            n++;
    /* A counted string holds at most MAXUSHORT bytes; longer sources are a caller bug here. */
    KM_VERIFY(API_INVALID_PARAMETER, n * sizeof(WCHAR) <= MAXUSHORT - sizeof(WCHAR),
              "RtlInitUnicodeString of %zu characters", n);
    DestinationString->Length = (USHORT)(n * sizeof(WCHAR));
    DestinationString->MaximumLength = SourceString != NULL ? (USHORT)((n + 1) * sizeof(WCHAR)) : 0;
    DestinationString->Buffer = (PWSTR)SourceString;
}

/* DDI wdm/nf-wdm-rtlupcaseunicodechar. Only ASCII and Latin-1 are modelled, not the full Unicode
 * case table: KS names are GUIDs and ASCII, so nothing the allocator sees needs more. */
WCHAR RtlUpcaseUnicodeChar(WCHAR SourceCharacter)
{
    WCHAR c = SourceCharacter;
    if (c >= 'a' && c <= 'z')
        return (WCHAR)(c - ('a' - 'A'));
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7) /* Latin-1 small letters, except the division sign */
        return (WCHAR)(c - 0x20);
    if (c == 0xFF) /* y with diaeresis upcases outside Latin-1 */
        return 0x178;
    return c;
}

static void km_rtl_check_string(PCUNICODE_STRING s, const char *routine)
{
    KM_VERIFY(API_INVALID_PARAMETER, s != NULL, "%s with a NULL string", routine);
    /* An odd Length is not an error: the routines use Length / sizeof(WCHAR) units, so a fuzzed
     * name with an odd length reaches the driver's comparisons as it would on Windows. */
    KM_VERIFY(API_INVALID_PARAMETER, s->Length == 0 || s->Buffer != NULL, "%s with Length %u and no Buffer", routine,
              s->Length);
}

/* Compares the first n units; returns the difference of the first mismatch, 0 when equal. */
static LONG km_rtl_compare_units(PCWSTR a, PCWSTR b, size_t n, BOOLEAN CaseInSensitive)
{
    for (size_t i = 0; i < n; i++) {
        WCHAR x = a[i], y = b[i];
        if (CaseInSensitive) {
            x = RtlUpcaseUnicodeChar(x);
            y = RtlUpcaseUnicodeChar(y);
        }
        if (x != y)
            return (LONG)x - (LONG)y;
    }
    return 0;
}

/* DDI wdm/nf-wdm-rtlcompareunicodestring: the first differing unit decides, else the length. */
LONG RtlCompareUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2, BOOLEAN CaseInSensitive)
{
    km_rtl_check_string(String1, "RtlCompareUnicodeString");
    km_rtl_check_string(String2, "RtlCompareUnicodeString");
    size_t n1 = String1->Length / sizeof(WCHAR), n2 = String2->Length / sizeof(WCHAR);
    LONG d = km_rtl_compare_units(String1->Buffer, String2->Buffer, n1 < n2 ? n1 : n2, CaseInSensitive);
    return d != 0 ? d : (LONG)n1 - (LONG)n2;
}

/* DDI wdm/nf-wdm-rtlequalunicodestring. */
BOOLEAN RtlEqualUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2, BOOLEAN CaseInSensitive)
{
    km_rtl_check_string(String1, "RtlEqualUnicodeString");
    km_rtl_check_string(String2, "RtlEqualUnicodeString");
    return String1->Length / sizeof(WCHAR) == String2->Length / sizeof(WCHAR) &&
           km_rtl_compare_units(String1->Buffer, String2->Buffer, String1->Length / sizeof(WCHAR), CaseInSensitive) == 0;
}

/* DDI wdm/nf-wdm-rtlprefixunicodestring: is String1 a prefix of String2? */
BOOLEAN RtlPrefixUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2, BOOLEAN CaseInSensitive)
{
    km_rtl_check_string(String1, "RtlPrefixUnicodeString");
    km_rtl_check_string(String2, "RtlPrefixUnicodeString");
    return String1->Length / sizeof(WCHAR) <= String2->Length / sizeof(WCHAR) &&
           km_rtl_compare_units(String1->Buffer, String2->Buffer, String1->Length / sizeof(WCHAR), CaseInSensitive) == 0;
}

/* DDI wdm/nf-wdm-rtlfreeunicodestring: frees a buffer an Rtl routine allocated. */
VOID RtlFreeUnicodeString(PUNICODE_STRING UnicodeString)
{
    KM_VERIFY(API_INVALID_PARAMETER, UnicodeString != NULL, "RtlFreeUnicodeString(NULL)");
    if (UnicodeString->Buffer != NULL)
        ExFreePool(UnicodeString->Buffer);
    UnicodeString->Buffer = NULL;
    UnicodeString->Length = UnicodeString->MaximumLength = 0;
}

/* ---- GUID text: "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}", 38 characters -------------------- */
#define KM_GUID_CHARS 38
/* Where each of the 16 bytes' two hex digits sit in the text, in GUID field order. */
static const unsigned char km_guid_digit_at[16] = { 1, 3, 5, 7, 10, 12, 15, 17, 20, 22, 25, 27, 29, 31, 33, 35 };

static void km_guid_bytes(const GUID *g, UCHAR out[16])
{
    for (int i = 0; i < 4; i++)
        out[i] = (UCHAR)(g->Data1 >> (24 - 8 * i));
    out[4] = (UCHAR)(g->Data2 >> 8), out[5] = (UCHAR)g->Data2;
    out[6] = (UCHAR)(g->Data3 >> 8), out[7] = (UCHAR)g->Data3;
    for (int i = 0; i < 8; i++)
        out[8 + i] = g->Data4[i];
}

/* DDI wdm/nf-wdm-rtlstringfromguid: upper-case text in a paged-pool buffer RtlFreeUnicodeString frees. */
NTSTATUS RtlStringFromGUID(REFGUID Guid, PUNICODE_STRING GuidString)
{
    KM_VERIFY(API_INVALID_PARAMETER, Guid != NULL && GuidString != NULL, "RtlStringFromGUID with a NULL argument");
    km_require_irql_at_most(APC_LEVEL, "RtlStringFromGUID"); /* it allocates paged pool */
    PWSTR text = ExAllocatePoolWithTag(PagedPool, (KM_GUID_CHARS + 1) * sizeof(WCHAR), 0x67727453 /* 'Strg' */);
    if (text == NULL)
        return STATUS_NO_MEMORY;
    static const char hex[] = "0123456789ABCDEF";
    UCHAR bytes[16];
    km_guid_bytes(Guid, bytes);
    for (int i = 0; i < KM_GUID_CHARS; i++)
        text[i] = '-';
    text[0] = '{';
    text[KM_GUID_CHARS - 1] = '}';
    text[KM_GUID_CHARS] = 0;
    for (int i = 0; i < 16; i++) {
        text[km_guid_digit_at[i]] = (WCHAR)hex[bytes[i] >> 4];
        text[km_guid_digit_at[i] + 1] = (WCHAR)hex[bytes[i] & 15];
    }
    GuidString->Buffer = text;
    GuidString->Length = KM_GUID_CHARS * sizeof(WCHAR);
    GuidString->MaximumLength = (KM_GUID_CHARS + 1) * sizeof(WCHAR);
    return STATUS_SUCCESS;
}

static int km_hex_value(WCHAR c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* DDI wdm/nf-wdm-rtlguidfromstring: strict: exactly the braced 38-character form, any hex case. */
NTSTATUS RtlGUIDFromString(PCUNICODE_STRING GuidString, GUID *Guid)
{
    km_rtl_check_string(GuidString, "RtlGUIDFromString");
    KM_VERIFY(API_INVALID_PARAMETER, Guid != NULL, "RtlGUIDFromString with a NULL GUID");
    if (GuidString->Length != KM_GUID_CHARS * sizeof(WCHAR))
        return STATUS_INVALID_PARAMETER;
    PCWSTR s = GuidString->Buffer;
    if (s[0] != '{' || s[37] != '}' || s[9] != '-' || s[14] != '-' || s[19] != '-' || s[24] != '-')
        return STATUS_INVALID_PARAMETER;
    UCHAR b[16];
    for (int i = 0; i < 16; i++) {
        int hi = km_hex_value(s[km_guid_digit_at[i]]), lo = km_hex_value(s[km_guid_digit_at[i] + 1]);
        if (hi < 0 || lo < 0)
            return STATUS_INVALID_PARAMETER;
        b[i] = (UCHAR)(hi << 4 | lo);
    }
    Guid->Data1 = (ULONG)b[0] << 24 | (ULONG)b[1] << 16 | (ULONG)b[2] << 8 | b[3];
    Guid->Data2 = (USHORT)(b[4] << 8 | b[5]);
    Guid->Data3 = (USHORT)(b[6] << 8 | b[7]);
    memcpy(Guid->Data4, b + 8, 8);
    return STATUS_SUCCESS;
}
