/* lookaside.c: paged and nonpaged lookaside lists. State lives out of band in a registry keyed by
 * the list's address; every outstanding entry remembers its list (LOOKASIDE_WRONG_LIST).
 * Freed entries are cached up to a fixed depth of 16 and reused LIFO: Windows tunes the depth
 * between 4 and 256 at run time, which would make reuse depend on timing; a fixed depth keeps
 * runs deterministic while still exercising reuse of discarded frames (facts file §5.3). Cached
 * entries are ASan-poisoned, so touching a freed entry is reported, and handed out again as
 * uninitialised memory for MSan, since Windows does not clear them. */
#include "core_internal.h"

#include <stdio.h>
#include <stdlib.h>

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

typedef struct {
    bool paged;
    ULONG size;                    /* copied: the list itself may be gone by teardown */
    uint64_t seq;                  /* initialisation order, for a stable NOT_DELETED report */
    PALLOCATE_FUNCTION allocate;   /* NULL: the pool, at the site below */
    PFREE_FUNCTION free;           /* NULL: ExFreePool */
    char site[24];                 /* "lookaside 'Tag'": fault plans can target the list's pool */
    unsigned cached;
    PVOID cache[KM_LOOKASIDE_DEPTH];
} km_lookaside;

static pthread_mutex_t km_lookaside_lock = PTHREAD_MUTEX_INITIALIZER;
static km_ptrmap km_lookaside_lists;   /* list address -> km_lookaside */
static km_ptrmap km_lookaside_entries; /* outstanding entry -> list address */
static uint64_t km_lookaside_seq;

static const char *km_lookaside_kind(bool paged) { return paged ? "paged" : "nonpaged"; }

static void km_lookaside_irql(bool paged, const char *routine)
{
    KIRQL irql = KeGetCurrentIrql();
    KM_VERIFY(IRQL_PAGED_POOL, !paged || irql <= APC_LEVEL, "%s at IRQL %u", routine, irql);
    km_require_irql_at_most(DISPATCH_LEVEL, routine);
}

/* Caller holds the lock; releases it before failing, so a hook may inspect the model. */
static km_lookaside *km_lookaside_find(PGENERAL_LOOKASIDE list, bool paged, const char *routine)
{
    km_lookaside *la = km_ptrmap_get(&km_lookaside_lists, list);
    if (la == NULL || la->paged != paged) {
        pthread_mutex_unlock(&km_lookaside_lock);
        km_verifier_fail(KM_V_LOOKASIDE_NOT_INITIALIZED, "%s on a list that is not an initialised %s list", routine,
                         km_lookaside_kind(paged));
    }
    return la;
}

static void km_lookaside_init(PGENERAL_LOOKASIDE list, bool paged, PALLOCATE_FUNCTION Allocate, PFREE_FUNCTION Free,
                              SIZE_T Size, ULONG Tag, const char *routine)
{
    KM_VERIFY(API_INVALID_PARAMETER, list != NULL, "%s(NULL)", routine);
    KM_VERIFY(API_INVALID_PARAMETER, Size != 0 && Size <= MAXULONG, "%s with entry size %zu", routine, (size_t)Size);
    km_require_irql_at_most(paged ? APC_LEVEL : DISPATCH_LEVEL, routine);
    km_lookaside *la = calloc(1, sizeof *la);
    if (la == NULL) {
        fprintf(stderr, "kernel model: host out of memory\n");
        abort();
    }
    la->paged = paged;
    la->size = (ULONG)Size;
    la->allocate = Allocate;
    la->free = Free;
    char tag[5];
    for (int i = 0; i < 4; i++) {
        unsigned char c = (unsigned char)(Tag >> (8 * i));
        tag[i] = c >= 0x20 && c < 0x7F && c != '/' ? (char)c : '?';
    }
    tag[4] = '\0';
    snprintf(la->site, sizeof la->site, "lookaside '%s'", tag);

    *list = (GENERAL_LOOKASIDE){ 0 };
    list->Depth = list->MaximumDepth = KM_LOOKASIDE_DEPTH;
    list->Type = paged ? PagedPool : NonPagedPool;
    list->Tag = Tag;
    list->Size = (ULONG)Size;
    list->Allocate = Allocate != NULL ? Allocate : ExAllocatePoolWithTag;
    list->Free = Free != NULL ? Free : ExFreePool;
    InitializeListHead(&list->ListEntry);

    pthread_mutex_lock(&km_lookaside_lock);
    bool twice = km_ptrmap_get(&km_lookaside_lists, list) != NULL;
    if (!twice) {
        la->seq = ++km_lookaside_seq;
        km_ptrmap_put(&km_lookaside_lists, list, la);
    }
    pthread_mutex_unlock(&km_lookaside_lock);
    if (twice) {
        free(la);
        km_verifier_fail(KM_V_API_INVALID_PARAMETER, "%s on a list that is already initialised", routine);
    }
}

static PVOID km_lookaside_allocate(PGENERAL_LOOKASIDE list, bool paged, const char *routine)
{
    km_lookaside_irql(paged, routine);
    pthread_mutex_lock(&km_lookaside_lock);
    km_lookaside *la = km_lookaside_find(list, paged, routine);
    list->TotalAllocates++;
    PVOID entry = la->cached != 0 ? la->cache[--la->cached] : NULL;
    if (entry != NULL) {
        km_ptrmap_put(&km_lookaside_entries, entry, list);
        pthread_mutex_unlock(&km_lookaside_lock);
        KM_UNPOISON(entry, la->size);
        KM_MARK_UNINITIALISED(entry, la->size);
        return entry;
    }
    list->AllocateMisses++;
    PALLOCATE_FUNCTION allocate = la->allocate;
    POOL_TYPE type = list->Type;
    SIZE_T size = la->size;
    ULONG tag = list->Tag;
    const char *site = la->site;
    pthread_mutex_unlock(&km_lookaside_lock);

    /* The callback runs without the lock: it may allocate, wait, or use other lists. */
    entry = allocate != NULL ? allocate(type, size, tag) : KmAllocatePoolAt(type, size, tag, FALSE, site, 0);
    if (entry != NULL) {
        pthread_mutex_lock(&km_lookaside_lock);
        km_ptrmap_put(&km_lookaside_entries, entry, list);
        pthread_mutex_unlock(&km_lookaside_lock);
    }
    return entry;
}

static void km_lookaside_release(PFREE_FUNCTION free_fn, PVOID entry)
{
    if (free_fn != NULL)
        free_fn(entry);
    else
        ExFreePool(entry);
}

static void km_lookaside_free(PGENERAL_LOOKASIDE list, PVOID entry, bool paged, const char *routine)
{
    KM_VERIFY(API_INVALID_PARAMETER, entry != NULL, "%s of NULL", routine);
    km_lookaside_irql(paged, routine);
    pthread_mutex_lock(&km_lookaside_lock);
    km_lookaside *la = km_lookaside_find(list, paged, routine);
    PGENERAL_LOOKASIDE owner = km_ptrmap_get(&km_lookaside_entries, entry);
    if (owner != list) {
        pthread_mutex_unlock(&km_lookaside_lock);
        km_verifier_fail(KM_V_LOOKASIDE_WRONG_LIST, "%s of an entry %s", routine,
                         owner != NULL ? "allocated from another list" : "not allocated from any lookaside list");
    }
    km_ptrmap_remove(&km_lookaside_entries, entry);
    list->TotalFrees++;
    if (la->cached < KM_LOOKASIDE_DEPTH) {
        la->cache[la->cached++] = entry;
        KM_POISON(entry, la->size);
        pthread_mutex_unlock(&km_lookaside_lock);
        return;
    }
    list->FreeMisses++;
    PFREE_FUNCTION free_fn = la->free;
    pthread_mutex_unlock(&km_lookaside_lock);
    km_lookaside_release(free_fn, entry);
}

/* Drops ownership records of a deleted list's outstanding entries (they stay plain pool). */
static void km_lookaside_collect_owned(const void *key, void *value, void *ctx)
{
    struct { const void *list; const void **keys; size_t n; } *c = ctx;
    if (value == c->list)
        c->keys[c->n++] = key;
}

static void km_lookaside_delete(PGENERAL_LOOKASIDE list, bool paged, const char *routine)
{
    km_require_irql_at_most(paged ? APC_LEVEL : DISPATCH_LEVEL, routine);
    pthread_mutex_lock(&km_lookaside_lock);
    km_lookaside *la = km_lookaside_find(list, paged, routine);
    km_ptrmap_remove(&km_lookaside_lists, list);
    if (km_lookaside_entries.count != 0) {
        struct { const void *list; const void **keys; size_t n; } c = { list, malloc(km_lookaside_entries.count * sizeof(void *)), 0 };
        if (c.keys == NULL)
            abort();
        km_ptrmap_each(&km_lookaside_entries, km_lookaside_collect_owned, &c);
        for (size_t i = 0; i < c.n; i++)
            km_ptrmap_remove(&km_lookaside_entries, c.keys[i]);
        free(c.keys);
    }
    pthread_mutex_unlock(&km_lookaside_lock);
    for (unsigned i = 0; i < la->cached; i++) {
        KM_UNPOISON(la->cache[i], la->size);
        km_lookaside_release(la->free, la->cache[i]);
    }
    free(la);
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

static void km_lookaside_forget(const void *key, void *value, void *ctx)
{
    km_lookaside *la = value;
    for (unsigned i = 0; i < la->cached; i++)
        KM_UNPOISON(la->cache[i], la->size); /* the pool's end-of-run walk frees them */
    free(la);
}

static void km_lookaside_reset(void)
{
    pthread_mutex_lock(&km_lookaside_lock);
    km_ptrmap_each(&km_lookaside_lists, km_lookaside_forget, NULL);
    km_ptrmap_clear(&km_lookaside_lists);
    km_ptrmap_clear(&km_lookaside_entries);
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
    pthread_mutex_unlock(&km_lookaside_lock);
    if (oldest != NULL)
        KM_VERIFY(LOOKASIDE_NOT_DELETED, false, "%zu list(s); first: %s list of %u-byte entries, %s", n,
                  km_lookaside_kind(oldest->paged), (unsigned)oldest->size, oldest->site);
    km_lookaside_reset();
}

KM_MODULE(lookaside, 40, km_lookaside_reset, NULL, km_lookaside_check)
