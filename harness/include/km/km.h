/* km/km.h: the kernel model's own control surface (not part of the WDK): lifecycle, caller
 * context, fault plans and introspection. Tests, the interpreter and tools include this;
 * driver and allocator code never do (they see only include/). */
#ifndef KM_KM_H
#define KM_KM_H

#include <stdbool.h>
#include <stdint.h>

#include <ntddk.h>
#include <ks.h>

#include "km/verifier.h"

/* ---- Lifecycle ------------------------------------------------------------------------------ */
/* Starts a fresh model: empty pools, handle table, object namespace and work queue; IRQL
 * PASSIVE_LEVEL; previous mode KernelMode; no fault plan. Safe to call again after km_teardown. */
void km_init(void);
/* Process rundown, then the end-of-run checks: closes every open handle (newest first), cancels
 * and drains what that leaves, runs queued work items, then reports IRP_PENDING_AT_TEARDOWN,
 * LOOKASIDE_NOT_DELETED and POOL_LEAK findings (with sites and tags). */
void km_teardown(void);

/* ---- Warm runs ------------------------------------------------------------------------------ */
/* Fuzz targets keep one model, its loaded driver and the objects their prologue opened from one input
 * to the next instead of starting afresh (op_run_config.warm). What makes that sound: after each input
 * the model must hold exactly what it held when those objects were opened, counted by the census;
 * any difference sends the input down the full teardown path, whose checks report what it left. */
typedef struct {
    uint64_t pool_blocks, pool_bytes; /* outstanding pool allocations */
    uint64_t handles, files, file_refs, devices, irps, work_items, lookasides, ks_headers;
} km_census;
void km_census_take(km_census *census);
/* Counts km_init calls: a kept model is stale once someone else started a fresh one. */
uint64_t km_generation(void);
bool km_census_equal(const km_census *a, const km_census *b);
/* Per-run state back to what km_init leaves, every live object kept: IRQL PASSIVE_LEVEL, previous
 * mode KernelMode, no fault plan and zeroed fault counters, no remembered event handles. Only for a
 * model whose census equals one taken with no IRP, work item or event handle outstanding. */
void km_rerun(void);

/* ---- Caller context ------------------------------------------------------------------------- */
/* The previous mode Nt* routines use as Irp->RequestorMode on the calling thread (Zw* always use
 * KernelMode). Models a user-mode caller of NtCreateFile / NtDeviceIoControlFile. */
void km_set_previous_mode(KPROCESSOR_MODE mode);

/* ---- Pools (harness/pool.c) ----------------------------------------------------------------- */
typedef struct {
    uint64_t allocations;       /* successful allocations since km_init */
    uint64_t frees;
    uint64_t failed;            /* allocations refused: by the fault plan, or by the limits below */
    uint64_t limited;           /* of those, refused by the model's limits (above 64 MiB, or past the
                                 * 512 MiB of large blocks), not by the fault plan */
    uint64_t outstanding;       /* allocations not yet freed */
    uint64_t outstanding_bytes;
} km_pool_stats;
void km_pool_get_stats(km_pool_stats *stats);
/* Outstanding allocations carrying this tag. */
uint64_t km_pool_outstanding_for_tag(ULONG tag);
/* The distinct allocation sites ("file.c:123", basename only) seen since km_init, in order of first use. */
size_t km_pool_site_count(void);
const char *km_pool_site_name(size_t index);

/* ---- Fault plans ------------------------------------------------------------------------------ */
typedef struct {
    uint64_t fail_nth;       /* fail the Nth allocation attempt after arming (1-based); 0 = none */
    uint64_t fail_nth_also;  /* a second attempt to fail (for failure pairs); 0 = none */
    const char *site;        /* fail every allocation whose site ("file.c:123"), file ("file.c") or tag (4 chars,
                              * memory order) matches; lookaside lists' own pool site is "lookaside 'Tag'"; NULL = none */
} km_fault_plan;
void km_fault_arm(const km_fault_plan *plan);
void km_fault_disarm(void);
/* Allocation attempts since the plan was armed (or since km_init), and how many were failed. */
uint64_t km_fault_attempts(void);
uint64_t km_fault_injected(void);
/* The site ("file.c:123", or "lookaside 'Tag'") of the most recent failure the plan injected since it
 * was armed (or since km_init), NULL when none; the string stays valid until the next call. */
const char *km_fault_last_site(void);

/* ---- I/O manager (harness/io_*.c) --------------------------------------------------------- */
/* Loads a driver: creates its DRIVER_OBJECT and calls its entry point, which creates named
 * devices with IoCreateDevice. Drivers stay loaded until km_teardown (which unloads them). */
NTSTATUS km_driver_load(PCWSTR name, PDRIVER_INITIALIZE entry, PDRIVER_OBJECT *driver);
/* The file object behind a handle, or NULL when the handle is closed or bogus. */
PFILE_OBJECT km_handle_to_file(HANDLE handle);
ULONG km_handle_count(void);
/* Puts a caller-owned event into the handle table, so it can be passed as the Event argument of
 * Zw/NtDeviceIoControlFile and closed with ZwClose (the model has no ZwCreateEvent). */
NTSTATUS km_event_handle_open(PKEVENT event, PHANDLE handle);
/* IRPs issued and not yet completed. */
ULONG km_io_pending_count(void);
/* Runs queued work items (IoQueueWorkItem / ExQueueWorkItem) in FIFO order at PASSIVE_LEVEL.
 * The I/O manager also runs them before returning from every top-level Nt/Zw call, so
 * deferred work happens at a deterministic point. */
void km_run_work_items(void);

/* ---- Status names (harness/status_names.c) ------------------------------------------------ */
/* "STATUS_INVALID_PARAMETER" for known values, NULL otherwise. */
const char *km_status_name(NTSTATUS status);

#endif /* KM_KM_H */
