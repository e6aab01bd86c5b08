/* test_io_negative.c: one negative test per I/O-manager verifier check: each trips exactly it. */
#include "test_drivers.h"

static HANDLE open_with(UCHAR major, PDRIVER_DISPATCH fn)
{
    td_load();
    td_on[major] = fn;
    HANDLE h;
    NTSTATUS status = td_open(NULL, TD_DEVICE_NAME, &h);
    ASSERT_STATUS(status, STATUS_SUCCESS);
    return h;
}

static void send_ioctl(HANDLE h, ULONG outlen)
{
    static UCHAR out[8];
    IO_STATUS_BLOCK iosb;
    td_ioctl(h, TD_IOCTL(1, METHOD_BUFFERED), NULL, 0, out, outlen, &iosb);
}

static NTSTATUS complete_twice(PDEVICE_OBJECT dev, PIRP irp)
{
    td_complete(irp, STATUS_SUCCESS, 0);
    return td_complete(irp, STATUS_SUCCESS, 0);
}
KTEST_NEGATIVE(io, IoCompleteRequest_twice, IRP_DOUBLE_COMPLETION)
{
    send_ioctl(open_with(IRP_MJ_DEVICE_CONTROL, complete_twice), 0);
}

static NTSTATUS complete_pending(PDEVICE_OBJECT dev, PIRP irp)
{
    IoMarkIrpPending(irp);
    td_complete(irp, STATUS_PENDING, 0);
    return STATUS_PENDING;
}
KTEST_NEGATIVE(io, IoCompleteRequest_with_STATUS_PENDING, IRP_COMPLETED_WITH_PENDING)
{
    send_ioctl(open_with(IRP_MJ_DEVICE_CONTROL, complete_pending), 0);
}

static NTSTATUS pend_unmarked(PDEVICE_OBJECT dev, PIRP irp) { return STATUS_PENDING; }
KTEST_NEGATIVE(io, dispatch_returns_pending_unmarked, IRP_PENDING_NOT_MARKED)
{
    send_ioctl(open_with(IRP_MJ_DEVICE_CONTROL, pend_unmarked), 0);
}

static NTSTATUS mark_then_succeed(PDEVICE_OBJECT dev, PIRP irp)
{
    IoMarkIrpPending(irp);
    return td_complete(irp, STATUS_SUCCESS, 0);
}
KTEST_NEGATIVE(io, dispatch_marks_pending_returns_success, IRP_MARKED_PENDING_NOT_RETURNED)
{
    send_ioctl(open_with(IRP_MJ_DEVICE_CONTROL, mark_then_succeed), 0);
}

static NTSTATUS return_other_status(PDEVICE_OBJECT dev, PIRP irp)
{
    td_complete(irp, STATUS_SUCCESS, 0);
    return STATUS_UNSUCCESSFUL;
}
KTEST_NEGATIVE(io, dispatch_return_differs_from_IoStatus, IRP_STATUS_MISMATCH)
{
    send_ioctl(open_with(IRP_MJ_DEVICE_CONTROL, return_other_status), 0);
}

static NTSTATUS forget_completion(PDEVICE_OBJECT dev, PIRP irp) { return STATUS_SUCCESS; }
KTEST_NEGATIVE(io, dispatch_returns_without_completing, IRP_NOT_COMPLETED)
{
    send_ioctl(open_with(IRP_MJ_DEVICE_CONTROL, forget_completion), 0);
}

static NTSTATUS too_much_information(PDEVICE_OBJECT dev, PIRP irp) { return td_complete(irp, STATUS_SUCCESS, 5); }
KTEST_NEGATIVE(io, IoCompleteRequest_Information_above_output_length, IRP_INFORMATION_TOO_LARGE)
{
    send_ioctl(open_with(IRP_MJ_DEVICE_CONTROL, too_much_information), 4);
}

/* METHOD_BUFFERED copies Information bytes back for a warning too: 5 from a 4-byte output. */
static NTSTATUS warning_with_too_much_information(PDEVICE_OBJECT dev, PIRP irp)
{
    return td_complete(irp, STATUS_BUFFER_OVERFLOW, 5);
}
KTEST_NEGATIVE(io, IoCompleteRequest_warning_Information_above_buffered_output_length, IRP_INFORMATION_TOO_LARGE)
{
    send_ioctl(open_with(IRP_MJ_DEVICE_CONTROL, warning_with_too_much_information), 4);
}

static VOID unused_cancel(PDEVICE_OBJECT dev, PIRP irp) {}
static NTSTATUS complete_with_cancel_routine(PDEVICE_OBJECT dev, PIRP irp)
{
    IoSetCancelRoutine(irp, unused_cancel);
    return td_complete(irp, STATUS_SUCCESS, 0);
}
KTEST_NEGATIVE(io, IoCompleteRequest_with_cancel_routine_set, IRP_CANCEL_ROUTINE_AT_COMPLETION)
{
    send_ioctl(open_with(IRP_MJ_DEVICE_CONTROL, complete_with_cancel_routine), 0);
}

static NTSTATUS park_forever(PDEVICE_OBJECT dev, PIRP irp)
{
    IoMarkIrpPending(irp);
    return STATUS_PENDING;
}
KTEST_NEGATIVE(io, IRP_never_completed_at_teardown, IRP_PENDING_AT_TEARDOWN)
{
    send_ioctl(open_with(IRP_MJ_DEVICE_CONTROL, park_forever), 0);
}

static NTSTATUS leave_raised(PDEVICE_OBJECT dev, PIRP irp)
{
    KIRQL old;
    td_complete(irp, STATUS_SUCCESS, 0);
    KeRaiseIrql(APC_LEVEL, &old);
    return STATUS_SUCCESS;
}
KTEST_NEGATIVE(io, dispatch_returns_at_raised_irql, IRQL_NOT_RESTORED)
{
    send_ioctl(open_with(IRP_MJ_DEVICE_CONTROL, leave_raised), 0);
}

KTEST_NEGATIVE(io, ZwDeviceIoControlFile_above_passive, IRQL_TOO_HIGH)
{
    HANDLE h = open_with(IRP_MJ_DEVICE_CONTROL, NULL);
    KIRQL old;
    KeRaiseIrql(APC_LEVEL, &old);
    send_ioctl(h, 0);
}
