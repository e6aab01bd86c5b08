/* test_io_cancel.c: the cancel spin lock, IoCancelIrp, and cancellation of pending IRPs when the
 * last handle closes (our Q15 rule): cleanup first, then cancel, then IRP_MJ_CLOSE. */
#include "test_drivers.h"

static PIRP parked;
static KIRQL seen_cancel_irql = 0xFF, seen_irql_in_routine;
static int cancels;

static VOID cancel_routine(PDEVICE_OBJECT dev, PIRP irp)
{
    cancels++;
    seen_cancel_irql = irp->CancelIrql;
    seen_irql_in_routine = KeGetCurrentIrql();
    EXPECT_TRUE(irp->Cancel);
    IoReleaseCancelSpinLock(irp->CancelIrql);
    td_complete(irp, STATUS_CANCELLED, 0);
}

static NTSTATUS park_cancelable(PDEVICE_OBJECT dev, PIRP irp)
{
    parked = irp;
    IoMarkIrpPending(irp);
    IoSetCancelRoutine(irp, cancel_routine);
    return STATUS_PENDING;
}

static NTSTATUS park_plain(PDEVICE_OBJECT dev, PIRP irp)
{
    parked = irp;
    IoMarkIrpPending(irp);
    return STATUS_PENDING;
}

KTEST(io, ZwClose_cancels_pending_irps_after_cleanup)
{
    td_load();
    td_on[IRP_MJ_DEVICE_CONTROL] = park_cancelable;
    HANDLE h;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &h), STATUS_SUCCESS);
    IO_STATUS_BLOCK a = { .Status = -1 }, b = { .Status = -1 };
    EXPECT_STATUS(td_ioctl(h, TD_IOCTL(1, METHOD_NEITHER), NULL, 0, NULL, 0, &a), STATUS_PENDING);
    EXPECT_STATUS(td_ioctl(h, TD_IOCTL(1, METHOD_NEITHER), NULL, 0, NULL, 0, &b), STATUS_PENDING);
    EXPECT_EQ(km_io_pending_count(), 2);
    EXPECT_STATUS(ZwClose(h), STATUS_SUCCESS);
    EXPECT_EQ(cancels, 2);
    EXPECT_STATUS(a.Status, STATUS_CANCELLED);
    EXPECT_STATUS(b.Status, STATUS_CANCELLED);
    EXPECT_EQ(km_io_pending_count(), 0);
    EXPECT_TRUE(strcmp(td_log, "ciiuC") == 0);
    EXPECT_EQ(seen_cancel_irql, PASSIVE_LEVEL);
    EXPECT_EQ(seen_irql_in_routine, DISPATCH_LEVEL);
    EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

/* The close cancels what is pending on the file object, but not the IRP_MJ_CLEANUP it sent: Windows
 * does not cancel that one (found by review: the sweep took every IRP on the file object). */
KTEST(io, ZwClose_does_not_cancel_a_pending_cleanup)
{
    td_load();
    td_on[IRP_MJ_CLEANUP] = park_cancelable;
    HANDLE h;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &h), STATUS_SUCCESS);
    EXPECT_STATUS(ZwClose(h), STATUS_SUCCESS);
    EXPECT_EQ(cancels, 0);
    EXPECT_EQ(km_io_pending_count(), 1);
    EXPECT_TRUE(strcmp(td_log, "cu") == 0); /* IRP_MJ_CLOSE waits for the cleanup */
    EXPECT_TRUE(IoSetCancelRoutine(parked, NULL) == cancel_routine);
    td_complete(parked, STATUS_SUCCESS, 0);
    km_run_work_items();
    EXPECT_EQ(km_io_pending_count(), 0);
    EXPECT_TRUE(strcmp(td_log, "cuC") == 0);
}

KTEST(io, IoCancelIrp_without_routine_returns_false_and_sets_Cancel)
{
    td_load();
    td_on[IRP_MJ_DEVICE_CONTROL] = park_plain;
    HANDLE h;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &h), STATUS_SUCCESS);
    IO_STATUS_BLOCK iosb;
    EXPECT_STATUS(td_ioctl(h, TD_IOCTL(1, METHOD_NEITHER), NULL, 0, NULL, 0, &iosb), STATUS_PENDING);
    EXPECT_FALSE(IoCancelIrp(parked));
    EXPECT_TRUE(parked->Cancel);
    EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    td_complete(parked, STATUS_SUCCESS, 0);
    ZwClose(h);
}

KTEST(io, IoCancelIrp_with_routine_returns_true)
{
    td_load();
    td_on[IRP_MJ_DEVICE_CONTROL] = park_cancelable;
    HANDLE h;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &h), STATUS_SUCCESS);
    IO_STATUS_BLOCK iosb;
    EXPECT_STATUS(td_ioctl(h, TD_IOCTL(1, METHOD_NEITHER), NULL, 0, NULL, 0, &iosb), STATUS_PENDING);
    EXPECT_TRUE(IoCancelIrp(parked));
    EXPECT_EQ(cancels, 1);
    EXPECT_STATUS(iosb.Status, STATUS_CANCELLED);
    ZwClose(h);
}

KTEST(io, pending_irp_defers_IRP_MJ_CLOSE_until_completion)
{
    td_load();
    td_on[IRP_MJ_DEVICE_CONTROL] = park_plain;
    HANDLE h;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &h), STATUS_SUCCESS);
    IO_STATUS_BLOCK iosb;
    EXPECT_STATUS(td_ioctl(h, TD_IOCTL(1, METHOD_NEITHER), NULL, 0, NULL, 0, &iosb), STATUS_PENDING);
    EXPECT_STATUS(ZwClose(h), STATUS_SUCCESS);
    EXPECT_TRUE(strcmp(td_log, "ciu") == 0); /* no cancel routine: still pending, no close */
    td_complete(parked, STATUS_SUCCESS, 0);
    km_run_work_items();
    EXPECT_TRUE(strcmp(td_log, "ciuC") == 0);
}
