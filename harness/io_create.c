/* io_create.c: ZwCreateFile, NtCreateFile, IoCreateFile: name resolution, the file object's
 * FileName and the IRP_MJ_CREATE request. Our answers to facts-file Q18 (how the I/O manager
 * fills FileObject->FileName), all inferred, none observed on Windows:
 *  - relative open (RootDirectory): FileName is an exact copy of ObjectName: a buffer of exactly
 *    MaximumLength bytes (plain malloc, not driver pool, so a driver's leak and fault accounting
 *    is unaffected), all MaximumLength bytes copied byte for byte (embedded zero code units and
 *    odd lengths kept), Length kept independently; NULL or empty (MaximumLength 0) ObjectName
 *    gives an empty FileName with a NULL Buffer;
 *  - absolute open: the name must start with a registered device name (case-insensitive) followed
 *    by the end or '\'; FileName is the rest, from that '\', copied the same way;
 *  - Length > MaximumLength is STATUS_OBJECT_NAME_INVALID before any driver sees it (a
 *    UNICODE_STRING invariant); odd lengths are not rejected.
 * NULL FileHandle, ObjectAttributes or IoStatusBlock is STATUS_INVALID_PARAMETER (Windows would
 * raise an access violation for a user caller); past that, *FileHandle is NULL on every failure. Creates are synchronous: when the driver returns
 * STATUS_PENDING the I/O manager runs the work queue (the only thing that can complete it in a
 * single thread); if it is still pending the create returns STATUS_PENDING with no handle, the IRP
 * stays outstanding (IRP_PENDING_AT_TEARDOWN unless something completes it later) and its later
 * completion no longer writes the caller's IO_STATUS_BLOCK. */
#include "io_internal.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

static NTSTATUS io_copy_name(const UNICODE_STRING *src, size_t skip_bytes, UNICODE_STRING *dst)
{
    *dst = (UNICODE_STRING){ 0 };
    if (src == NULL || src->MaximumLength <= skip_bytes)
        return STATUS_SUCCESS;
    size_t max = src->MaximumLength - skip_bytes;
    dst->Buffer = malloc(max);
    if (dst->Buffer == NULL)
        abort();
    memcpy(dst->Buffer, (const UCHAR *)src->Buffer + skip_bytes, max);
    dst->MaximumLength = (USHORT)max;
    dst->Length = (USHORT)(src->Length - skip_bytes);
    return STATUS_SUCCESS;
}

/* A create the driver pended, once the work queue has run: its final status when it was completed,
 * after that completion has written the caller's IO_STATUS_BLOCK; else STATUS_PENDING, and UserIosb
 * is cleared in the same critical section, so a completion on another thread either counted itself
 * first (and is waited for) or finds no IO_STATUS_BLOCK to write. */
static NTSTATUS io_create_settle(io_irp *ir)
{
    for (;;) {
        io_lock();
        if (ir->completions == 0) {
            ir->irp.UserIosb = NULL;
            io_unlock();
            return STATUS_PENDING;
        }
        bool done = ir->copied_out;
        NTSTATUS final = ir->final_status;
        io_unlock();
        if (done)
            return final;
        sched_yield(); /* another thread is between counting its completion and writing the results */
    }
}

static NTSTATUS io_create(PHANDLE FileHandle, ACCESS_MASK DesiredAccess, POBJECT_ATTRIBUTES ObjectAttributes,
                          PIO_STATUS_BLOCK IoStatusBlock, PLARGE_INTEGER AllocationSize, ULONG FileAttributes,
                          ULONG ShareAccess, ULONG CreateDisposition, ULONG CreateOptions, PVOID EaBuffer,
                          ULONG EaLength, KPROCESSOR_MODE mode, const char *routine)
{
    km_require_irql_at_most(PASSIVE_LEVEL, routine);
    if (FileHandle == NULL || ObjectAttributes == NULL || IoStatusBlock == NULL)
        return STATUS_INVALID_PARAMETER;
    *FileHandle = NULL; /* on every failure from here on */
    const UNICODE_STRING *name = ObjectAttributes->ObjectName;
    if (name != NULL && (name->Length > name->MaximumLength || (name->Buffer == NULL && name->MaximumLength != 0)))
        return STATUS_OBJECT_NAME_INVALID;

    NTSTATUS status = STATUS_SUCCESS;
    io_file *file = NULL;
    io_enter();
    io_lock();
    if (ObjectAttributes->RootDirectory != NULL) {
        io_obj_kind kind;
        io_file *root = io_handle_lookup_locked(ObjectAttributes->RootDirectory, &kind);
        if (kind != IO_OBJ_FILE)
            status = STATUS_INVALID_HANDLE;
        else {
            file = io_file_alloc_locked(root->fo.DeviceObject, root);
            io_copy_name(name, 0, &file->fo.FileName);
        }
    } else {
        size_t prefix = 0;
        io_device *dev = NULL;
        if (name != NULL && name->Buffer != NULL)
            dev = io_device_lookup_locked(name->Buffer, name->Length / sizeof(WCHAR), &prefix);
        if (dev == NULL)
            status = name == NULL || name->Length == 0 ? STATUS_OBJECT_NAME_INVALID : STATUS_OBJECT_NAME_NOT_FOUND;
        else {
            file = io_file_alloc_locked(&dev->obj, NULL);
            io_copy_name(name, prefix * sizeof(WCHAR), &file->fo.FileName);
        }
    }
    io_unlock();
    if (file == NULL) {
        io_leave(true);
        return status;
    }

    PDEVICE_OBJECT dev = file->fo.DeviceObject;
    io_irp *ir = io_irp_alloc(file, dev->StackSize, IRP_MJ_CREATE, mode);
    PIRP irp = &ir->irp;
    ir->security.DesiredAccess = DesiredAccess;
    ir->security.FullCreateOptions = CreateOptions;
    PIO_STACK_LOCATION stack = IoGetNextIrpStackLocation(irp);
    stack->Parameters.Create.SecurityContext = &ir->security;
    stack->Parameters.Create.Options = (CreateDisposition << 24) | (CreateOptions & 0xFFFFFF);
    stack->Parameters.Create.FileAttributes = (USHORT)FileAttributes;
    stack->Parameters.Create.ShareAccess = (USHORT)ShareAccess;
    stack->Parameters.Create.EaLength = EaLength;
    irp->AssociatedIrp.SystemBuffer = EaBuffer;
    if (AllocationSize != NULL)
        irp->Overlay.AllocationSize = *AllocationSize;
    irp->UserIosb = IoStatusBlock;

    status = io_irp_send(ir);
    if (status == STATUS_PENDING) {
        km_run_work_items();
        status = io_create_settle(ir);
    }
    if (NT_SUCCESS(status) && status != STATUS_PENDING) {
        io_lock();
        file->has_handle = true; /* the creator's reference becomes the handle's */
        io_handle_insert_locked(file, IO_OBJ_FILE, FileHandle);
        io_unlock();
    } else {
        *FileHandle = NULL;
        io_file_release(file, false);
    }
    io_leave(true);
    return status;
}

/* ZwCreateFile (DDI wdm/nf-wdm-zwcreatefile): requestor mode KernelMode. Not modelled: share
 * access, security, extended attributes beyond passing them through. */
NTSTATUS ZwCreateFile(PHANDLE FileHandle, ACCESS_MASK DesiredAccess, POBJECT_ATTRIBUTES ObjectAttributes,
                      PIO_STATUS_BLOCK IoStatusBlock, PLARGE_INTEGER AllocationSize, ULONG FileAttributes,
                      ULONG ShareAccess, ULONG CreateDisposition, ULONG CreateOptions, PVOID EaBuffer, ULONG EaLength)
{
    return io_create(FileHandle, DesiredAccess, ObjectAttributes, IoStatusBlock, AllocationSize, FileAttributes,
                     ShareAccess, CreateDisposition, CreateOptions, EaBuffer, EaLength, KernelMode, "ZwCreateFile");
}

/* NtCreateFile: requestor mode is the thread's previous mode (km_set_previous_mode). */
NTSTATUS NtCreateFile(PHANDLE FileHandle, ACCESS_MASK DesiredAccess, POBJECT_ATTRIBUTES ObjectAttributes,
                      PIO_STATUS_BLOCK IoStatusBlock, PLARGE_INTEGER AllocationSize, ULONG FileAttributes,
                      ULONG ShareAccess, ULONG CreateDisposition, ULONG CreateOptions, PVOID EaBuffer, ULONG EaLength)
{
    return io_create(FileHandle, DesiredAccess, ObjectAttributes, IoStatusBlock, AllocationSize, FileAttributes,
                     ShareAccess, CreateDisposition, CreateOptions, EaBuffer, EaLength, ExGetPreviousMode(),
                     "NtCreateFile");
}

/* IoCreateFile (DDI wdm/nf-wdm-iocreatefile): KernelMode; CreateFileType, InternalParameters and
 * Options (access-check forcing) are not modelled. */
NTSTATUS IoCreateFile(PHANDLE FileHandle, ACCESS_MASK DesiredAccess, POBJECT_ATTRIBUTES ObjectAttributes,
                      PIO_STATUS_BLOCK IoStatusBlock, PLARGE_INTEGER AllocationSize, ULONG FileAttributes,
                      ULONG ShareAccess, ULONG Disposition, ULONG CreateOptions, PVOID EaBuffer, ULONG EaLength,
                      CREATE_FILE_TYPE CreateFileType, PVOID InternalParameters, ULONG Options)
{
    return io_create(FileHandle, DesiredAccess, ObjectAttributes, IoStatusBlock, AllocationSize, FileAttributes,
                     ShareAccess, Disposition, CreateOptions, EaBuffer, EaLength, KernelMode, "IoCreateFile");
}
