/* test_io_ioctl.c: device control transfer types (METHOD_NEITHER shadows, METHOD_BUFFERED copy
 * back), pending requests completed later (IOSB, output, event) and bad input. */
#include "test_drivers.h"

static PVOID seen_type3, seen_user, seen_system;
static UCHAR seen_in[64];
static ULONG seen_inlen, seen_outlen;
static KPROCESSOR_MODE seen_mode;
static PMDL seen_mdl = (PMDL)1;

/* Echoes input reversed into the output (whatever the method), reporting Information = outlen. */
static NTSTATUS echo_ioctl(PDEVICE_OBJECT dev, PIRP irp)
{
    PIO_STACK_LOCATION s = IoGetCurrentIrpStackLocation(irp);
    ULONG in = s->Parameters.DeviceIoControl.InputBufferLength, out = s->Parameters.DeviceIoControl.OutputBufferLength;
    seen_inlen = in;
    seen_outlen = out;
    seen_type3 = s->Parameters.DeviceIoControl.Type3InputBuffer;
    seen_user = irp->UserBuffer;
    seen_system = irp->AssociatedIrp.SystemBuffer;
    seen_mode = irp->RequestorMode;
    seen_mdl = irp->MdlAddress;
    bool neither = METHOD_FROM_CTL_CODE(s->Parameters.DeviceIoControl.IoControlCode) == METHOD_NEITHER;
    const UCHAR *src = neither ? seen_type3 : seen_system;
    UCHAR *dst = neither ? seen_user : seen_system;
    UCHAR tmp[64];
    if (src != NULL)
        memcpy(seen_in, src, in);
    memcpy(tmp, seen_in, in);
    for (ULONG i = 0; i < out && dst != NULL; i++)
        dst[i] = i < in ? tmp[in - 1 - i] : 0xA5;
    return td_complete(irp, STATUS_SUCCESS, out);
}

/* The test device, its device controls served by `fn`. */
static HANDLE open_with_ioctl(PDRIVER_DISPATCH fn)
{
    td_load();
    td_on[IRP_MJ_DEVICE_CONTROL] = fn;
    HANDLE h;
    NTSTATUS status = td_open(NULL, TD_DEVICE_NAME, &h);
    ASSERT_STATUS(status, STATUS_SUCCESS);
    return h;
}

static HANDLE open_echo(void) { return open_with_ioctl(echo_ioctl); }

KTEST(io, METHOD_NEITHER_uses_exact_shadows_and_copies_back)
{
    HANDLE h = open_echo();
    UCHAR in[5] = { 1, 2, 3, 4, 5 }, out[7] = { 9, 9, 9, 9, 9, 9, 9 };
    IO_STATUS_BLOCK iosb;
    ASSERT_STATUS(td_ioctl(h, TD_IOCTL(1, METHOD_NEITHER), in, 5, out, 7, &iosb), STATUS_SUCCESS);
    EXPECT_TRUE(seen_type3 != NULL && seen_type3 != (PVOID)in);
    EXPECT_TRUE(seen_user != NULL && seen_user != (PVOID)out);
    EXPECT_EQ(seen_inlen, 5);
    EXPECT_EQ(seen_outlen, 7);
    EXPECT_MEM_EQ(seen_in, in, 5);
    static const UCHAR want[7] = { 5, 4, 3, 2, 1, 0xA5, 0xA5 };
    EXPECT_MEM_EQ(out, want, 7);
    EXPECT_STATUS(iosb.Status, STATUS_SUCCESS);
    EXPECT_EQ(iosb.Information, 7);
    ZwClose(h);
}

KTEST(io, METHOD_NEITHER_NULL_or_empty_buffers_are_NULL)
{
    HANDLE h = open_echo();
    UCHAR in[4] = { 0 };
    IO_STATUS_BLOCK iosb;
    ASSERT_STATUS(td_ioctl(h, TD_IOCTL(1, METHOD_NEITHER), in, 0, NULL, 0, &iosb), STATUS_SUCCESS);
    EXPECT_TRUE(seen_type3 == NULL && seen_user == NULL);
    /* A NULL input with a length reaches the driver as is: Windows does not probe METHOD_NEITHER. */
    ASSERT_STATUS(td_ioctl(h, TD_IOCTL(1, METHOD_NEITHER), NULL, 0, NULL, 0, &iosb), STATUS_SUCCESS);
    EXPECT_TRUE(seen_type3 == NULL);
    ZwClose(h);
}

KTEST(io, METHOD_BUFFERED_copies_Information_bytes_back)
{
    HANDLE h = open_echo();
    UCHAR in[3] = { 7, 8, 9 }, out[6] = { 0 };
    IO_STATUS_BLOCK iosb;
    ASSERT_STATUS(td_ioctl(h, TD_IOCTL(2, METHOD_BUFFERED), in, 3, out, 6, &iosb), STATUS_SUCCESS);
    EXPECT_TRUE(seen_system != NULL && seen_system != (PVOID)in && seen_system != (PVOID)out);
    EXPECT_TRUE(seen_type3 == NULL);
    EXPECT_MEM_EQ(seen_in, in, 3);
    static const UCHAR want[6] = { 9, 8, 7, 0xA5, 0xA5, 0xA5 };
    EXPECT_MEM_EQ(out, want, 6);
    EXPECT_EQ(iosb.Information, 6);
    ZwClose(h);
}

KTEST(io, METHOD_OUT_DIRECT_is_delivered_buffered_without_mdl)
{
    HANDLE h = open_echo();
    UCHAR in[2] = { 1, 2 }, out[2] = { 0 };
    IO_STATUS_BLOCK iosb;
    ASSERT_STATUS(td_ioctl(h, TD_IOCTL(3, METHOD_OUT_DIRECT), in, 2, out, 2, &iosb), STATUS_SUCCESS);
    EXPECT_TRUE(seen_mdl == NULL && seen_system != NULL);
    EXPECT_EQ(out[0], 2);
    EXPECT_EQ(out[1], 1);
    ZwClose(h);
}

static NTSTATUS partial_error(PDEVICE_OBJECT dev, PIRP irp)
{
    memset(irp->AssociatedIrp.SystemBuffer, 0x77, 4);
    return td_complete(irp, STATUS_INVALID_PARAMETER, 0);
}

KTEST(io, METHOD_BUFFERED_error_copies_nothing)
{
    HANDLE h = open_with_ioctl(partial_error);
    UCHAR out[4] = { 1, 1, 1, 1 };
    IO_STATUS_BLOCK iosb;
    EXPECT_STATUS(td_ioctl(h, TD_IOCTL(2, METHOD_BUFFERED), NULL, 0, out, 4, &iosb), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(out[0], 1);
    ZwClose(h);
}

/* Completes with STATUS_BUFFER_OVERFLOW and Information 16 (a needed size), whatever the output. */
static NTSTATUS overflow_with_needed_size(PDEVICE_OBJECT dev, PIRP irp)
{
    return td_complete(irp, STATUS_BUFFER_OVERFLOW, 16);
}

/* METHOD_NEITHER copies nothing by Information, so a warning may carry a needed size larger than the
 * output (KS answers a short buffer so): no IRP_INFORMATION_TOO_LARGE. Its METHOD_BUFFERED form is
 * the negative test io.IoCompleteRequest_warning_Information_above_buffered_output_length. */
KTEST(io, METHOD_NEITHER_warning_may_report_a_size_above_the_output_length)
{
    HANDLE h = open_with_ioctl(overflow_with_needed_size);
    UCHAR out[4] = { 1, 1, 1, 1 };
    IO_STATUS_BLOCK iosb;
    EXPECT_STATUS(td_ioctl(h, TD_IOCTL(1, METHOD_NEITHER), NULL, 0, out, 4, &iosb), STATUS_BUFFER_OVERFLOW);
    EXPECT_EQ(iosb.Information, 16);
    ZwClose(h);
}

/* An error copies nothing back, so its Information is not checked against the output either. */
static NTSTATUS error_with_large_information(PDEVICE_OBJECT dev, PIRP irp)
{
    return td_complete(irp, STATUS_INVALID_PARAMETER, 16);
}

KTEST(io, METHOD_BUFFERED_error_Information_is_not_checked)
{
    HANDLE h = open_with_ioctl(error_with_large_information);
    UCHAR out[4] = { 1, 1, 1, 1 };
    IO_STATUS_BLOCK iosb;
    EXPECT_STATUS(td_ioctl(h, TD_IOCTL(2, METHOD_BUFFERED), NULL, 0, out, 4, &iosb), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(out[0], 1);
    ZwClose(h);
}

KTEST(io, ZwDeviceIoControlFile_bad_input)
{
    HANDLE h = open_echo();
    IO_STATUS_BLOCK iosb;
    UCHAR out[4];
    EXPECT_STATUS(td_ioctl(h, TD_IOCTL(1, METHOD_NEITHER), NULL, 0, NULL, 0, NULL), STATUS_INVALID_PARAMETER);
    EXPECT_STATUS(td_ioctl((HANDLE)(uintptr_t)44, TD_IOCTL(1, METHOD_NEITHER), NULL, 0, NULL, 0, &iosb),
                  STATUS_INVALID_HANDLE);
    EXPECT_STATUS(ZwDeviceIoControlFile(h, h, NULL, NULL, &iosb, TD_IOCTL(1, METHOD_NEITHER), NULL, 0, NULL, 0),
                  STATUS_INVALID_HANDLE); /* a file handle is not an event */
    EXPECT_STATUS(td_ioctl(h, TD_IOCTL(2, METHOD_BUFFERED), NULL, 4, out, 4, &iosb), STATUS_ACCESS_VIOLATION);
    ZwClose(h);
    EXPECT_STATUS(td_ioctl(h, TD_IOCTL(1, METHOD_NEITHER), NULL, 0, NULL, 0, &iosb), STATUS_INVALID_HANDLE);
    /* The handle is resolved before buffered transfers are probed: a closed handle with a NULL
     * buffer is STATUS_INVALID_HANDLE, not STATUS_ACCESS_VIOLATION (found by the gate's fuzzing). */
    EXPECT_STATUS(td_ioctl(h, TD_IOCTL(2, METHOD_BUFFERED), NULL, 4, out, 4, &iosb), STATUS_INVALID_HANDLE);
    EXPECT_TRUE(strcmp(td_log, "cuC") == 0);
}

KTEST(io, NtDeviceIoControlFile_uses_previous_mode)
{
    HANDLE h = open_echo();
    IO_STATUS_BLOCK iosb;
    km_set_previous_mode(UserMode);
    ASSERT_STATUS(NtDeviceIoControlFile(h, NULL, NULL, NULL, &iosb, TD_IOCTL(1, METHOD_NEITHER), NULL, 0, NULL, 0),
                  STATUS_SUCCESS);
    EXPECT_EQ(seen_mode, UserMode);
    ASSERT_STATUS(td_ioctl(h, TD_IOCTL(1, METHOD_NEITHER), NULL, 0, NULL, 0, &iosb), STATUS_SUCCESS);
    EXPECT_EQ(seen_mode, KernelMode);
    ZwClose(h);
}

static PIRP parked;
static NTSTATUS park(PDEVICE_OBJECT dev, PIRP irp)
{
    parked = irp;
    IoMarkIrpPending(irp);
    return STATUS_PENDING;
}

KTEST(io, pending_ioctl_completes_later_with_iosb_output_and_event)
{
    HANDLE h = open_with_ioctl(park), evh;
    KEVENT ev;
    KeInitializeEvent(&ev, NotificationEvent, TRUE);
    ASSERT_STATUS(km_event_handle_open(&ev, &evh), STATUS_SUCCESS);
    UCHAR out[4] = { 0 };
    IO_STATUS_BLOCK iosb = { .Status = -1 };
    EXPECT_STATUS(ZwDeviceIoControlFile(h, evh, NULL, NULL, &iosb, TD_IOCTL(1, METHOD_NEITHER), NULL, 0, out, 4),
                  STATUS_PENDING);
    EXPECT_EQ(KeReadStateEvent(&ev), 0); /* cleared at issue */
    EXPECT_EQ(iosb.Status, -1);
    EXPECT_EQ(km_io_pending_count(), 1);
    memset(parked->UserBuffer, 0x42, 4);
    td_complete(parked, STATUS_SUCCESS, 4);
    EXPECT_EQ(km_io_pending_count(), 0);
    EXPECT_STATUS(iosb.Status, STATUS_SUCCESS);
    EXPECT_EQ(iosb.Information, 4);
    EXPECT_EQ(out[3], 0x42);
    EXPECT_NE(KeReadStateEvent(&ev), 0);
    EXPECT_TRUE(parked->PendingReturned);
    ZwClose(evh);
    ZwClose(h);
}
