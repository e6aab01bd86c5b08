/* interp_ddi.c: driver-side calls outside the I/O manager's create path: validate_irp
 * (KsValidateAllocatorCreateRequest on a hand-built IRP) and null_args (create DDIs given NULL
 * pointers). Both are PASSIVE_LEVEL DDIs (decisions Q17); the rules are docs/decisions.md,
 * "Calls outside the create path". */
#include "interp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ops.def classes `irpshape` and `nullargs` */
#define IP_SHAPE_NO_FILE_OBJECT 0x1u
#define IP_SHAPE_NULL_BUFFER 0x2u
#define IP_SHAPE_NULL_IRP 0x4u
#define IP_SHAPE_NULL_FRAMING 0x8u
#define IP_SHAPE_NO_STACK_LOCATION 0x10u
#define IP_NULL_IRP 0x1u
#define IP_NULL_FRAMING 0x2u
#define IP_NULL_HANDLE 0x4u
/* ops.def class `ddi` */
enum { IP_DDI_CREATE, IP_DDI_USER_CREATE, IP_DDI_DEFAULT, IP_DDI_DEFAULT_EX };

/* The IRP a driver's dispatch routine would be handed: one stack location, the current one. */
typedef struct ip_built_irp {
    IRP irp;
    IO_STACK_LOCATION stack[2];
    FILE_OBJECT file;
} ip_built_irp;

/* What the decisions say KsValidateAllocatorCreateRequest returns for this request (every refusal
 * is STATUS_INVALID_PARAMETER, so the order of the checks does not matter); *framing on success. */
static NTSTATUS ip_validate_expected(const op_args_validate_irp *x, const uint8_t *buffer, KSALLOCATOR_FRAMING *framing)
{
    const unsigned not_a_create = IP_SHAPE_NULL_IRP | IP_SHAPE_NULL_FRAMING | IP_SHAPE_NO_FILE_OBJECT |
                                  IP_SHAPE_NO_STACK_LOCATION;
    if ((x->shape & not_a_create) != 0 || x->major != IRP_MJ_CREATE)
        return STATUS_INVALID_PARAMETER; /* not an allocator create request */
    if (buffer == NULL || x->length % 2 != 0 || x->length > x->max_length)
        return STATUS_INVALID_PARAMETER; /* Q18 */
    if (!ip_raw_framing(buffer, x->length, framing))
        return STATUS_INVALID_PARAMETER; /* Q2 */
    return rm_framing_status(framing);   /* Q1, Q6 */
}

void ip_op_validate_irp(const op_args_validate_irp *x)
{
    KIRQL irql;
    if (!ip_op_irql(x->irql, PASSIVE_LEVEL, &irql))
        return;
    size_t size;
    uint8_t *buffer = (x->shape & IP_SHAPE_NULL_BUFFER) != 0 ? NULL : ip_name_buffer(x->name, x->max_length, &size);
    ip_built_irp b;
    memset(&b, 0, sizeof b);
    b.irp.Tail.Overlay.CurrentStackLocation = (x->shape & IP_SHAPE_NO_STACK_LOCATION) != 0 ? NULL : &b.stack[1];
    b.stack[1].MajorFunction = x->major;
    b.stack[1].FileObject = (x->shape & IP_SHAPE_NO_FILE_OBJECT) != 0 ? NULL : &b.file;
    b.file.FileName.Buffer = (PWSTR)(void *)buffer;
    b.file.FileName.Length = x->length;
    b.file.FileName.MaximumLength = x->max_length;
    PKSALLOCATOR_FRAMING copy = (PKSALLOCATOR_FRAMING)IP_BOGUS_FRAME; /* must be overwritten */
    ip_enter_irql(irql);
    NTSTATUS s = KsValidateAllocatorCreateRequest((x->shape & IP_SHAPE_NULL_IRP) != 0 ? NULL : &b.irp,
                                                  (x->shape & IP_SHAPE_NULL_FRAMING) != 0 ? NULL : &copy);
    ip_leave_irql(irql);
    ip_line_status(s);
    bool returned = NT_SUCCESS(s) && (x->shape & IP_SHAPE_NULL_FRAMING) == 0 && copy != NULL &&
                    copy != (PKSALLOCATOR_FRAMING)IP_BOGUS_FRAME;
    if (returned)
        ip_line_out((const uint8_t *)copy, sizeof *copy, IP_OUT_PLAIN);
    if (ip_model_on()) {
        char what[64];
        snprintf(what, sizeof what, "%s KsValidateAllocatorCreateRequest", ip.label);
        KSALLOCATOR_FRAMING framing;
        NTSTATUS expected = ip_validate_expected(x, buffer, &framing);
        rm_expect e;
        rm_expect_one(&e, expected);
        rm_check_status(what, s, &e, ip_pool_refused());
        if ((x->shape & IP_SHAPE_NULL_FRAMING) == 0) {
            rm_check(NT_SUCCESS(s) || copy == NULL, "%s failed without setting *AllocatorFraming = NULL", what);
            rm_check(!NT_SUCCESS(s) || returned, "%s succeeded without returning a framing", what);
            rm_check(!returned || expected != STATUS_SUCCESS || memcmp(copy, &framing, sizeof framing) == 0,
                     "%s returned a framing that differs from the request's (decisions Q3)", what);
        }
    }
    if (returned)
        ExFreePool(copy); /* the caller owns the copy (decisions Q3) */
    free(buffer);
}

/* Runs one NULL-argument call; false when the op names no NULL argument the DDI has. */
static bool ip_null_call(const op_args_null_args *a)
{
    static const KSALLOCATOR_FRAMING good = { { KSALLOCATOR_OPTIONF_SYSTEM_MEMORY }, NonPagedPool, 2, 4096,
                                              { FILE_LONG_ALIGNMENT }, 0 };
    KSALLOCATOR_FRAMING framing = good; /* the DDIs take a non-const pointer */
    PKSALLOCATOR_FRAMING f = (a->null & IP_NULL_FRAMING) != 0 ? NULL : &framing;
    HANDLE h = IP_BOGUS_HANDLE; /* the DDI must overwrite it (decisions Q7) */
    PHANDLE ph = (a->null & IP_NULL_HANDLE) != 0 ? NULL : &h;
    bool creates = a->ddi == IP_DDI_CREATE || a->ddi == IP_DDI_USER_CREATE;
    if (creates ? f != NULL && ph != NULL : (a->null & IP_NULL_IRP) == 0)
        return false;
    NTSTATUS s = STATUS_SUCCESS;
    DWORD err = ERROR_SUCCESS;
    switch (a->ddi) {
    case IP_DDI_CREATE: s = KsCreateAllocator(NULL, f, ph); break;
    case IP_DDI_USER_CREATE:
        km_set_previous_mode(UserMode);
        err = KsUserCreateAllocator(NULL, f, ph);
        km_set_previous_mode(KernelMode);
        break;
    case IP_DDI_DEFAULT: s = KsCreateDefaultAllocator(NULL); break;
    default: s = KsCreateDefaultAllocatorEx(NULL, NULL, NULL, NULL, NULL, NULL); break;
    }
    if (a->ddi == IP_DDI_USER_CREATE)
        ip_line_add(" win32:%u", (unsigned)err);
    else
        ip_line_status(s);
    if (!ip_model_on())
        return true;
    static const char *const names[] = { "KsCreateAllocator", "KsCreateAllocator (ksuser)",
                                         "KsCreateDefaultAllocator", "KsCreateDefaultAllocatorEx" };
    char what[64];
    snprintf(what, sizeof what, "%s %s", ip.label, names[a->ddi]);
    rm_expect e;
    rm_expect_one(&e, STATUS_INVALID_PARAMETER); /* Q7 and "Calls outside the create path" */
    if (a->ddi == IP_DDI_USER_CREATE)
        rm_check_win32(what, err, &e, false);
    else
        rm_check_status(what, s, &e, false);
    if (creates && ph != NULL) {
        HANDLE want = a->ddi == IP_DDI_CREATE ? NULL : INVALID_HANDLE_VALUE;
        rm_check(h == want, "%s failed without setting *AllocatorHandle = %s (decisions Q7)", what,
                 want == NULL ? "NULL" : "INVALID_HANDLE_VALUE");
    }
    return true;
}

void ip_op_null_args(const op_args_null_args *a)
{
    KIRQL irql;
    if (!ip_op_irql(a->irql, PASSIVE_LEVEL, &irql))
        return;
    if (a->ddi > IP_DDI_DEFAULT_EX) {
        ip_skip("ddi");
        return;
    }
    ip_enter_irql(irql);
    bool ran = ip_null_call(a);
    ip_leave_irql(irql);
    if (!ran)
        ip_skip("args");
}
