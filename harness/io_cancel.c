/* io_cancel.c: the global cancel spin lock and IoCancelIrp. The lock is an ordinary executive spin
 * lock (so the spin-lock verifier rules apply to it); acquiring it raises to DISPATCH_LEVEL. */
#include "io_internal.h"

static KSPIN_LOCK io_cancel_lock;

/* IoAcquireCancelSpinLock (DDI wdm/nf-wdm-ioacquirecancelspinlock). */
VOID IoAcquireCancelSpinLock(PKIRQL Irql) { KeAcquireSpinLock(&io_cancel_lock, Irql); }

/* IoReleaseCancelSpinLock (DDI wdm/nf-wdm-ioreleasecancelspinlock). */
VOID IoReleaseCancelSpinLock(KIRQL Irql) { KeReleaseSpinLock(&io_cancel_lock, Irql); }

/* IoCancelIrp (DDI wdm/nf-wdm-iocancelirp): marks the IRP cancelled and, if a cancel routine is
 * set, calls it holding the cancel spin lock with Irp->CancelIrql set; the routine releases it. */
BOOLEAN IoCancelIrp(PIRP Irp)
{
    km_require_irql_at_most(DISPATCH_LEVEL, "IoCancelIrp");
    KM_VERIFY(API_INVALID_PARAMETER, io_irp_from(Irp) != NULL, "IoCancelIrp of an IRP the I/O manager did not issue");
    KIRQL irql;
    IoAcquireCancelSpinLock(&irql);
    Irp->Cancel = TRUE; /* under the cancel spin lock, where drivers that take it read the bit */
    PDRIVER_CANCEL routine = IoSetCancelRoutine(Irp, NULL);
    if (routine == NULL) {
        IoReleaseCancelSpinLock(irql);
        return FALSE;
    }
    Irp->CancelIrql = irql;
    routine(IoGetCurrentIrpStackLocation(Irp)->DeviceObject, Irp);
    return TRUE;
}
