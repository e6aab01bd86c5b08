/* io_ioctl.c: ZwDeviceIoControlFile / NtDeviceIoControlFile and the IOCTL buffer transfer types.
 * METHOD_NEITHER: Type3InputBuffer and UserBuffer are exact-size heap shadows of the caller's
 * buffers (NULL when the caller passes NULL or a zero length; the lengths are passed as given, as
 * Windows does not probe for METHOD_NEITHER), so ASan catches any driver overrun whatever the
 * caller allocated; the output shadow starts as a copy of the caller's bytes (MSan sees the
 * caller's initialisation state) and is copied back whole at completion. METHOD_BUFFERED:
 * SystemBuffer is exactly max(in, out) bytes with the input copied in and the rest left
 * uninitialised (so MSan flags a driver returning bytes it never wrote). METHOD_IN/OUT_DIRECT: no
 * MDLs are modelled; delivered like METHOD_BUFFERED with MdlAddress NULL. */
#include "io_internal.h"

#include <stdlib.h>
#include <string.h>

static void *io_dup(const void *src, size_t n)
{
    void *p = malloc(n);
    if (p == NULL)
        abort();
    if (src != NULL)
        memcpy(p, src, n);
    return p;
}

static NTSTATUS io_device_control(HANDLE FileHandle, HANDLE Event, PIO_APC_ROUTINE ApcRoutine, PVOID ApcContext,
                                  PIO_STATUS_BLOCK IoStatusBlock, ULONG IoControlCode, PVOID InputBuffer,
                                  ULONG InputBufferLength, PVOID OutputBuffer, ULONG OutputBufferLength,
                                  KPROCESSOR_MODE mode, const char *routine)
{
    km_require_irql_at_most(PASSIVE_LEVEL, routine);
    if (IoStatusBlock == NULL)
        return STATUS_INVALID_PARAMETER;
    ULONG method = METHOD_FROM_CTL_CODE(IoControlCode);
    io_enter();
    io_obj_kind kind, event_kind = IO_OBJ_NONE;
    PKEVENT event = NULL;
    io_lock();
    io_file *file = io_handle_lookup_locked(FileHandle, &kind);
    if (Event != NULL)
        event = io_handle_lookup_locked(Event, &event_kind);
    bool ok = kind == IO_OBJ_FILE && (Event == NULL || event_kind == IO_OBJ_EVENT);
    if (ok)
        io_file_ref_locked(file); /* a concurrent close must not free it before the IRP holds it */
    io_unlock();
    if (!ok) {
        io_leave(true);
        return STATUS_INVALID_HANDLE;
    }
    /* Buffered transfers are probed on Windows: a NULL buffer with a length fails the probe. The
     * handle is resolved first (Windows' order is undocumented; an invalid handle always reads as
     * STATUS_INVALID_HANDLE here, found by the gate's session fuzzing). */
    if (method != METHOD_NEITHER && ((InputBuffer == NULL && InputBufferLength != 0) ||
                                     (OutputBuffer == NULL && OutputBufferLength != 0))) {
        io_file_release(file, false);
        io_leave(true);
        return STATUS_ACCESS_VIOLATION;
    }
    io_irp *ir = io_irp_alloc(file, file->fo.DeviceObject->StackSize, IRP_MJ_DEVICE_CONTROL, mode);
    io_file_release(file, false);
    PIRP irp = &ir->irp;
    PIO_STACK_LOCATION stack = IoGetNextIrpStackLocation(irp);
    stack->Parameters.DeviceIoControl.OutputBufferLength = OutputBufferLength;
    stack->Parameters.DeviceIoControl.InputBufferLength = InputBufferLength;
    stack->Parameters.DeviceIoControl.IoControlCode = IoControlCode;
    ir->method = method;
    ir->out_len = OutputBufferLength;
    if (OutputBufferLength != 0)
        ir->caller_out = OutputBuffer;
    if (InputBufferLength != 0)
        ir->caller_in = InputBuffer;
    if (method == METHOD_NEITHER) {
        if (InputBuffer != NULL && InputBufferLength != 0)
            ir->shadow_in = io_dup(InputBuffer, InputBufferLength);
        if (OutputBuffer != NULL && OutputBufferLength != 0)
            ir->shadow_out = io_dup(OutputBuffer, OutputBufferLength);
        stack->Parameters.DeviceIoControl.Type3InputBuffer = ir->shadow_in;
        irp->UserBuffer = ir->shadow_out;
    } else {
        size_t n = InputBufferLength > OutputBufferLength ? InputBufferLength : OutputBufferLength;
        if (n != 0) {
            ir->system_buffer = io_dup(NULL, n);
            if (InputBufferLength != 0)
                memcpy(ir->system_buffer, InputBuffer, InputBufferLength);
        }
        irp->AssociatedIrp.SystemBuffer = ir->system_buffer;
        irp->UserBuffer = OutputBuffer;
    }
    irp->UserIosb = IoStatusBlock;
    irp->UserEvent = event;
    irp->Overlay.AsynchronousParameters.UserApcRoutine = ApcRoutine; /* recorded, never called */
    irp->Overlay.AsynchronousParameters.UserApcContext = ApcContext;
    if (event != NULL)
        KeClearEvent(event);
    NTSTATUS status = io_irp_send(ir);
    io_leave(true);
    return status;
}

const void *km_io_caller_address(PIRP Irp, const void *buffer)
{
    io_irp *ir = io_irp_from(Irp);
    if (ir == NULL || buffer == NULL)
        return buffer;
    if (buffer == ir->shadow_in)
        return ir->caller_in;
    if (buffer == ir->shadow_out)
        return ir->caller_out;
    return buffer;
}

/* ZwDeviceIoControlFile (DDI ntifs/nf-ntifs-zwdeviceiocontrolfile): requestor mode KernelMode. A
 * STATUS_PENDING return is passed to the caller; the IO_STATUS_BLOCK, the output buffer and the
 * event are written when the IRP completes. */
NTSTATUS ZwDeviceIoControlFile(HANDLE FileHandle, HANDLE Event, PIO_APC_ROUTINE ApcRoutine, PVOID ApcContext,
                               PIO_STATUS_BLOCK IoStatusBlock, ULONG IoControlCode, PVOID InputBuffer,
                               ULONG InputBufferLength, PVOID OutputBuffer, ULONG OutputBufferLength)
{
    return io_device_control(FileHandle, Event, ApcRoutine, ApcContext, IoStatusBlock, IoControlCode, InputBuffer,
                             InputBufferLength, OutputBuffer, OutputBufferLength, KernelMode,
                             "ZwDeviceIoControlFile");
}

/* NtDeviceIoControlFile: requestor mode is the thread's previous mode (km_set_previous_mode). */
NTSTATUS NtDeviceIoControlFile(HANDLE FileHandle, HANDLE Event, PIO_APC_ROUTINE ApcRoutine, PVOID ApcContext,
                               PIO_STATUS_BLOCK IoStatusBlock, ULONG IoControlCode, PVOID InputBuffer,
                               ULONG InputBufferLength, PVOID OutputBuffer, ULONG OutputBufferLength)
{
    return io_device_control(FileHandle, Event, ApcRoutine, ApcContext, IoStatusBlock, IoControlCode, InputBuffer,
                             InputBufferLength, OutputBuffer, OutputBufferLength, ExGetPreviousMode(),
                             "NtDeviceIoControlFile");
}
