/* io_close.c: file-object lifetime and ZwClose/NtClose.
 * Closing the last handle sends IRP_MJ_CLEANUP and then cancels (IoCancelIrp) every IRP still
 * pending on the file object. This is our answer to facts-file Q15 (close with pending ALLOC
 * IRPs): it models CancelIo / thread rundown, the Windows paths that cancel a closing handle's
 * I/O. IRP_MJ_CLOSE is sent when the last reference goes (handle, pending IRPs, ObReferenceObject
 * holders, related child file objects), so a referenced file object's close is deferred. */
#include "io_internal.h"

#include <stdlib.h>

static io_file *io_files;

io_file *io_file_alloc_locked(PDEVICE_OBJECT dev, io_file *related)
{
    io_file *file = calloc(1, sizeof *file);
    if (file == NULL)
        abort(); /* the model's own memory is not faultable */
    file->fo.Type = 5; /* IO_TYPE_FILE */
    file->fo.Size = sizeof(FILE_OBJECT);
    file->fo.DeviceObject = dev;
    file->refs = 1; /* the creator's, until a handle takes it over */
    if (related != NULL) {
        /* A child keeps its parent's file object (and so its IRP_MJ_CLOSE) alive, as on Windows. */
        file->fo.RelatedFileObject = &related->fo;
        io_file_ref_locked(related);
    }
    io_device_ref_locked(dev);
    file->next = io_files;
    io_files = file;
    return file;
}

void io_files_census(km_census *census)
{
    io_lock();
    for (io_file *f = io_files; f != NULL; f = f->next) {
        census->files++;
        census->file_refs += (uint64_t)f->refs;
    }
    io_unlock();
}

io_file *io_file_find_locked(const void *object)
{
    for (io_file *f = io_files; f != NULL; f = f->next)
        if (&f->fo == object)
            return f;
    return NULL;
}

void io_file_ref_locked(io_file *file) { file->refs++; }

static void io_file_zero(io_file *file)
{
    io_lock();
    if (file->refs != 0) { /* referenced again while a deferred release was queued */
        io_unlock();
        return;
    }
    if (file->opened && !file->close_sent) {
        file->close_sent = true;
        io_unlock();
        /* The close IRP holds a reference; its completion brings the count back to zero. */
        io_enter();
        io_irp *ir = io_irp_alloc(file, file->fo.DeviceObject->StackSize, IRP_MJ_CLOSE, KernelMode);
        (void)io_irp_send(ir);
        io_leave(true);
        return;
    }
    for (io_file **link = &io_files; *link != NULL; link = &(*link)->next)
        if (*link == file) {
            *link = file->next;
            break;
        }
    io_unlock();
    KM_VERIFY(KS_OBJECT_HEADER_LEAK, !ks_object_header_live_for_file(&file->fo),
              "file object freed while KsAllocateObjectHeader's header for it is live");
    free(file->fo.FileName.Buffer);
    if (file->fo.RelatedFileObject != NULL)
        io_file_release((io_file *)file->fo.RelatedFileObject, false);
    io_device_deref(file->fo.DeviceObject);
    free(file);
}

static void io_file_zero_deferred(void *arg) { io_file_zero(arg); }

void io_file_release(io_file *file, bool defer)
{
    io_lock();
    if (file->refs <= 0) {
        io_unlock();
        km_verifier_fail(KM_V_API_INVALID_PARAMETER, "file object released more often than referenced");
    }
    bool last = --file->refs == 0;
    io_unlock();
    if (!last)
        return;
    if (defer)
        io_work_queue_internal(io_file_zero_deferred, file);
    else
        io_file_zero(file);
}

void io_file_last_handle_closed(io_file *file)
{
    io_irp *ir = io_irp_alloc(file, file->fo.DeviceObject->StackSize, IRP_MJ_CLEANUP, KernelMode);
    (void)io_irp_send(ir); /* a pending cleanup is not waited for; teardown reports it if it never completes */
    PIRP *pending;
    size_t n = io_irp_pending_on(file, &pending);
    for (size_t i = 0; i < n; i++)
        (void)IoCancelIrp(pending[i]);
    free(pending);
    io_file_release(file, false);
}

void io_files_free_all(void)
{
    io_lock();
    while (io_files != NULL) {
        io_file *f = io_files;
        io_files = f->next;
        free(f->fo.FileName.Buffer);
        free(f);
    }
    io_unlock();
}

static NTSTATUS io_close(HANDLE Handle, const char *routine)
{
    km_require_irql_at_most(PASSIVE_LEVEL, routine);
    io_enter();
    io_obj_kind kind;
    io_lock();
    void *object = io_handle_remove_locked(Handle, &kind);
    if (kind == IO_OBJ_FILE)
        ((io_file *)object)->has_handle = false;
    io_unlock();
    if (kind == IO_OBJ_FILE)
        io_file_last_handle_closed(object);
    io_leave(true);
    return object != NULL ? STATUS_SUCCESS : STATUS_INVALID_HANDLE;
}

/* ZwClose (DDI wdm/nf-wdm-zwclose). */
NTSTATUS ZwClose(HANDLE Handle) { return io_close(Handle, "ZwClose"); }

/* NtClose: the same as ZwClose in the model (there is no user/kernel handle split). */
NTSTATUS NtClose(HANDLE Handle) { return io_close(Handle, "NtClose"); }
