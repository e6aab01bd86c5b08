/* refmodel.h: the reference model: an executable statement of the documented allocator semantics
 * (docs/decisions.md Q1, Q6, Q8, Q10, Q14, Q15, Q17 and the KsCreateDefaultAllocatorEx callback
 * rules), written from the decisions table, not from allocator/. The interpreter asks it what an
 * operation may return and checks the implementation's answers with the rm_check_* functions, each
 * of which fails exactly one verifier check. */
#ifndef OP_REFMODEL_H
#define OP_REFMODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "km/km.h"

/* What the model knows about one live allocator. */
typedef struct rm_allocator {
    KSALLOCATOR_FRAMING framing; /* as requested at create: STATUS must return exactly this */
    bool external;               /* KsCreateDefaultAllocatorEx with DefaultAllocate */
    uint32_t outstanding;        /* frames handed out and not returned (Q10: AllocatedFrames) */
    uint32_t pending;            /* ALLOC IRPs waiting for a frame (Q8) */
} rm_allocator;

/* The statuses an operation may return; known == false means the model makes no prediction. */
#define RM_MAX_ALTERNATIVES 6
typedef struct rm_expect {
    bool known;
    int count;
    NTSTATUS status[RM_MAX_ALTERNATIVES];
    bool pends;        /* an ALLOC the model expects to pend (STATUS_PENDING in status[]) */
} rm_expect;

void rm_expect_unknown(rm_expect *e);
void rm_expect_one(rm_expect *e, NTSTATUS status);
void rm_expect_add(rm_expect *e, NTSTATUS status);
bool rm_expect_allows(const rm_expect *e, NTSTATUS status);

/* Q6: FileAlignment is 2^n-1 and at most PAGE_SIZE-1. */
bool rm_alignment_valid(ULONG mask);
/* Q1/Q6: the status KsValidateAllocatorCreateRequest gives a framing (every field failure is
 * STATUS_INVALID_PARAMETER, so the order of the checks does not matter). */
NTSTATUS rm_framing_status(const KSALLOCATOR_FRAMING *framing);
bool rm_pool_paged(ULONG pool);
/* Callback bits of create_default_ex (ops.def class `callbacks`). */
#define RM_CB_CONTEXT 0x1u
#define RM_CB_ALLOCATE 0x2u
#define RM_CB_FREE 0x4u
#define RM_CB_INITIALIZE 0x8u
#define RM_CB_DELETE 0x10u
/* A create on a live pin: plain KsCreateAllocator (callbacks 0) or the Ex callbacks. */
void rm_expect_create(rm_expect *e, const KSALLOCATOR_FRAMING *framing, unsigned callbacks, unsigned fail);
/* Q14 size gate then the item's own rules: STATUS (id 1) and FUNCTIONTABLE (id 0, Q17, kernel only). */
void rm_expect_property(rm_expect *e, const rm_allocator *a, ULONG id, KPROCESSOR_MODE mode, ULONG out_size);
/* Q8: ALLOC (pends at the Frames limit or behind waiting ALLOCs) and FREE (only frames this allocator
 * handed out). */
void rm_expect_alloc(rm_expect *e, const rm_allocator *a, KPROCESSOR_MODE mode, ULONG out_size, bool allocate_fails);
void rm_expect_free(rm_expect *e, const rm_allocator *a, KPROCESSOR_MODE mode, ULONG out_size, bool frame_is_ours);
/* Q8: function-table AllocateFrame: no frame (the limit, or ALLOCs waiting) -> STATUS_INSUFFICIENT_RESOURCES,
 * never pending. */
void rm_expect_fn_alloc(rm_expect *e, const rm_allocator *a, bool allocate_fails);

/* ---- Checks (each trips exactly one verifier ID) ------------------------------------------------ */
/* MODEL_DISAGREEMENT unless e allows got (or e is unknown); STATUS_INSUFFICIENT_RESOURCES is also
 * allowed when resource_failure_ok (the pool refused an allocation during the operation). */
void rm_check_status(const char *what, NTSTATUS got, const rm_expect *e, bool resource_failure_ok);
/* The same for the ksuser form, which returns RtlNtStatusToDosError of the status (Q7). */
void rm_check_win32(const char *what, ULONG got, const rm_expect *e, bool resource_failure_ok);
/* FRAME_MISALIGNED when (frame & mask) != 0 (only the offset is reported, never the address). */
void rm_check_frame_alignment(const char *what, unsigned ordinal, PVOID frame, ULONG mask);
/* ALLOCATED_FRAMES_MISMATCH when the STATUS property's AllocatedFrames differs from the count. */
void rm_check_allocated_frames(const char *what, ULONG reported, ULONG expected);
/* MODEL_DISAGREEMENT when the stored framing differs from the one requested at create. */
void rm_check_framing(const char *what, const KSALLOCATOR_FRAMING *reported, const KSALLOCATOR_FRAMING *expected);
/* MODEL_DISAGREEMENT when cond is false. */
void rm_check(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* OP_REFMODEL_H */
