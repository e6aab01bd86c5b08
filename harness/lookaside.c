/* lookaside.c: paged and nonpaged lookaside lists. State lives out of band: a registry keyed by the
 * list's address (initialise twice, end-of-run report) and a slot table that the list reaches in
 * O(1) through its spare Future[] fields (slot number and a cookie, both re-checked against the
 * slot under the slot's own lock, so garbage, a copy, a deleted or a re-initialised list fail
 * LOOKASIDE_NOT_INITIALIZED). Each list has its own lock and its own set of the entries it owns
 * (outstanding or cached); an entry is outstanding when owned and not in the cache, so
 * LOOKASIDE_WRONG_LIST costs one probe and no global lock; only a failing free searches the other
 * lists, to say whose entry it was. The entry handed out last is remembered (`hot`) while it stays
 * outstanding, so freeing it, the usual order of scratch buffers, needs neither that probe nor the
 * cache scan: the same check, answered exactly by an equality that does not depend on where the
 * host put the entry (so fuzzers see stable edges).
 * Freed entries are cached up to a fixed depth of 16 and reused LIFO: Windows tunes the depth
 * between 4 and 256 at run time, which would make reuse depend on timing; a fixed depth keeps
 * runs deterministic while still exercising reuse of discarded frames (facts file §5.3). Cached
 * entries are ASan-poisoned, so touching a freed entry is reported, and handed out again as
 * uninitialised memory for MSan, since Windows does not clear them. */
#define _POSIX_C_SOURCE 200809L /* sched_yield */
#include "core_internal.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define KM_POISON(p, n) __asan_poison_memory_region((p), (n))
#define KM_UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#endif
#if __has_feature(memory_sanitizer)
#include <sanitizer/msan_interface.h>
#define KM_MARK_UNINITIALISED(p, n) __msan_allocated_memory((p), (n))
#endif
#endif
#ifndef KM_POISON
#define KM_POISON(p, n) ((void)(p), (void)(n))
#define KM_UNPOISON(p, n) ((void)(p), (void)(n))
#endif
#ifndef KM_MARK_UNINITIALISED
#define KM_MARK_UNINITIALISED(p, n) ((void)(p), (void)(n))
#endif

#define KM_LOOKASIDE_DEPTH 16

/* The value of every key of a list's entry map (the map is a set). */
#define KM_ENTRY_OWNED ((void *)1)

typedef struct {
    unsigned busy;                 /* the list's lock (a plain spin, one atomic per operation) */
    PGENERAL_LOOKASIDE list;       /* NULL while the slot is free */
    ULONG slot;                    /* this state's slot number; list->Future[0] is slot + 1 */
    ULONG cookie;                  /* stamped into list->Future[1]; never reused */
    bool paged;
    ULONG size;                    /* copied: the list itself may be gone by teardown */
    uint64_t seq;                  /* initialisation order, for a stable NOT_DELETED report */
    PALLOCATE_FUNCTION allocate;   /* NULL: the pool, at the site below */
    PFREE_FUNCTION free;           /* NULL: ExFreePool */
    char site[24];                 /* "lookaside 'Tag'": fault plans can target the list's pool */
    unsigned cached;
    PVOID hot;                     /* NULL, or an outstanding entry: the one handed out last */
    PVOID cache[KM_LOOKASIDE_DEPTH];
    km_ptrmap entries;             /* every entry the list owns, outstanding or in cache[] */
} km_lookaside;

/* The slot table: chunks are published once and never move or go away, and a slot's state stays
 * allocated for the life of the process (a free slot is reused by the next initialisation), so a
 * reader holding only a slot number never touches freed memory, even when racing a delete. */
#define KM_LOOKASIDE_CHUNK 256
#define KM_LOOKASIDE_CHUNKS 1024 /* at most 262144 lists initialised at once */
static km_lookaside *km_lookaside_slots[KM_LOOKASIDE_CHUNKS]; /* chunk i: slots i*CHUNK... */
static unsigned km_lookaside_nslots;                           /* slots in use or free (atomic) */
static unsigned *km_lookaside_free_slots, km_lookaside_nfree, km_lookaside_free_capacity;
static ULONG km_lookaside_cookie;                              /* never reset: stale lists stay stale */

static pthread_mutex_t km_lookaside_lock = PTHREAD_MUTEX_INITIALIZER; /* registry and slot table */
static km_ptrmap km_lookaside_lists;   /* list address -> km_lookaside (initialised lists) */
static uint64_t km_lookaside_seq;

static void km_lookaside_oom(void)
{
    fprintf(stderr, "kernel model: host out of memory\n");
    abort();
}

static const char *km_lookaside_kind(bool paged) { return paged ? "paged" : "nonpaged"; }

static inline void km_lookaside_lock_list(km_lookaside *la)
{
    while (__builtin_expect(__atomic_exchange_n(&la->busy, 1, __ATOMIC_ACQUIRE) != 0, 0))
        while (__atomic_load_n(&la->busy, __ATOMIC_RELAXED) != 0)
            sched_yield();
}

static inline void km_lookaside_unlock_list(km_lookaside *la) { __atomic_store_n(&la->busy, 0, __ATOMIC_RELEASE); }

static inline km_lookaside *km_lookaside_slot(ULONG slot)
{
    if (slot >= __atomic_load_n(&km_lookaside_nslots, __ATOMIC_ACQUIRE))
        return NULL;
    km_lookaside *chunk = __atomic_load_n(&km_lookaside_slots[slot / KM_LOOKASIDE_CHUNK], __ATOMIC_ACQUIRE);
    return &chunk[slot % KM_LOOKASIDE_CHUNK];
}

__attribute__((noinline, cold)) static void km_lookaside_irql_checked(bool paged, const char *routine)
{
    KIRQL irql = km_thread_current()->irql;
    KM_VERIFY(IRQL_PAGED_POOL, !paged || irql <= APC_LEVEL, "%s at IRQL %u", routine, irql);
    km_require_irql_at_most(DISPATCH_LEVEL, routine);
}

/* The IRQL rules of every list operation; the checked path words the finding. */
static inline void km_lookaside_irql(bool paged, const char *routine)
{
    if (__builtin_expect(km_thread_current()->irql > (paged ? APC_LEVEL : DISPATCH_LEVEL), 0))
        km_lookaside_irql_checked(paged, routine);
}

/* The list's state, locked; fails LOOKASIDE_NOT_INITIALIZED (holding nothing) when the list is not
 * an initialised list of this kind. Future[0] is the slot number + 1, Future[1] the cookie. */
__attribute__((noinline, cold, noreturn)) static void km_lookaside_not_initialised(bool paged, const char *routine)
{
    km_verifier_fail(KM_V_LOOKASIDE_NOT_INITIALIZED, "%s on a list that is not an initialised %s list", routine,
                     km_lookaside_kind(paged));
    abort();
}

static inline km_lookaside *km_lookaside_find(PGENERAL_LOOKASIDE list, bool paged, const char *routine)
{
    km_lookaside *la = list != NULL ? km_lookaside_slot(list->Future[0] - 1) : NULL;
    if (__builtin_expect(la != NULL, 1)) {
        km_lookaside_lock_list(la);
        if (__builtin_expect(la->list == list && la->cookie == list->Future[1] && la->paged == paged, 1))
            return la;
        km_lookaside_unlock_list(la);
    }
    km_lookaside_not_initialised(paged, routine);
}

/* Chunks and the free list outlive runs (their memory only; the reset empties both), so whether this run
 * is the first to need a chunk or a bigger free list depends on the inputs run before it: these two
 * carry no coverage instrumentation (KM_NO_COVERAGE, core_internal.h), so a fuzzer sees the same edges
 * for an input whatever ran before it (AFL++ stability). */
KM_NO_COVERAGE static km_lookaside *km_lookaside_chunk(unsigned n)
{
    km_lookaside *chunk = km_lookaside_slots[n / KM_LOOKASIDE_CHUNK];
    if (chunk == NULL) {
        chunk = calloc(KM_LOOKASIDE_CHUNK, sizeof *chunk);
        if (chunk == NULL)
            km_lookaside_oom();
        for (unsigned i = 0; i < KM_LOOKASIDE_CHUNK; i++)
            chunk[i].slot = n + i;
        __atomic_store_n(&km_lookaside_slots[n / KM_LOOKASIDE_CHUNK], chunk, __ATOMIC_RELEASE);
    }
    return chunk;
}

KM_NO_COVERAGE static void km_lookaside_free_reserve(void)
{
    if (km_lookaside_nfree == km_lookaside_free_capacity) {
        km_lookaside_free_capacity = km_lookaside_free_capacity ? km_lookaside_free_capacity * 2 : 64;
        km_lookaside_free_slots = realloc(km_lookaside_free_slots,
                                          km_lookaside_free_capacity * sizeof *km_lookaside_free_slots);
        if (km_lookaside_free_slots == NULL)
            km_lookaside_oom();
    }
}

/* A free slot's state (caller holds km_lookaside_lock), zeroed except for its lock word. */
static km_lookaside *km_lookaside_take_slot(void)
{
    if (km_lookaside_nfree != 0)
        return km_lookaside_slot(km_lookaside_free_slots[--km_lookaside_nfree]);
    unsigned n = km_lookaside_nslots;
    if (n == KM_LOOKASIDE_CHUNK * KM_LOOKASIDE_CHUNKS) {
        fprintf(stderr, "kernel model: more than %u lookaside lists initialised at once\n", n);
        abort();
    }
    km_lookaside *chunk = km_lookaside_chunk(n);
    __atomic_store_n(&km_lookaside_nslots, n + 1, __ATOMIC_RELEASE);
    return &chunk[n % KM_LOOKASIDE_CHUNK];
}

static void km_lookaside_put_slot(ULONG slot)
{
    km_lookaside_free_reserve();
    km_lookaside_free_slots[km_lookaside_nfree++] = slot;
}

static void km_lookaside_init(PGENERAL_LOOKASIDE list, bool paged, PALLOCATE_FUNCTION Allocate, PFREE_FUNCTION Free,
                              SIZE_T Size, ULONG Tag, const char *routine)
{
    KM_VERIFY(API_INVALID_PARAMETER, list != NULL, "%s(NULL)", routine);
    KM_VERIFY(API_INVALID_PARAMETER, Size != 0 && Size <= MAXULONG, "%s with entry size %zu", routine, (size_t)Size);
    km_require_irql_at_most(paged ? APC_LEVEL : DISPATCH_LEVEL, routine);
    char site[24], tag[5];
    for (int i = 0; i < 4; i++) {
        unsigned char c = (unsigned char)(Tag >> (8 * i));
        tag[i] = c >= 0x20 && c < 0x7F && c != '/' ? (char)c : '?';
    }
    tag[4] = '\0';
    snprintf(site, sizeof site, "lookaside '%s'", tag);

    *list = (GENERAL_LOOKASIDE){ 0 };
    list->Depth = list->MaximumDepth = KM_LOOKASIDE_DEPTH;
    list->Type = paged ? PagedPool : NonPagedPool;
    list->Tag = Tag;
    list->Size = (ULONG)Size;
    list->Allocate = Allocate != NULL ? Allocate : ExAllocatePoolWithTag;
    list->Free = Free != NULL ? Free : ExFreePool;
    InitializeListHead(&list->ListEntry);

    pthread_mutex_lock(&km_lookaside_lock);
    km_lookaside *la = km_ptrmap_get(&km_lookaside_lists, list);
    bool twice = la != NULL;
    if (!twice) {
        la = km_lookaside_take_slot();
        km_lookaside_lock_list(la);
        la->list = list;
        la->cookie = ++km_lookaside_cookie != 0 ? km_lookaside_cookie : ++km_lookaside_cookie;
        la->paged = paged;
        la->size = (ULONG)Size;
        la->seq = ++km_lookaside_seq;
        la->allocate = Allocate;
        la->free = Free;
        memcpy(la->site, site, sizeof site);
        la->cached = 0;
        la->hot = NULL;
        km_lookaside_unlock_list(la);
        km_ptrmap_put(&km_lookaside_lists, list, la);
    }
    /* Also when twice: the list stays usable if the check is disabled by the verifier level. */
    list->Future[0] = la->slot + 1;
    list->Future[1] = la->cookie;
    pthread_mutex_unlock(&km_lookaside_lock);
    if (twice)
        km_verifier_fail(KM_V_API_INVALID_PARAMETER, "%s on a list that is already initialised", routine);
}

/* Whether the list handed the entry out and has not taken it back: owned and not in the cache
 * (at most KM_LOOKASIDE_DEPTH compares; a cache hit then costs no map operation). Caller holds
 * the list's lock. */
static inline bool km_lookaside_outstanding(const km_lookaside *la, PVOID entry)
{
    if (la->hot == entry && entry != NULL)
        return true;
    if (km_ptrmap_find(&la->entries, entry) == NULL)
        return false;
    for (unsigned i = 0; i < la->cached; i++)
        if (la->cache[i] == entry)
            return false;
    return true;
}

/* A failing free: whose entry was it? Searches the other lists (holding nothing on entry). */
static bool km_lookaside_owned_elsewhere(PVOID entry)
{
    bool found = false;
    pthread_mutex_lock(&km_lookaside_lock);
    for (unsigned slot = 0; slot < km_lookaside_nslots && !found; slot++) {
        km_lookaside *la = km_lookaside_slot(slot);
        km_lookaside_lock_list(la);
        found = la->list != NULL && km_lookaside_outstanding(la, entry);
        km_lookaside_unlock_list(la);
    }
    pthread_mutex_unlock(&km_lookaside_lock);
    return found;
}

/* A miss (called with the list locked, TotalAllocates counted): a fresh entry from the callback
 * or the pool, which runs without the lock (it may allocate, wait, or use other lists). */
__attribute__((noinline)) static PVOID km_lookaside_allocate_miss(km_lookaside *la, PGENERAL_LOOKASIDE list)
{
    list->AllocateMisses++;
    PALLOCATE_FUNCTION allocate = la->allocate;
    POOL_TYPE type = list->Type;
    SIZE_T size = la->size;
    ULONG tag = list->Tag;
    char site[sizeof la->site];
    memcpy(site, la->site, sizeof site);
    ULONG cookie = la->cookie;
    km_lookaside_unlock_list(la);

    PVOID entry = allocate != NULL ? allocate(type, size, tag) : KmAllocatePoolAt(type, size, tag, FALSE, site, 0);
    if (entry != NULL) {
        km_lookaside_lock_list(la);
        if (la->list == list && la->cookie == cookie) { /* else deleted meanwhile: the entry is plain pool */
            km_ptrmap_put(&la->entries, entry, KM_ENTRY_OWNED);
            la->hot = entry;
        }
        km_lookaside_unlock_list(la);
    }
    return entry;
}

/* A cache hit, the list locked and known to be `list` of this kind: the entry leaves the cache. */
static inline __attribute__((always_inline)) PVOID km_lookaside_pop(km_lookaside *la, PGENERAL_LOOKASIDE list)
{
    list->TotalAllocates++;
    PVOID entry = la->cache[--la->cached];
    la->hot = entry;
    ULONG size = la->size;
    km_lookaside_unlock_list(la);
    KM_UNPOISON(entry, size);
    KM_MARK_UNINITIALISED(entry, size);
    return entry;
}

/* Every check in order, then the hit or the miss; also every case the fast path leaves to it. */
__attribute__((noinline)) static PVOID km_lookaside_allocate_checked(PGENERAL_LOOKASIDE list, bool paged,
                                                                     const char *routine)
{
    km_lookaside_irql(paged, routine);
    km_lookaside *la = km_lookaside_find(list, paged, routine);
    if (__builtin_expect(la->cached == 0, 0)) {
        list->TotalAllocates++;
        return km_lookaside_allocate_miss(la, list);
    }
    return km_lookaside_pop(la, list);
}

/* The list's state when every check of the checked path is known to pass (a known thread at a
 * permitted IRQL, an initialised list of this kind), locked without waiting; else NULL, holding
 * nothing and having changed nothing, and the caller takes the checked path. */
static inline __attribute__((always_inline)) km_lookaside *km_lookaside_try_fast(PGENERAL_LOOKASIDE list, bool paged)
{
    km_thread_ctx *t = &km_current_thread;
    if (__builtin_expect(t->id == 0 || t->irql > (paged ? APC_LEVEL : DISPATCH_LEVEL) || list == NULL, 0))
        return NULL;
    ULONG slot = list->Future[0] - 1;
    if (__builtin_expect(slot >= __atomic_load_n(&km_lookaside_nslots, __ATOMIC_ACQUIRE), 0))
        return NULL;
    /* A slot below km_lookaside_nslots is in a published chunk (km_lookaside_take_slot). */
    km_lookaside *la = &__atomic_load_n(&km_lookaside_slots[slot / KM_LOOKASIDE_CHUNK], __ATOMIC_ACQUIRE)
                           [slot % KM_LOOKASIDE_CHUNK];
    if (__builtin_expect(__atomic_exchange_n(&la->busy, 1, __ATOMIC_ACQUIRE) != 0, 0))
        return NULL;
    if (__builtin_expect(la->list == list && la->cookie == list->Future[1] && la->paged == paged, 1))
        return la;
    km_lookaside_unlock_list(la);
    return NULL;
}

static inline __attribute__((always_inline)) PVOID km_lookaside_allocate(PGENERAL_LOOKASIDE list, bool paged, const char *routine)
{
    km_lookaside *la = km_lookaside_try_fast(list, paged);
    if (__builtin_expect(la != NULL, 1)) {
        if (__builtin_expect(la->cached != 0, 1))
            return km_lookaside_pop(la, list);
        km_lookaside_unlock_list(la);
    }
    return km_lookaside_allocate_checked(list, paged, routine);
}

static void km_lookaside_release(PFREE_FUNCTION free_fn, PVOID entry)
{
    if (free_fn != NULL)
        free_fn(entry);
    else
        ExFreePool(entry);
}

__attribute__((noinline, cold, noreturn)) static void km_lookaside_wrong_list(km_lookaside *la, PVOID entry,
                                                                             const char *routine)
{
    km_lookaside_unlock_list(la);
    km_verifier_fail(KM_V_LOOKASIDE_WRONG_LIST, "%s of an entry %s", routine,
                     km_lookaside_owned_elsewhere(entry) ? "allocated from another list"
                                                         : "not allocated from any lookaside list");
    abort();
}

/* Beyond the depth (called with the list locked, TotalFrees counted): the entry leaves the list. */
__attribute__((noinline)) static void km_lookaside_free_miss(km_lookaside *la, PGENERAL_LOOKASIDE list, PVOID entry)
{
    km_ptrmap_remove(&la->entries, entry);
    list->FreeMisses++;
    PFREE_FUNCTION free_fn = la->free;
    km_lookaside_unlock_list(la);
    km_lookaside_release(free_fn, entry);
}

/* An outstanding entry of `list` (locked) is being freed: counted, and no longer the hot one. */
static inline __attribute__((always_inline)) void km_lookaside_returned(km_lookaside *la, PGENERAL_LOOKASIDE list,
                                                                        PVOID entry)
{
    list->TotalFrees++;
    if (la->hot == entry)
        la->hot = NULL;
}

/* An outstanding entry of `list` (locked) goes back into the cache, which has room. */
static inline __attribute__((always_inline)) void km_lookaside_push(km_lookaside *la, PGENERAL_LOOKASIDE list,
                                                                    PVOID entry)
{
    km_lookaside_returned(la, list, entry);
    la->cache[la->cached++] = entry;
    KM_POISON(entry, la->size);
    km_lookaside_unlock_list(la);
}

/* Every check in order, then the cache or the release; also every case the fast path leaves to it. */
__attribute__((noinline)) static void km_lookaside_free_checked(PGENERAL_LOOKASIDE list, PVOID entry, bool paged,
                                                                const char *routine)
{
    KM_VERIFY(API_INVALID_PARAMETER, entry != NULL, "%s of NULL", routine);
    km_lookaside_irql(paged, routine);
    km_lookaside *la = km_lookaside_find(list, paged, routine);
    if (__builtin_expect(!km_lookaside_outstanding(la, entry), 0))
        km_lookaside_wrong_list(la, entry, routine);
    if (__builtin_expect(la->cached == KM_LOOKASIDE_DEPTH, 0)) {
        km_lookaside_returned(la, list, entry);
        km_lookaside_free_miss(la, list, entry);
        return;
    }
    km_lookaside_push(la, list, entry);
}

/* The fast path frees the entry handed out last (so outstanding: no probe, no cache scan) into a
 * cache with room; anything else, including every finding, is the checked path's. */
static inline __attribute__((always_inline)) void km_lookaside_free(PGENERAL_LOOKASIDE list, PVOID entry, bool paged, const char *routine)
{
    km_lookaside *la = entry != NULL ? km_lookaside_try_fast(list, paged) : NULL;
    if (__builtin_expect(la != NULL, 1)) {
        if (__builtin_expect(la->hot == entry && la->cached != KM_LOOKASIDE_DEPTH, 1)) {
            km_lookaside_push(la, list, entry);
            return;
        }
        km_lookaside_unlock_list(la);
    }
    km_lookaside_free_checked(list, entry, paged, routine);
}

/* Outstanding entries of a deleted list lose their ownership record (they stay plain pool); its
 * cached entries go back through the list's free routine. */
static void km_lookaside_delete(PGENERAL_LOOKASIDE list, bool paged, const char *routine)
{
    km_require_irql_at_most(paged ? APC_LEVEL : DISPATCH_LEVEL, routine);
    km_lookaside *la = km_lookaside_find(list, paged, routine);
    ULONG slot = la->slot;
    PVOID cache[KM_LOOKASIDE_DEPTH];
    unsigned cached = la->cached;
    ULONG size = la->size;
    PFREE_FUNCTION free_fn = la->free;
    memcpy(cache, la->cache, sizeof cache);
    la->cached = 0;
    la->hot = NULL;
    la->list = NULL;
    la->cookie = 0;
    km_ptrmap_clear(&la->entries);
    km_lookaside_unlock_list(la);

    pthread_mutex_lock(&km_lookaside_lock);
    km_ptrmap_remove(&km_lookaside_lists, list);
    km_lookaside_put_slot(slot);
    pthread_mutex_unlock(&km_lookaside_lock);
    for (unsigned i = 0; i < cached; i++) {
        KM_UNPOISON(cache[i], size);
        km_lookaside_release(free_fn, cache[i]);
    }
}

/* ---- The WDK routines (DDI wdm/nf-wdm-exinitializenpagedlookasidelist and friends). Flags and
 * Depth are accepted and ignored: the depth is fixed (see the file header). ----------------------- */
VOID ExInitializeNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside, PALLOCATE_FUNCTION Allocate, PFREE_FUNCTION Free,
                                     ULONG Flags, SIZE_T Size, ULONG Tag, USHORT Depth)
{
    km_lookaside_init(Lookaside != NULL ? &Lookaside->L : NULL, false, Allocate, Free, Size, Tag,
                      "ExInitializeNPagedLookasideList");
}
VOID ExDeleteNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside)
{
    km_lookaside_delete(Lookaside != NULL ? &Lookaside->L : NULL, false, "ExDeleteNPagedLookasideList");
}
PVOID ExAllocateFromNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside)
{
    return km_lookaside_allocate(Lookaside != NULL ? &Lookaside->L : NULL, false, "ExAllocateFromNPagedLookasideList");
}
VOID ExFreeToNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside, PVOID Entry)
{
    km_lookaside_free(Lookaside != NULL ? &Lookaside->L : NULL, Entry, false, "ExFreeToNPagedLookasideList");
}
VOID ExInitializePagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside, PALLOCATE_FUNCTION Allocate, PFREE_FUNCTION Free,
                                    ULONG Flags, SIZE_T Size, ULONG Tag, USHORT Depth)
{
    km_lookaside_init(Lookaside != NULL ? &Lookaside->L : NULL, true, Allocate, Free, Size, Tag,
                      "ExInitializePagedLookasideList");
}
VOID ExDeletePagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside)
{
    km_lookaside_delete(Lookaside != NULL ? &Lookaside->L : NULL, true, "ExDeletePagedLookasideList");
}
PVOID ExAllocateFromPagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside)
{
    return km_lookaside_allocate(Lookaside != NULL ? &Lookaside->L : NULL, true, "ExAllocateFromPagedLookasideList");
}
VOID ExFreeToPagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside, PVOID Entry)
{
    km_lookaside_free(Lookaside != NULL ? &Lookaside->L : NULL, Entry, true, "ExFreeToPagedLookasideList");
}

/* ---- Lifecycle ------------------------------------------------------------------------------ */
static void km_lookaside_oldest(const void *key, void *value, void *ctx)
{
    km_lookaside **oldest = ctx;
    if (*oldest == NULL || ((km_lookaside *)value)->seq < (*oldest)->seq)
        *oldest = value;
}

/* Every slot becomes free (no list is initialised in a fresh model); cached entries are unpoisoned
 * and left to the pool's end-of-run walk. */
/* How many slots it walks depends on earlier runs (warm runs reset through it too): no coverage. */
KM_NO_COVERAGE static void km_lookaside_reset(void)
{
    pthread_mutex_lock(&km_lookaside_lock);
    km_lookaside_nfree = 0;
    for (unsigned slot = km_lookaside_nslots; slot-- > 0;) {
        km_lookaside *la = km_lookaside_slot(slot);
        km_lookaside_lock_list(la);
        for (unsigned i = 0; i < la->cached; i++)
            KM_UNPOISON(la->cache[i], la->size);
        la->cached = 0;
        la->hot = NULL;
        la->list = NULL;
        la->cookie = 0;
        km_ptrmap_clear(&la->entries);
        km_lookaside_unlock_list(la);
    }
    /* Numbering starts again at 0, so the next run walks only the slots it uses (not the most any earlier
     * run used). A list left over from an earlier run finds its slot beyond km_lookaside_nslots or holding
     * another cookie (never reset), so it stays not initialised. */
    km_lookaside_nfree = 0;
    __atomic_store_n(&km_lookaside_nslots, 0, __ATOMIC_RELEASE);
    km_ptrmap_clear(&km_lookaside_lists);
    km_lookaside_seq = 0;
    pthread_mutex_unlock(&km_lookaside_lock);
}

/* A list still initialised at the end of the run was never deleted: report the oldest. */
static void km_lookaside_check(void)
{
    pthread_mutex_lock(&km_lookaside_lock);
    size_t n = km_lookaside_lists.count;
    km_lookaside *oldest = NULL;
    km_ptrmap_each(&km_lookaside_lists, km_lookaside_oldest, &oldest);
    km_lookaside copy = oldest != NULL ? *oldest : (km_lookaside){ 0 };
    pthread_mutex_unlock(&km_lookaside_lock);
    if (oldest != NULL)
        KM_VERIFY(LOOKASIDE_NOT_DELETED, false, "%zu list(s); first: %s list of %u-byte entries, %s", n,
                  km_lookaside_kind(copy.paged), (unsigned)copy.size, copy.site);
    km_lookaside_reset();
}

static void km_lookaside_census(km_census *census)
{
    pthread_mutex_lock(&km_lookaside_lock);
    census->lookasides += km_lookaside_lists.count;
    pthread_mutex_unlock(&km_lookaside_lock);
}

/* Warm runs: with no list live, numbering starts again at slot 0 as after km_init, so whether a list
 * takes a new slot or a freed one does not depend on earlier inputs. */
static void km_lookaside_rerun(void)
{
    pthread_mutex_lock(&km_lookaside_lock);
    bool none = km_lookaside_lists.count == 0;
    pthread_mutex_unlock(&km_lookaside_lock);
    if (none)
        km_lookaside_reset();
}

KM_MODULE(lookaside, 40, km_lookaside_reset, NULL, km_lookaside_check, km_lookaside_census, km_lookaside_rerun)
