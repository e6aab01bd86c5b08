/* bugcheck.c: KeBugCheckEx (a verifier finding) and DbgPrint (formatted, then discarded). */
#include "core_internal.h"

#include <stdarg.h>
#include <stdio.h>

/* DDI wdm/nf-wdm-kebugcheckex. Only the code goes into the finding: the parameters are often
 * pointers, and the line must be the same on every run. */
VOID KeBugCheckEx(ULONG BugCheckCode, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4)
{
    km_verifier_fail(KM_V_BUGCHECK, "code 0x%08X", (unsigned)BugCheckCode);
}

/* DDI wdm/nf-wdm-dbgprint. The text is formatted (so sanitizers see bad arguments) but not
 * printed: driver messages often hold pointers and would make test output differ run to run. */
ULONG DbgPrint(PCSTR Format, ...)
{
    char buffer[512];
    va_list ap;
    va_start(ap, Format);
    vsnprintf(buffer, sizeof buffer, Format, ap);
    va_end(ap);
    return (ULONG)STATUS_SUCCESS;
}
