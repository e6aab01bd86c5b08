/* io_handles.c: the handle table and object references (ObReferenceObjectByHandle, Ob[f]Reference/
 * DereferenceObject). There is one process-wide table and no separate kernel handle table:
 * OBJ_KERNEL_HANDLE is accepted and ignored. Handle values are multiples of 4 starting at 4 and
 * the lowest free slot is reused, so numbering is deterministic. */
#include "io_internal.h"
#include "core_internal.h" /* KM_NO_COVERAGE */

#include <stdlib.h>

typedef struct {
    void *object;
    io_obj_kind kind;
    uint64_t seq; /* insertion order, for newest-first rundown */
} io_handle_entry;

#define IO_TABLE_INITIAL 16 /* entries of a fresh model's table */

static io_handle_entry *io_table;
static size_t io_table_cap;
static size_t io_table_used;
static uint64_t io_table_seq;

static struct _OBJECT_TYPE io_file_type = { "File" };
static POBJECT_TYPE io_file_type_ptr = &io_file_type;
POBJECT_TYPE *IoFileObjectType = &io_file_type_ptr;

/* Events that have (had) a handle: their references are not counted (the caller owns the KEVENT). */
static const void **io_events;
static size_t io_event_count;

static size_t io_handle_index(HANDLE handle)
{
    uintptr_t v = (uintptr_t)handle;
    if (v == 0 || v % 4 != 0 || v / 4 - 1 >= io_table_cap)
        return SIZE_MAX;
    return v / 4 - 1;
}

NTSTATUS io_handle_insert_locked(void *object, io_obj_kind kind, HANDLE *out)
{
    size_t i = 0;
    while (i < io_table_cap && io_table[i].kind != IO_OBJ_NONE)
        i++;
    if (i == io_table_cap) {
        size_t cap = io_table_cap ? io_table_cap * 2 : IO_TABLE_INITIAL;
        io_handle_entry *t = realloc(io_table, cap * sizeof *t);
        if (t == NULL)
            abort();
        for (size_t j = io_table_cap; j < cap; j++)
            t[j] = (io_handle_entry){ 0 };
        io_table = t;
        io_table_cap = cap;
    }
    io_table[i] = (io_handle_entry){ object, kind, ++io_table_seq };
    io_table_used++;
    *out = (HANDLE)(uintptr_t)((i + 1) * 4);
    return STATUS_SUCCESS;
}

void *io_handle_lookup_locked(HANDLE handle, io_obj_kind *kind)
{
    size_t i = io_handle_index(handle);
    if (i == SIZE_MAX || io_table[i].kind == IO_OBJ_NONE) {
        *kind = IO_OBJ_NONE;
        return NULL;
    }
    *kind = io_table[i].kind;
    return io_table[i].object;
}

void *io_handle_remove_locked(HANDLE handle, io_obj_kind *kind)
{
    void *object = io_handle_lookup_locked(handle, kind);
    if (object != NULL) {
        io_table[io_handle_index(handle)] = (io_handle_entry){ 0 };
        io_table_used--;
    }
    return object;
}

HANDLE io_handle_newest_locked(void)
{
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < io_table_cap; i++)
        if (io_table[i].kind != IO_OBJ_NONE && (best == SIZE_MAX || io_table[i].seq > io_table[best].seq))
            best = i;
    return best == SIZE_MAX ? NULL : (HANDLE)(uintptr_t)((best + 1) * 4);
}

/* Events are caller memory: a freed KEVENT's address may come back for a new one, so whether an address
 * is already known depends on the host allocator: no coverage (core_internal.h). */
KM_NO_COVERAGE bool io_event_known_locked(const void *event)
{
    for (size_t i = 0; i < io_event_count; i++)
        if (io_events[i] == event)
            return true;
    return false;
}

/* Warm runs (km_rerun): forget event handles, and give the table back the capacity a fresh model starts
 * with when every live handle fits in it, so that where it grows (and how far io_handle_newest_locked
 * scans) does not depend on how many handles earlier inputs held at once. The trim itself does depend
 * on them: no coverage (core_internal.h). */
KM_NO_COVERAGE void io_events_forget(void)
{
    io_lock();
    io_event_count = 0; /* the array is kept for the next run */
    bool fits = io_table_cap > IO_TABLE_INITIAL;
    for (size_t i = IO_TABLE_INITIAL; fits && i < io_table_cap; i++)
        fits = io_table[i].kind == IO_OBJ_NONE;
    if (fits) {
        io_handle_entry *t = realloc(io_table, IO_TABLE_INITIAL * sizeof *t);
        if (t != NULL) {
            io_table = t;
            io_table_cap = IO_TABLE_INITIAL;
        }
    }
    io_unlock();
}

void io_handles_reset(void)
{
    free(io_table);
    io_table = NULL;
    io_table_cap = io_table_used = 0;
    io_table_seq = 0;
    free(io_events);
    io_events = NULL;
    io_event_count = 0;
}

PFILE_OBJECT km_handle_to_file(HANDLE handle)
{
    io_obj_kind kind;
    io_lock();
    void *object = io_handle_lookup_locked(handle, &kind);
    io_unlock();
    return kind == IO_OBJ_FILE ? (PFILE_OBJECT)object : NULL;
}

ULONG km_handle_count(void)
{
    io_lock();
    ULONG n = (ULONG)io_table_used;
    io_unlock();
    return n;
}

KM_NO_COVERAGE static void io_event_remember_locked(const void *event)
{
    if (!io_event_known_locked(event)) {
        const void **grown = realloc(io_events, (io_event_count + 1) * sizeof *grown);
        if (grown == NULL)
            abort();
        io_events = grown;
        io_events[io_event_count++] = event;
    }
}

NTSTATUS km_event_handle_open(PKEVENT event, PHANDLE handle)
{
    if (event == NULL || handle == NULL)
        return STATUS_INVALID_PARAMETER;
    io_lock();
    io_event_remember_locked(event);
    NTSTATUS status = io_handle_insert_locked(event, IO_OBJ_EVENT, handle);
    io_unlock();
    return status;
}

/* ObReferenceObjectByHandle (DDI wdm/nf-wdm-obreferenceobjectbyhandle). Not modelled: access
 * checks (DesiredAccess and AccessMode are ignored). File objects are referenced; event objects
 * belong to their caller and are returned without a counted reference. */
NTSTATUS ObReferenceObjectByHandle(HANDLE Handle, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType,
                                   KPROCESSOR_MODE AccessMode, PVOID *Object,
                                   POBJECT_HANDLE_INFORMATION HandleInformation)
{
    km_require_irql_at_most(APC_LEVEL, "ObReferenceObjectByHandle");
    if (Object == NULL)
        return STATUS_INVALID_PARAMETER;
    *Object = NULL;
    io_obj_kind kind;
    io_lock();
    void *object = io_handle_lookup_locked(Handle, &kind);
    if (object == NULL) {
        io_unlock();
        return STATUS_INVALID_HANDLE;
    }
    if (ObjectType != NULL && (ObjectType != *IoFileObjectType || kind != IO_OBJ_FILE)) {
        io_unlock();
        return STATUS_OBJECT_TYPE_MISMATCH;
    }
    if (kind == IO_OBJ_FILE)
        io_file_ref_locked(object);
    io_unlock();
    if (HandleInformation != NULL)
        *HandleInformation = (OBJECT_HANDLE_INFORMATION){ 0, DesiredAccess };
    *Object = object;
    return STATUS_SUCCESS;
}

/* ObfReferenceObject (DDI wdm/nf-wdm-obfreferenceobject). */
LONG_PTR ObfReferenceObject(PVOID Object)
{
    io_lock();
    io_file *file = io_file_find_locked(Object);
    if (file == NULL) {
        bool event = io_event_known_locked(Object);
        io_unlock();
        KM_VERIFY(API_INVALID_PARAMETER, event, "ObfReferenceObject of an object the model does not know");
        return 1;
    }
    io_file_ref_locked(file);
    LONG_PTR refs = file->refs;
    io_unlock();
    return refs;
}

/* ObfDereferenceObject (DDI wdm/nf-wdm-obfdereferenceobject): the last reference to an opened file
 * object sends IRP_MJ_CLOSE; above PASSIVE_LEVEL that is deferred to the work queue. */
LONG_PTR ObfDereferenceObject(PVOID Object)
{
    io_lock();
    io_file *file = io_file_find_locked(Object);
    if (file == NULL || file->refs <= 0) {
        bool event = file == NULL && io_event_known_locked(Object);
        io_unlock();
        KM_VERIFY(API_INVALID_PARAMETER, event, "ObfDereferenceObject of an object with no references");
        return 0;
    }
    LONG_PTR left = file->refs - 1;
    io_unlock();
    io_file_release(file, KeGetCurrentIrql() > PASSIVE_LEVEL);
    return left;
}
