/* interp_internal.h: private to the interpreter (fuzz/interp*.c, trace.c, refmodel.c): the run state
 * (slots, the objects, frames, events and pending IRPs a program obtained), the trace line builder
 * and the per-role operation handlers. One run at a time: the kernel model is process-global. */
#ifndef OP_INTERP_INTERNAL_H
#define OP_INTERP_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "interp.h"
#include "km/km.h"
#include "refmodel.h"

/* The fixed non-NULL values a `bogus` reference stands for (never issued by the model). */
#define IP_BOGUS_HANDLE ((HANDLE)(uintptr_t)0xB06C)
#define IP_BOGUS_FRAME ((PVOID)(uintptr_t)0xB06B0000u)
/* Caller buffers larger than this are not allocated: the op is traced `SKIPPED size`. */
#define IP_MAX_BUFFER (1u << 20)
#define IP_MAX_OBJECTS 1024
#define IP_NONE (-1)

typedef enum { IP_FILTER, IP_PIN, IP_ALLOCATOR, IP_OTHER } ip_kind;

/* A handle this program obtained (its ordinal is its number in the trace: #1, #2, ...). */
typedef struct ip_object {
    HANDLE handle;
    unsigned ordinal;
    ip_kind kind;
    bool open;
    bool have_table; /* table holds what the last FUNCTIONTABLE GET on this object returned */
    KSSTREAMALLOCATOR_FUNCTIONTABLE table;
    rm_allocator model; /* kind == IP_ALLOCATOR */
} ip_object;

/* A frame handed out (ordinals number hand-outs: an address handed out again is a new frame). */
typedef struct ip_frame {
    PVOID addr;
    unsigned ordinal;
    int owner; /* object index */
    bool live;
    bool misaligned;
} ip_frame;

/* An event enabled by event_enable: the notification object and the KSEVENTDATA stay allocated
 * until the run ends (the allocator may signal them until it is closed). */
typedef struct ip_event {
    unsigned ordinal;
    int owner;
    ULONG notify;
    void *object; /* KEVENT or KSEMAPHORE, or NULL */
    KSEVENTDATA *data;
    HANDLE event_handle; /* KSEVENTF_EVENT_HANDLE: the KEVENT's handle */
    bool enabled;
    LONG seen_state;
} ip_event;

/* What a request's output buffer holds, for printing pointer words as tokens. */
typedef enum { IP_OUT_PLAIN, IP_OUT_FRAME0, IP_OUT_TABLE } ip_out_kind;

/* A request sent with Zw/NtDeviceIoControlFile. Kept (with its buffers) until the run ends when the
 * call returned STATUS_PENDING; its completion is traced when the IO_STATUS_BLOCK is written. */
typedef struct ip_request {
    size_t op_index;
    op_code code;
    int target; /* object index or IP_NONE */
    IO_STATUS_BLOCK *iosb;
    uint8_t *in_alloc, *out_alloc; /* the allocations (the buffers may start one byte in) */
    uint8_t *out;
    ULONG out_size;
    ip_out_kind out_kind;
    bool alloc_shaped; /* METHOD ALLOC on the allocator method set: a frame comes back at offset 0 */
    bool free_shaped;  /* METHOD FREE: the frame at output offset 0 goes back */
    PVOID free_frame;
    op_slot out_slot;
    bool has_out_slot;
    bool done;
    bool listed; /* in ip.requests */
} ip_request;

/* The line being built: committed to the trace after the model checks of its operation. */
typedef struct ip_state {
    const op_run_config *config;
    op_trace *trace; /* NULL: nothing is formatted */
    op_trace line;
    bool in_line; /* a line has been started (the verifier hook prints it) */

    int object_count, frame_count, event_count, request_count; /* the used prefix of each table below */
    unsigned event_ordinals;

    int hslot[OP_SLOT_COUNT], fslot[OP_SLOT_COUNT], eslot[OP_SLOT_COUNT];
    bool have_closed_handle, have_freed_frame;
    HANDLE closed_handle;
    PVOID freed_frame;
    int disabled_event;

    KIRQL irql;           /* `current` (set_irql); may be out of range */
    uint8_t mode;         /* `current` (set_mode); may be out of range */
    km_fault_plan fault;  /* the plan the program armed (site points into fault_site) */
    char fault_site[64];
    bool fault_armed;
    bool allocate_fails; /* the test filter's DefaultAllocate currently returns NULL (global config) */
    unsigned filter_callbacks; /* RM_CB_* the test filter currently passes (what a create_raw gets) */
    uint64_t fault_consumed; /* attempts counted against the plan before the last re-arm */
    uint64_t fault_injected; /* failures the plan injected before the last re-arm */
    char fault_last_site[64]; /* the site of the latest of those */
    bool line_has_status;    /* the current op's own status (for op_fault_outcome) */
    bool frame_reused; /* the op names a returned frame whose address is now another frame's */
    NTSTATUS line_status;

    uint64_t pool_failed_before; /* km_pool_stats.failed when the current op started */
    uint64_t pool_limited_before; /* km_pool_stats.limited when the current op started */
    size_t op_index;
    op_code op_code; /* "0007" style index text of the current line */
    char label[16];
    /* Per-op model bookkeeping */
    rm_expect expect;
    int expect_target;
    int completions_expected_min, completions_expected_max, completions_seen;
    int completion_target;
    NTSTATUS completion_status;
    bool completion_tolerant; /* a resource failure may keep the pending ALLOC waiting */
    bool in_rundown;

    /* The tables last: a run clears everything above them and nothing in them (their counts say
     * what is in use, and every entry is written whole when it is added). */
    ip_object objects[IP_MAX_OBJECTS];
    ip_frame frames[IP_MAX_OBJECTS];
    ip_event events[IP_MAX_OBJECTS];
    ip_request *requests[IP_MAX_OBJECTS]; /* pending ones only */
} ip_state;

extern ip_state ip;

/* ---- trace.c ---------------------------------------------------------------------------------- */
void tr_append(op_trace *t, const char *text, size_t len);
void tr_printf(op_trace *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Line building (no-ops when the run is not traced). */
void ip_line_begin(const char *label, const char *name);
void ip_line_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ip_line_status(NTSTATUS status);
void ip_line_no_status(void); /* " -": an op that has no status (fn_free, set_irql, ...) */
void ip_line_commit(void);
/* `out=HEX` of out[0, n) with pointer words replaced by tokens; nothing when n == 0. */
void ip_line_out(const uint8_t *out, size_t n, ip_out_kind kind);
uint64_t tr_fnv1a(const char *text, size_t len);

/* ---- interp.c: slots, objects, frames ---------------------------------------------------------- */
typedef enum { IP_REF_OK, IP_REF_EMPTY } ip_ref_result;
/* Resolves a handle reference; on IP_REF_EMPTY the line says `SKIPPED empty ...` already. */
bool ip_ref_handle(op_ref ref, HANDLE *handle, int *object);
bool ip_ref_frame(op_ref ref, PVOID *frame);
bool ip_ref_event(op_ref ref, int *event);
int ip_object_by_handle(HANDLE handle); /* the open object with this handle value, or IP_NONE */
int ip_object_add(HANDLE handle, ip_kind kind);
void ip_slot_handle(op_slot slot, int object);
int ip_frame_handed_out(int owner, PVOID addr, const char *how);
void ip_slot_frame(op_slot slot, int frame); /* sets the slot and traces fN=#K */
void ip_slot_frame_set(op_slot slot, int frame);
void ip_slot_frame_trace(op_slot slot, int frame);
int ip_frame_live(int owner, PVOID addr); /* the live frame of owner at addr, or IP_NONE */
void ip_frame_returned(int frame);
void ip_object_closed(int object);
/* Mode/IRQL of an op: false (and the line says SKIPPED) when the value cannot be applied. */
bool ip_op_mode(uint8_t field, KPROCESSOR_MODE *mode);
bool ip_op_irql(uint8_t field, KIRQL max, KIRQL *irql);
void ip_enter_irql(KIRQL irql);
void ip_leave_irql(KIRQL irql);
void ip_skip(const char *why);
/* Copies a blob into an exact-size heap buffer (NULL for an empty blob). */
uint8_t *ip_blob_copy(op_bytes blob);
void *ip_xalloc(size_t size);
/* Fault plan: suspend (for the interpreter's own model queries) and resume with the counts kept. */
void ip_fault_suspend(void);
void ip_fault_resume(void);

/* ---- interp_io.c: requests ----------------------------------------------------------------------- */
typedef struct ip_ioctl_args {
    int target_object;
    HANDLE target;
    ULONG code;
    const uint8_t *in;       /* in_len bytes to copy in (the rest zero) */
    size_t in_len;
    ULONG in_size;           /* InputBufferLength */
    const uint8_t *data;     /* initial output bytes */
    size_t data_len;
    ULONG out_size;
    PVOID frame;             /* written at output offset 0 when has_frame */
    bool has_frame;
    uint8_t buffers;
    KPROCESSOR_MODE mode;
    ip_out_kind out_kind;
    bool alloc_shaped, free_shaped;
    bool has_out_slot;
    op_slot out_slot;
    uint8_t *out_external;   /* use this caller-owned output buffer (out_size bytes) instead */
    const uint8_t *in_external;  /* when set: the input buffer itself (its address is an identity), not copied */
} ip_ioctl_args;
/* Sends the request and traces status, info, out and a frame assignment. Returns the request (NULL
 * when the op was skipped: buffer too large), whose output the caller may read before releasing it. */
ip_request *ip_ioctl(const ip_ioctl_args *args, NTSTATUS *status, ULONG_PTR *information);
/* Frees a request that is not pending (pending ones stay with ip.requests until the run ends). */
void ip_request_release(ip_request *request);
/* Traces requests completed since the last scan (`done` lines; run after each op's line). */
void ip_scan_completions(void);
void ip_requests_free(void);

void ip_op_ioctl(const op_args_ioctl *a);
void ip_op_prop(op_code code, op_ref target, uint32_t out_size, uint8_t mode, uint8_t irql);
void ip_op_method_alloc(const op_args_method_alloc *a);
void ip_op_method_free(const op_args_method_free *a);
void ip_op_framing_ex(const op_args_framing_ex *a);

/* ---- interp_create.c ------------------------------------------------------------------------------ */
void ip_op_open_filter(const op_args_open_filter *a);
void ip_op_open_pin(const op_args_open_pin *a);
void ip_op_create_framing(const op_args_create_framing *a);
void ip_op_create_raw(const op_args_create_raw *a);
void ip_op_create_default_ex(const op_args_create_default_ex *a);
void ip_op_close(const op_args_close *a);
/* A create name's buffer: max(blob size, max_length) bytes, exactly (ASan sees any read past it), the blob
 * then zeros; NULL when that is 0 bytes. *size receives the size. Free with free(). */
uint8_t *ip_name_buffer(op_bytes name, uint16_t max_length, size_t *size);
/* decisions Q2/Q18: the framing a create name of `length` bytes carries, if it is [\]KSSTRING_Allocator\ + 24 bytes. */
bool ip_raw_framing(const uint8_t *name, size_t length, KSALLOCATOR_FRAMING *framing);
/* Opens the test filter (kernel mode) into the object table; used by open_filter and the prologue. */
NTSTATUS ip_open_relative(HANDLE root, const UNICODE_STRING *name, KPROCESSOR_MODE mode, HANDLE *handle,
                          IO_STATUS_BLOCK *iosb);

/* ---- interp_ddi.c ---------------------------------------------------------------------------------- */
void ip_op_validate_irp(const op_args_validate_irp *a);
void ip_op_null_args(const op_args_null_args *a);

/* ---- interp_frames.c --------------------------------------------------------------------------------- */
void ip_op_fn_alloc(const op_args_fn_alloc *a);
void ip_op_fn_free(const op_args_fn_free *a);
/* Fetches (kernel mode, PASSIVE_LEVEL, untraced) the function table of an object. */
NTSTATUS ip_fetch_table(int object);
NTSTATUS ip_get_property(HANDLE handle, ULONG id, void *out, ULONG size, ULONG_PTR *information); /* interp.c */

/* ---- interp_events.c ------------------------------------------------------------------------------- */
void ip_op_event_enable(const op_args_event_enable *a);
void ip_op_event_disable(const op_args_event_disable *a);
/* Adds `signal=#N` tokens for events signalled during the op (and re-arms them). */
void ip_events_scan(void);
void ip_events_free(void);
/* ---- interp_warm.c: warm runs (op_run_config.warm) --------------------------------------------- */
bool ip_warm_wanted(const op_run_config *config);
bool ip_warm_ready(void);        /* a kept model is waiting for the next warm run */
bool ip_warm_resume(void);       /* starts the run on the kept model (false: none; start cold) */
void ip_warm_keep(unsigned handle_ordinals); /* after a cold prologue: keep this model */
void ip_warm_discard(void);      /* tears the kept model down (before a cold run) */
bool ip_warm_in_use(void);       /* this run resumed or kept a model */
int ip_warm_objects(void);       /* the kept objects at the front of ip.objects */
bool ip_warm_quiescent(void);    /* at rundown, the program's objects closed: keep the model? */
void ip_handle_ordinals_set(unsigned n);
/* A program closed `handle` and it named one of the interpreter's own event handles (a stale value the
 * handle table reused, as Windows does): forget it and say so. */
bool ip_event_handle_closed_by_program(HANDLE handle);

/* ---- interp_context.c ------------------------------------------------------------------------------ */
void ip_op_set_irql(const op_args_set_irql *a);
void ip_op_set_mode(const op_args_set_mode *a);
void ip_op_fault(const op_args_fault *a);

/* ---- refmodel glue (interp.c) ------------------------------------------------------------------- */
bool ip_model_on(void);
/* interp_impl.c: configure the pin's allocator for this run; is it the filter-specific one? */
void ip_impl_begin(const op_run_config *config);
bool ip_filter_specific(void);
bool ip_pool_refused(void); /* the pool refused an allocation during the current op */
void ip_model_after_op(void);

#endif /* OP_INTERP_INTERNAL_H */
