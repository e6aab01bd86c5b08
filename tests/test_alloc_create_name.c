/* test_alloc_create_name.c: the allocator create name: parsing FileName (decisions Q2, Q18), the
 * KSALLOCATOR_FRAMING field rules (Q1, Q6, Q16) and the name KsCreateAllocator builds. */
#include "ktest.h"
#include "../allocator/ksa_internal.h"

#include <string.h>

static const KSALLOCATOR_FRAMING good_framing = { { KSALLOCATOR_OPTIONF_SYSTEM_MEMORY }, NonPagedPool, 8, 4096,
                                                  { FILE_LONG_ALIGNMENT }, 0 };

/* A name buffer with room for slack; Buffer starts 2-mod-4 past an aligned base when `odd` so the
 * parameters land on a 4-aligned address too (both placements must parse). */
typedef struct {
    _Alignas(8) UCHAR bytes[256];
    UNICODE_STRING name;
} name_buf;

static size_t wlen(const WCHAR *s)
{
    size_t n = 0;
    while (s[n] != 0)
        n++;
    return n; /* not wcslen: glibc's wchar_t is 32-bit, ours is 16 (-fshort-wchar) */
}

static void make_name(name_buf *b, const WCHAR *prefix, const void *params, size_t param_bytes, int odd)
{
    memset(b->bytes, 0xAB, sizeof b->bytes);
    UCHAR *p = b->bytes + (odd ? 2 : 0);
    size_t plen = prefix != NULL ? wlen(prefix) * sizeof(WCHAR) : 0;
    if (plen != 0)
        memcpy(p, prefix, plen);
    if (param_bytes != 0)
        memcpy(p + plen, params, param_bytes);
    b->name.Buffer = (PWSTR)p;
    b->name.Length = (USHORT)(plen + param_bytes);
    b->name.MaximumLength = b->name.Length;
}

static NTSTATUS parse_with(const KSALLOCATOR_FRAMING *f, KSALLOCATOR_FRAMING *out)
{
    name_buf b;
    make_name(&b, KSSTRING_Allocator L"\\", f, sizeof *f, 0);
    return ksa_parse_create_name(&b.name, out);
}

KTEST(alloc_name, parse_valid_name)
{
    name_buf b;
    KSALLOCATOR_FRAMING out;
    make_name(&b, KSSTRING_Allocator L"\\", &good_framing, sizeof good_framing, 0);
    EXPECT_EQ(b.name.Length, 102);
    memset(&out, 0, sizeof out);
    EXPECT_STATUS(ksa_parse_create_name(&b.name, &out), STATUS_SUCCESS);
    EXPECT_MEM_EQ(&out, &good_framing, sizeof out);
}

KTEST(alloc_name, parse_unaligned_buffer)
{
    name_buf b;
    KSALLOCATOR_FRAMING out;
    make_name(&b, KSSTRING_Allocator L"\\", &good_framing, sizeof good_framing, 1);
    EXPECT_STATUS(ksa_parse_create_name(&b.name, &out), STATUS_SUCCESS);
    EXPECT_MEM_EQ(&out, &good_framing, sizeof out);
}

KTEST(alloc_name, parse_leading_backslash_allowed_once)
{
    name_buf b;
    KSALLOCATOR_FRAMING out;
    make_name(&b, L"\\" KSSTRING_Allocator L"\\", &good_framing, sizeof good_framing, 0);
    EXPECT_STATUS(ksa_parse_create_name(&b.name, &out), STATUS_SUCCESS);
    make_name(&b, L"\\\\" KSSTRING_Allocator L"\\", &good_framing, sizeof good_framing, 0);
    EXPECT_STATUS(ksa_parse_create_name(&b.name, &out), STATUS_INVALID_PARAMETER);
}

KTEST(alloc_name, parse_class_case_insensitive)
{
    name_buf b;
    KSALLOCATOR_FRAMING out;
    make_name(&b, L"{642f5d00-4791-11d0-a5d6-28db04c10000}\\", &good_framing, sizeof good_framing, 0);
    EXPECT_STATUS(ksa_parse_create_name(&b.name, &out), STATUS_SUCCESS);
}

KTEST(alloc_name, parse_wrong_class_rejected)
{
    name_buf b;
    KSALLOCATOR_FRAMING out;
    make_name(&b, KSSTRING_AllocatorEx L"\\", &good_framing, sizeof good_framing, 0);
    EXPECT_STATUS(ksa_parse_create_name(&b.name, &out), STATUS_INVALID_PARAMETER);
    make_name(&b, KSSTRING_Pin L"\\", &good_framing, sizeof good_framing, 0);
    EXPECT_STATUS(ksa_parse_create_name(&b.name, &out), STATUS_INVALID_PARAMETER);
}

KTEST(alloc_name, parse_separator_required)
{
    name_buf b;
    KSALLOCATOR_FRAMING out;
    make_name(&b, KSSTRING_Allocator L"/", &good_framing, sizeof good_framing, 0);
    EXPECT_STATUS(ksa_parse_create_name(&b.name, &out), STATUS_INVALID_PARAMETER);
    make_name(&b, KSSTRING_Allocator, NULL, 0, 0);
    EXPECT_STATUS(ksa_parse_create_name(&b.name, &out), STATUS_INVALID_PARAMETER);
    make_name(&b, KSSTRING_Allocator L"\\", NULL, 0, 0);
    EXPECT_STATUS(ksa_parse_create_name(&b.name, &out), STATUS_INVALID_PARAMETER);
}

KTEST(alloc_name, parse_blob_must_be_exactly_24_bytes)
{
    UCHAR blob[32];
    memset(blob, 0, sizeof blob);
    memcpy(blob, &good_framing, sizeof good_framing);
    static const size_t sizes[] = { 0, 2, 22, 26, 28, 32 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        name_buf b;
        KSALLOCATOR_FRAMING out;
        make_name(&b, KSSTRING_Allocator L"\\", blob, sizes[i], 0);
        EXPECT_STATUS(ksa_parse_create_name(&b.name, &out), STATUS_INVALID_PARAMETER);
    }
}

KTEST(alloc_name, parse_uses_length_not_maximum_length)
{
    name_buf b;
    KSALLOCATOR_FRAMING out;
    /* 24 good bytes within Length, slack (including a NUL) beyond it: slack is ignored. */
    make_name(&b, KSSTRING_Allocator L"\\", &good_framing, sizeof good_framing, 0);
    b.name.MaximumLength = 104;
    EXPECT_STATUS(ksa_parse_create_name(&b.name, &out), STATUS_SUCCESS);
    /* 22 bytes within Length and 24 within MaximumLength: refused (ReactOS V2 would accept). */
    b.name.Length = 100;
    EXPECT_STATUS(ksa_parse_create_name(&b.name, &out), STATUS_INVALID_PARAMETER);
}

KTEST(alloc_name, parse_corrupt_strings_rejected)
{
    name_buf b;
    KSALLOCATOR_FRAMING out;
    make_name(&b, KSSTRING_Allocator L"\\", &good_framing, sizeof good_framing, 0);
    UNICODE_STRING s = b.name;
    s.Length = 101; /* odd */
    s.MaximumLength = 102;
    EXPECT_STATUS(ksa_parse_create_name(&s, &out), STATUS_INVALID_PARAMETER);
    s = b.name;
    s.MaximumLength = 100; /* Length > MaximumLength */
    EXPECT_STATUS(ksa_parse_create_name(&s, &out), STATUS_INVALID_PARAMETER);
    s = b.name;
    s.Buffer = NULL;
    EXPECT_STATUS(ksa_parse_create_name(&s, &out), STATUS_INVALID_PARAMETER);
    s.Length = s.MaximumLength = 0;
    EXPECT_STATUS(ksa_parse_create_name(&s, &out), STATUS_INVALID_PARAMETER);
    EXPECT_STATUS(ksa_parse_create_name(NULL, &out), STATUS_INVALID_PARAMETER);
}

KTEST(alloc_name, parse_failure_leaves_output_untouched)
{
    KSALLOCATOR_FRAMING f = good_framing, out;
    f.FrameSize = 0;
    memset(&out, 0x5A, sizeof out);
    EXPECT_STATUS(parse_with(&f, &out), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(out.FrameSize, 0x5A5A5A5A);
}

KTEST(alloc_name, framing_options_flags_mask)
{
    KSALLOCATOR_FRAMING f = good_framing, out;
    for (int bit = 0; bit < 32; bit++) {
        f.OptionsFlags = 1u << bit;
        NTSTATUS expected = ((1u << bit) & 0x8000001Fu) ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
        EXPECT_STATUS(parse_with(&f, &out), expected);
    }
    f.OptionsFlags = 0x8000001F;
    EXPECT_STATUS(parse_with(&f, &out), STATUS_SUCCESS);
    f.OptionsFlags = 0;
    EXPECT_STATUS(parse_with(&f, &out), STATUS_SUCCESS);
}

KTEST(alloc_name, framing_pool_types)
{
    KSALLOCATOR_FRAMING f = good_framing, out;
    static const ULONG ok[] = { 0, 1, 512 };
    static const ULONG bad[] = { 2, 3, 4, 5, 6, 7, 32, 33, 34, 36, 37, 38, 513, 516, 544, 0xFFFFFFFF, 0x80000000 };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        f.PoolType = (POOL_TYPE)ok[i];
        EXPECT_STATUS(parse_with(&f, &out), STATUS_SUCCESS);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f.PoolType = (POOL_TYPE)bad[i];
        EXPECT_STATUS(parse_with(&f, &out), STATUS_INVALID_PARAMETER);
    }
}

KTEST(alloc_name, framing_frames_any_value)
{
    KSALLOCATOR_FRAMING f = good_framing, out;
    static const ULONG v[] = { 0, 1, 2, 0x7FFFFFFF, 0xFFFFFFFF };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        f.Frames = v[i];
        EXPECT_STATUS(parse_with(&f, &out), STATUS_SUCCESS);
        EXPECT_EQ(out.Frames, v[i]);
    }
}

KTEST(alloc_name, framing_frame_size)
{
    KSALLOCATOR_FRAMING f = good_framing, out;
    f.FrameSize = 0;
    EXPECT_STATUS(parse_with(&f, &out), STATUS_INVALID_PARAMETER);
    static const ULONG ok[] = { 1, 15, 16, 4096, 0x7FFFFFFF };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        f.FrameSize = ok[i];
        EXPECT_STATUS(parse_with(&f, &out), STATUS_SUCCESS);
    }
    /* decisions Q1: above MAXLONG a frame block would no longer be a ULONG-sized lookaside entry
     * (found by the framing seed frames_sizes.ops: 0xFFFFFFFF reached the lookaside as 4294967319). */
    static const ULONG too_big[] = { 0x80000000, 0xFFFFF000, 0xFFFFFFFF };
    for (size_t i = 0; i < sizeof too_big / sizeof too_big[0]; i++) {
        f.FrameSize = too_big[i];
        EXPECT_STATUS(parse_with(&f, &out), STATUS_INVALID_PARAMETER);
    }
}

KTEST(alloc_name, framing_file_alignment_every_value_up_to_page)
{
    /* CVE-2024-38245: only masks 2^n-1 up to 0xFFF are alignments. */
    KSALLOCATOR_FRAMING f = good_framing, out;
    for (ULONG a = 0; a <= 0x1001; a++) {
        f.FileAlignment = a;
        BOOLEAN mask = (a & (a + 1)) == 0 && a <= 0xFFF;
        EXPECT_STATUS(parse_with(&f, &out), mask ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER);
    }
    static const ULONG big[] = { 0x1FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000 };
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        f.FileAlignment = big[i];
        EXPECT_STATUS(parse_with(&f, &out), STATUS_INVALID_PARAMETER);
    }
    f.FramePitch = -1; /* decisions Q16: never a pitch */
    EXPECT_STATUS(parse_with(&f, &out), STATUS_INVALID_PARAMETER);
}

KTEST(alloc_name, framing_reserved_must_be_zero)
{
    KSALLOCATOR_FRAMING f = good_framing, out;
    f.Reserved = 1;
    EXPECT_STATUS(parse_with(&f, &out), STATUS_INVALID_PARAMETER);
    f.Reserved = 0x80000000;
    EXPECT_STATUS(parse_with(&f, &out), STATUS_INVALID_PARAMETER);
}

KTEST(alloc_name, build_create_name_layout)
{
    WCHAR name[KSA_NAME_BYTES / sizeof(WCHAR)];
    ksa_build_create_name(name, &good_framing);
    EXPECT_MEM_EQ(name, KSSTRING_Allocator, 76);
    EXPECT_EQ(name[38], L'\\');
    EXPECT_MEM_EQ((UCHAR *)name + 78, &good_framing, 24);
    UNICODE_STRING s = { KSA_NAME_BYTES, KSA_NAME_BYTES, name };
    KSALLOCATOR_FRAMING out;
    EXPECT_STATUS(ksa_parse_create_name(&s, &out), STATUS_SUCCESS);
    EXPECT_MEM_EQ(&out, &good_framing, sizeof out);
}
