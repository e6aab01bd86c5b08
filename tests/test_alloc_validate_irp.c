/* test_alloc_validate_irp.c: KsValidateAllocatorCreateRequest on hand-built IRPs: the returned
 * copy and its owner (decisions Q3), wrong requests and NULL pointers (decisions, "Calls outside the
 * create path"), allocation failure, misaligned FileName. */
#include "ktest.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    IRP irp;
    IO_STACK_LOCATION stack[2];
    FILE_OBJECT file;
} fake_create;

static void fake_init(fake_create *c, PWSTR name, USHORT length, USHORT maximum)
{
    memset(c, 0, sizeof *c);
    c->irp.Tail.Overlay.CurrentStackLocation = &c->stack[1];
    c->stack[1].MajorFunction = IRP_MJ_CREATE;
    c->stack[1].FileObject = &c->file;
    c->file.FileName.Buffer = name;
    c->file.FileName.Length = length;
    c->file.FileName.MaximumLength = maximum;
}

static const KSALLOCATOR_FRAMING good = { { KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY | 2 }, PagedPool, 8, 4096,
                                          { FILE_LONG_ALIGNMENT }, 0 };

/* An exact-size heap name (as the I/O model hands out), so ASan sees any read past it. */
static PWSTR heap_name(const KSALLOCATOR_FRAMING *f, USHORT *bytes)
{
    static const WCHAR prefix[] = KSSTRING_Allocator L"\\";
    *bytes = (USHORT)(sizeof prefix - sizeof(WCHAR) + sizeof *f);
    UCHAR *p = malloc(*bytes);
    memcpy(p, prefix, sizeof prefix - sizeof(WCHAR));
    memcpy(p + sizeof prefix - sizeof(WCHAR), f, sizeof *f);
    return (PWSTR)p;
}

KTEST(alloc_validate, KsValidateAllocatorCreateRequest_returns_owned_copy)
{
    USHORT n;
    PWSTR name = heap_name(&good, &n);
    fake_create c;
    fake_init(&c, name, n, n);
    PKSALLOCATOR_FRAMING out = NULL;
    ASSERT_STATUS(KsValidateAllocatorCreateRequest(&c.irp, &out), STATUS_SUCCESS);
    ASSERT_TRUE(out != NULL);
    EXPECT_MEM_EQ(out, &good, sizeof good);
    EXPECT_TRUE((PUCHAR)out < (PUCHAR)name || (PUCHAR)out >= (PUCHAR)name + n); /* a copy, not a pointer into FileName */
    EXPECT_EQ(km_pool_outstanding_for_tag(0x4361734B /* KsaC */), 1);
    free(name); /* the copy outlives the name */
    EXPECT_EQ(out->FrameSize, 4096);
    ExFreePoolWithTag(out, 0x4361734B);
}

KTEST(alloc_validate, KsValidateAllocatorCreateRequest_bad_requests)
{
    USHORT n;
    PWSTR name = heap_name(&good, &n);
    fake_create c;
    PKSALLOCATOR_FRAMING out = (PKSALLOCATOR_FRAMING)1;
    fake_init(&c, name, n, n);
    c.stack[1].MajorFunction = IRP_MJ_DEVICE_CONTROL;
    EXPECT_STATUS(KsValidateAllocatorCreateRequest(&c.irp, &out), STATUS_INVALID_PARAMETER);
    EXPECT_TRUE(out == NULL);
    fake_init(&c, name, n, n);
    c.stack[1].FileObject = NULL;
    EXPECT_STATUS(KsValidateAllocatorCreateRequest(&c.irp, &out), STATUS_INVALID_PARAMETER);
    out = (PKSALLOCATOR_FRAMING)1;
    EXPECT_STATUS(KsValidateAllocatorCreateRequest(NULL, &out), STATUS_INVALID_PARAMETER);
    EXPECT_TRUE(out == NULL);
    fake_init(&c, name, n, n);
    c.irp.Tail.Overlay.CurrentStackLocation = NULL; /* an IRP never dispatched */
    out = (PKSALLOCATOR_FRAMING)1;
    EXPECT_STATUS(KsValidateAllocatorCreateRequest(&c.irp, &out), STATUS_INVALID_PARAMETER);
    EXPECT_TRUE(out == NULL);
    /* The create DDIs validate the request before they look at its stack location. */
    EXPECT_STATUS(KsCreateDefaultAllocator(&c.irp), STATUS_INVALID_PARAMETER);
    EXPECT_STATUS(KsCreateDefaultAllocatorEx(&c.irp, NULL, NULL, NULL, NULL, NULL), STATUS_INVALID_PARAMETER);
    EXPECT_STATUS(KsCreateDefaultAllocator(NULL), STATUS_INVALID_PARAMETER);
    EXPECT_STATUS(KsCreateDefaultAllocatorEx(NULL, NULL, NULL, NULL, NULL, NULL), STATUS_INVALID_PARAMETER);
    fake_init(&c, name, n, n);
    EXPECT_STATUS(KsValidateAllocatorCreateRequest(&c.irp, NULL), STATUS_INVALID_PARAMETER);
    fake_init(&c, name, (USHORT)(n - 2), n);
    EXPECT_STATUS(KsValidateAllocatorCreateRequest(&c.irp, &out), STATUS_INVALID_PARAMETER);
    EXPECT_TRUE(out == NULL);
    EXPECT_EQ(km_pool_outstanding_for_tag(0x4361734B), 0);
    free(name);
}

KTEST(alloc_validate, KsValidateAllocatorCreateRequest_pool_failure)
{
    USHORT n;
    PWSTR name = heap_name(&good, &n);
    fake_create c;
    fake_init(&c, name, n, n);
    km_fault_plan plan = { 0, 0, "KsaC" };
    km_fault_arm(&plan);
    PKSALLOCATOR_FRAMING out = (PKSALLOCATOR_FRAMING)1;
    EXPECT_STATUS(KsValidateAllocatorCreateRequest(&c.irp, &out), STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_TRUE(out == NULL);
    km_fault_disarm();
    free(name);
}

KTEST_NEGATIVE(alloc_validate, KsValidateAllocatorCreateRequest_above_apc_level, IRQL_PAGED_CODE)
{
    USHORT n;
    PWSTR name = heap_name(&good, &n);
    fake_create c;
    fake_init(&c, name, n, n);
    PKSALLOCATOR_FRAMING out;
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    (void)KsValidateAllocatorCreateRequest(&c.irp, &out);
}
