/* io_irp.c: IRP allocation, IoCallDriver, IoCompleteRequest and the dispatch-return rules the
 * I/O manager checks on the IRPs it issues. An IRP and its stack locations are one exact-size
 * harness block preceded by out-of-band state; a completed IRP stays allocated until no top-level
 * call is active, so a second completion is reported as IRP_DOUBLE_COMPLETION, not a crash. */
#include "io_internal.h"

#include <stdlib.h>
#include <string.h>

static io_irp *io_outstanding;   /* issued and not completed (doubly linked) */
static ULONG io_outstanding_count;
static io_irp *io_graveyard;     /* completed, freed when no top-level call is active */
static int io_active;            /* top-level calls and IRP completions in progress, all threads */
static _Thread_local int io_depth;

static const char *io_major_name(UCHAR major)
{
    switch (major) {
    case IRP_MJ_CREATE: return "IRP_MJ_CREATE";
    case IRP_MJ_CLOSE: return "IRP_MJ_CLOSE";
    case IRP_MJ_READ: return "IRP_MJ_READ";
    case IRP_MJ_WRITE: return "IRP_MJ_WRITE";
    case IRP_MJ_FLUSH_BUFFERS: return "IRP_MJ_FLUSH_BUFFERS";
    case IRP_MJ_DEVICE_CONTROL: return "IRP_MJ_DEVICE_CONTROL";
    case IRP_MJ_CLEANUP: return "IRP_MJ_CLEANUP";
    default: return "IRP_MJ_OTHER";
    }
}

/* The IRPs not yet freed are on the outstanding list or in the graveyard. */
static io_irp *io_irp_find_locked(PIRP irp)
{
    for (io_irp *ir = io_outstanding; ir != NULL; ir = ir->next)
        if (&ir->irp == irp)
            return ir;
    for (io_irp *ir = io_graveyard; ir != NULL; ir = ir->next)
        if (&ir->irp == irp)
            return ir;
    return NULL;
}

io_irp *io_irp_from(PIRP irp)
{
    io_lock();
    io_irp *ir = io_irp_find_locked(irp);
    io_unlock();
    return ir;
}

io_irp *io_irp_alloc(io_file *file, CCHAR stack_size, UCHAR major, KPROCESSOR_MODE mode)
{
    size_t n = stack_size < 1 ? 1 : (size_t)stack_size;
    io_irp *ir = calloc(1, offsetof(io_irp, stack) + n * sizeof(IO_STACK_LOCATION));
    if (ir == NULL)
        abort(); /* the model's own memory is not faultable */
    ir->magic = IO_IRP_MAGIC;
    ir->file = file;
    ir->major = major;
    PIRP irp = &ir->irp;
    irp->Type = 6; /* IO_TYPE_IRP */
    irp->Size = (USHORT)(sizeof(IRP) + n * sizeof(IO_STACK_LOCATION));
    irp->StackCount = (CHAR)n;
    irp->CurrentLocation = (CHAR)(n + 1);
    irp->Tail.Overlay.CurrentStackLocation = &ir->stack[n];
    irp->RequestorMode = mode;
    irp->Tail.Overlay.OriginalFileObject = &file->fo;
    irp->Tail.Overlay.Thread = (PETHREAD)KeGetCurrentThread();
    PIO_STACK_LOCATION next = IoGetNextIrpStackLocation(irp);
    next->MajorFunction = major;
    next->FileObject = &file->fo;
    io_lock();
    io_file_ref_locked(file);
    io_unlock();
    return ir;
}

static void io_irp_free(io_irp *ir)
{
    free(ir->shadow_in);
    free(ir->shadow_out);
    free(ir->system_buffer);
    ir->magic = 0;
    free(ir);
}

/* IoCallDriver (DDI wdm/nf-wdm-iocalldriver). Not modelled: completion routines (a one-location
 * stack has nobody above to set one). */
NTSTATUS IoCallDriver(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    km_require_irql_at_most(DISPATCH_LEVEL, "IoCallDriver");
    /* Windows bugchecks NO_MORE_IRP_STACK_LOCATIONS here. */
    KM_VERIFY(API_INVALID_PARAMETER, Irp->CurrentLocation > 1, "IoCallDriver with no stack location left");
    Irp->CurrentLocation--;
    Irp->Tail.Overlay.CurrentStackLocation--;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    stack->DeviceObject = DeviceObject;
    return DeviceObject->DriverObject->MajorFunction[stack->MajorFunction](DeviceObject, Irp);
}

NTSTATUS io_irp_send(io_irp *ir)
{
    io_lock();
    ir->prev = NULL;
    ir->next = io_outstanding;
    if (io_outstanding != NULL)
        io_outstanding->prev = ir;
    io_outstanding = ir;
    io_outstanding_count++;
    io_unlock();

    PIRP irp = &ir->irp;
    PIO_STACK_LOCATION first = &ir->stack[irp->StackCount - 1];
    const char *what = io_major_name(ir->major);
    KIRQL before = KeGetCurrentIrql();
    NTSTATUS status = IoCallDriver(ir->file->fo.DeviceObject, irp);
    KIRQL after = KeGetCurrentIrql();
    KM_VERIFY(IRQL_NOT_RESTORED, after == before, "%s: called at IRQL %u, returned at %u", what, before, after);

    bool marked = (first->Control & SL_PENDING_RETURNED) != 0;
    NTSTATUS completed_status;
    bool completed = io_irp_completed(ir, &completed_status);
    if (status == STATUS_PENDING) {
        KM_VERIFY(IRP_PENDING_NOT_MARKED, marked, "%s", what);
        return status;
    }
    KM_VERIFY(IRP_MARKED_PENDING_NOT_RETURNED, !marked, "%s returned 0x%08X", what, (unsigned)status);
    KM_VERIFY(IRP_NOT_COMPLETED, completed, "%s returned 0x%08X", what, (unsigned)status);
    KM_VERIFY(IRP_STATUS_MISMATCH, !completed || completed_status == status,
              "%s returned 0x%08X, completed with 0x%08X", what, (unsigned)status, (unsigned)completed_status);
    return status;
}

bool io_irp_completed(io_irp *ir, NTSTATUS *status)
{
    io_lock();
    bool done = ir->completions != 0;
    *status = ir->final_status;
    io_unlock();
    return done;
}

size_t io_irp_pending_on(io_file *file, PIRP **out)
{
    io_lock();
    size_t n = 0;
    /* Not the cleanup itself: Windows does not cancel the IRP_MJ_CLEANUP it sent. */
    for (io_irp *ir = io_outstanding; ir != NULL; ir = ir->next)
        n += ir->file == file && ir->major != IRP_MJ_CLEANUP;
    PIRP *list = calloc(n != 0 ? n : 1, sizeof *list);
    if (list == NULL)
        abort();
    size_t i = 0;
    /* The list is newest first; cancel in issue order. */
    for (io_irp *ir = io_outstanding; ir != NULL; ir = ir->next)
        if (ir->file == file && ir->major != IRP_MJ_CLEANUP)
            list[n - 1 - i++] = &ir->irp;
    io_unlock();
    *out = list;
    return n;
}

ULONG km_io_pending_count(void)
{
    io_lock();
    ULONG n = io_outstanding_count;
    io_unlock();
    return n;
}

/* IoCompleteRequest (DDI wdm/nf-wdm-iocompleterequest). Copies results back to the caller the way
 * the I/O manager's completion APC does, but synchronously: METHOD_BUFFERED copies Information
 * bytes of SystemBuffer unless the status is an error; METHOD_NEITHER copies the whole output
 * shadow back (the driver was writing "user memory" directly). Not modelled: priority boosts,
 * completion routines, APCs (UserApcRoutine is never called). */
VOID IoCompleteRequest(PIRP Irp, CCHAR PriorityBoost)
{
    km_require_irql_at_most(DISPATCH_LEVEL, "IoCompleteRequest");
    io_lock();
    io_irp *ir = io_irp_find_locked(Irp);
    if (ir == NULL) {
        io_unlock();
        km_verifier_fail(KM_V_API_INVALID_PARAMETER, "IoCompleteRequest of an IRP the I/O manager did not issue");
    }
    const char *what = io_major_name(ir->major);
    KM_VERIFY(IRP_DOUBLE_COMPLETION, ir->completions == 0, "%s", what);
    if (ir->completions++ != 0) {
        io_unlock();
        return;
    }
    NTSTATUS status = Irp->IoStatus.Status;
    KM_VERIFY(IRP_COMPLETED_WITH_PENDING, status != STATUS_PENDING, "%s", what);
    /* Atomic, as IoCancelIrp exchanges it: a close on another thread may be cancelling this IRP
     * while the driver, having cleared the routine under its own lock, completes it. */
    KM_VERIFY(IRP_CANCEL_ROUTINE_AT_COMPLETION, __atomic_load_n(&Irp->CancelRoutine, __ATOMIC_ACQUIRE) == NULL, "%s",
              what);
    /* METHOD_BUFFERED copies Information bytes back for warnings too (below); a METHOD_NEITHER
     * warning may carry a needed size (KS answers a short buffer with STATUS_BUFFER_OVERFLOW). */
    bool copies_information = NT_SUCCESS(status) || (ir->method == METHOD_BUFFERED && !NT_ERROR(status));
    if (ir->major == IRP_MJ_DEVICE_CONTROL && copies_information)
        KM_VERIFY(IRP_INFORMATION_TOO_LARGE, Irp->IoStatus.Information <= ir->out_len,
                  "Information %llu, OutputBufferLength %u", (unsigned long long)Irp->IoStatus.Information,
                  (unsigned)ir->out_len);
    ir->final_status = status;
    Irp->PendingReturned = (ir->stack[Irp->StackCount - 1].Control & SL_PENDING_RETURNED) != 0;
    if (ir->major == IRP_MJ_CREATE)
        ir->file->opened = NT_SUCCESS(status);
    /* outstanding -> graveyard */
    if (ir->prev != NULL)
        ir->prev->next = ir->next;
    else
        io_outstanding = ir->next;
    if (ir->next != NULL)
        ir->next->prev = ir->prev;
    io_outstanding_count--;
    ir->prev = NULL;
    ir->next = io_graveyard;
    io_graveyard = ir;
    /* A driver may complete an IRP outside any Zw call (a function-table FreeFrame completing a
     * waiting ALLOC): that completion counts as a call in progress until its copy-back is done, so
     * another thread leaving its call cannot free this IRP's buffers meanwhile. Inside a call (every
     * fuzz iteration's case) the thread's own call already counts. */
    bool outside_calls = io_depth == 0;
    io_active += outside_calls;
    /* Read here: a create the I/O manager stops waiting for clears UserIosb under this lock. */
    PIO_STATUS_BLOCK iosb = Irp->UserIosb;
    PKEVENT event = Irp->UserEvent;
    io_unlock();

    if (ir->caller_out != NULL) {
        if (ir->method == METHOD_NEITHER && ir->shadow_out != NULL)
            memcpy(ir->caller_out, ir->shadow_out, ir->out_len);
        else if (ir->method != METHOD_NEITHER && ir->system_buffer != NULL && !NT_ERROR(status)) {
            ULONG_PTR n = Irp->IoStatus.Information < ir->out_len ? Irp->IoStatus.Information : ir->out_len;
            memcpy(ir->caller_out, ir->system_buffer, n);
        }
    }
    if (iosb != NULL)
        *iosb = Irp->IoStatus;
    io_lock();
    ir->copied_out = true; /* a waiting create may return now (io_create_settle) */
    io_unlock();
    if (event != NULL)
        KeSetEvent(event, IO_NO_INCREMENT, FALSE);
    /* The final close this may trigger runs from the work queue: completion can happen at
     * DISPATCH_LEVEL or inside a driver's own dispatch routine. */
    io_file_release(ir->file, true);
    if (outside_calls) {
        io_lock();
        io_active--; /* the graveyard is freed by the next call to leave with none in progress */
        io_unlock();
    }
}

void io_enter(void)
{
    io_depth++;
    io_lock();
    io_active++;
    io_unlock();
}

void io_irp_graveyard_flush(void)
{
    io_lock();
    io_irp *list = io_active == 0 ? io_graveyard : NULL;
    if (list != NULL)
        io_graveyard = NULL;
    io_unlock();
    while (list != NULL) {
        io_irp *next = list->next;
        io_irp_free(list);
        list = next;
    }
}

void io_leave(bool run_work)
{
    if (io_depth == 1 && run_work)
        km_run_work_items();
    io_lock();
    io_active--;
    io_unlock();
    io_depth--;
    io_irp_graveyard_flush();
}

void io_irp_free_all(void)
{
    io_lock();
    io_irp *lists[2] = { io_outstanding, io_graveyard };
    io_outstanding = io_graveyard = NULL;
    io_outstanding_count = 0;
    io_active = 0;
    io_unlock();
    io_depth = 0;
    for (int i = 0; i < 2; i++)
        while (lists[i] != NULL) {
            io_irp *next = lists[i]->next;
            io_irp_free(lists[i]);
            lists[i] = next;
        }
}
