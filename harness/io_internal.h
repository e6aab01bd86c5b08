/* io_internal.h: private to the I/O manager (harness/io_*.c) and the KS plumbing (ks_*.c): the
 * records behind drivers, devices, file objects, IRPs and handles, and the one harness lock. */
#ifndef KM_IO_INTERNAL_H
#define KM_IO_INTERNAL_H

#include <pthread.h>

#include "irql_internal.h"

/* ---- The harness lock (io_objects.c) -----------------------------------------------------------
 * One host mutex guards the namespace, the handle table, file-object reference counts, the
 * outstanding-IRP list and the work queue. It is never held while calling into a driver. */
void io_lock(void);
void io_unlock(void);

/* ---- Object types (io_handles.c) --------------------------------------------------------------- */
struct _OBJECT_TYPE {
    const char *name;
};
typedef enum { IO_OBJ_NONE, IO_OBJ_FILE, IO_OBJ_EVENT } io_obj_kind;

/* ---- Devices and drivers (io_objects.c) ------------------------------------------------------ */
typedef struct io_device {
    DEVICE_OBJECT obj;        /* first, so a PDEVICE_OBJECT is the record */
    WCHAR *name;              /* NULL for an unnamed device or after IoDeleteDevice */
    USHORT name_chars;
    bool deleted;             /* IoDeleteDevice ran; freed when ReferenceCount reaches 0 */
    struct io_device *next;   /* every device record, newest first */
} io_device;

/* The device whose name is a case-insensitive prefix of `name` (`chars` code units) followed by
 * the end or '\\'; *prefix_chars receives the name's length. Caller holds the lock. */
io_device *io_device_lookup_locked(const WCHAR *name, size_t chars, size_t *prefix_chars);
/* ReferenceCount is held by file objects and queued work items; the last release of a deleted
 * device frees it. */
void io_device_ref_locked(PDEVICE_OBJECT dev);
void io_device_deref(PDEVICE_OBJECT dev);
void io_driver_rundown(void);
/* The module hooks (io_rundown.c). */
void io_reset(void);
void io_rundown(void);
void io_check(void);
void io_objects_free_all(void);

/* ---- File objects (io_close.c) --------------------------------------------------------------- */
typedef struct io_file {
    FILE_OBJECT fo;           /* first, so a PFILE_OBJECT is the record */
    LONG refs;                /* handle + IRPs issued on it + ObReferenceObject + creator + children */
    bool has_handle;
    bool opened;              /* a create IRP completed with success: IRP_MJ_CLOSE is owed */
    bool close_sent;
    struct io_file *next;     /* every live file object */
} io_file;

io_file *io_file_alloc_locked(PDEVICE_OBJECT dev, io_file *related);
io_file *io_file_find_locked(const void *object);
void io_file_ref_locked(io_file *file);
/* Drops one reference. At zero: sends IRP_MJ_CLOSE if the file was opened, then frees it. `defer`
 * queues that work for the next work-item run instead (required above PASSIVE_LEVEL). */
void io_file_release(io_file *file, bool defer);
/* Close path for the last handle: IRP_MJ_CLEANUP, cancel what is still pending, drop the handle. */
void io_file_last_handle_closed(io_file *file);
void io_files_free_all(void);

/* ---- IRPs (io_irp.c) --------------------------------------------------------------------------- */
/* The create request's security context (Windows x64 layout; wdm.h leaves the type opaque). */
typedef struct _IO_SECURITY_CONTEXT {
    PVOID SecurityQos;
    PVOID AccessState;
    ACCESS_MASK DesiredAccess;
    ULONG FullCreateOptions;
} IO_SECURITY_CONTEXT;

#define IO_IRP_MAGIC 0x49727021u

typedef struct io_irp {
    uint32_t magic;
    int completions;
    io_file *file;                 /* holds one reference until completion */
    struct io_irp *next, *prev;    /* outstanding list, then the graveyard */
    NTSTATUS final_status;         /* IoStatus at (first) completion */
    UCHAR major;
    bool copied_out;               /* completion wrote the caller's buffers and IO_STATUS_BLOCK */
    ULONG method;                  /* IRP_MJ_DEVICE_CONTROL transfer type */
    ULONG out_len;                 /* OutputBufferLength as issued */
    const void *caller_in;         /* the caller's input buffer */
    void *caller_out;              /* the caller's output buffer */
    void *shadow_in, *shadow_out;  /* METHOD_NEITHER exact-size copies */
    void *system_buffer;           /* METHOD_BUFFERED exact max(in, out) bytes */
    IO_SECURITY_CONTEXT security;
    IRP irp;
    IO_STACK_LOCATION stack[];     /* StackCount locations follow the IRP in the same block */
} io_irp;

io_irp *io_irp_from(PIRP irp);     /* NULL when irp is not a live harness IRP */
/* The caller's own address behind a METHOD_NEITHER buffer this IRP carries (its Type3InputBuffer or
 * UserBuffer shadow); `buffer` itself for anything else. On Windows a METHOD_NEITHER driver sees the
 * caller's addresses, and KS keys event entries on the caller's KSEVENTDATA address, so identity must
 * survive the model's shadow copies (which are freed when the IRP completes). */
const void *km_io_caller_address(PIRP Irp, const void *buffer);
/* Allocates an IRP for `file` (taking the IRP's file reference) with StackSize locations. */
io_irp *io_irp_alloc(io_file *file, CCHAR stack_size, UCHAR major, KPROCESSOR_MODE mode);
/* Puts the IRP on the outstanding list and sends it from the top level with the dispatch-return
 * checks (IRQL_NOT_RESTORED, IRP_PENDING_NOT_MARKED, ...). */
NTSTATUS io_irp_send(io_irp *ir);
bool io_irp_completed(io_irp *ir, NTSTATUS *status);
/* Snapshot of the IRPs outstanding on a file object but its IRP_MJ_CLEANUP: what a close cancels
 * (caller frees the array). */
size_t io_irp_pending_on(io_file *file, PIRP **out);
void io_irp_graveyard_flush(void);
void io_irp_free_all(void);

/* ---- Top-level calls (io_irp.c) ---------------------------------------------------------------
 * Every Nt/Zw entry runs between io_enter and io_leave. Completed IRPs stay allocated until no
 * top-level call is active (so a second completion is detectable); the outermost io_leave of a
 * thread runs the work items when `run_work` is set. */
void io_enter(void);
void io_leave(bool run_work);

/* ---- Handles (io_handles.c) ------------------------------------------------------------------- */
NTSTATUS io_handle_insert_locked(void *object, io_obj_kind kind, HANDLE *out);
void *io_handle_lookup_locked(HANDLE handle, io_obj_kind *kind);
void *io_handle_remove_locked(HANDLE handle, io_obj_kind *kind);
/* The most recently inserted open handle, or NULL. */
HANDLE io_handle_newest_locked(void);
bool io_event_known_locked(const void *event);
void io_handles_reset(void);
/* Warm runs (km_census_take, km_rerun; io_rundown.c): each part's counts, and forgetting event handles. */
void io_files_census(km_census *census);
void io_devices_census(km_census *census);
void io_events_forget(void);
void io_census(km_census *census);
void io_rerun(void);

/* ---- Work queue (io_workitem.c) --------------------------------------------------------------- */
/* Queues harness work (deferred final closes) on the same FIFO as driver work items. */
void io_work_queue_internal(void (*fn)(void *), void *arg);
void io_work_reset(void);

/* ---- KS plumbing (ks_object.c) ---------------------------------------------------------------- */
typedef enum { KS_HDR_DEVICE = 1, KS_HDR_OBJECT = 2 } ks_header_kind;
typedef struct ks_header {
    uint32_t magic;
    struct ks_header *next;          /* the live list */
    ks_header_kind kind;
    ULONG item_count;
    PKSOBJECT_CREATE_ITEM items;
    const KSDISPATCH_TABLE *table;   /* object headers only */
    PFILE_OBJECT file;               /* object headers only: the file object it was created for */
} ks_header;

/* The live header of this kind at `p`, or NULL. */
ks_header *ks_header_live(const void *p, ks_header_kind kind);
bool ks_object_header_live_for_file(PFILE_OBJECT file);

#endif /* KM_IO_INTERNAL_H */
