/* pool.c: executive pool: every allocation is its own exact-size host block (so ASan sees a one-byte
 * overrun and a use after free, the special-pool analogue), recorded with its tag and call site. */
#define _POSIX_C_SOURCE 200809L /* posix_memalign */
#include "core_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(memory_sanitizer)
#define KM_POOL_MSAN 1
#endif
#endif

/* Fresh pool is garbage on Windows; the model fills it with a fixed byte so reads of it are
 * deterministic (under MSan it stays uninitialised, so MSan reports the read instead). */
#define KM_POOL_FILL_FRESH 0xA5
#define KM_POOL_FILL_FREED 0xDD
/* Larger requests fail with NULL (counted in km_pool_stats.failed), as a real pool may under
 * pressure: a fuzzed FrameSize of 0xFFFFFFFF must not make the host commit gigabytes. */
#define KM_POOL_MAX_BYTES ((size_t)64 << 20)
/* The same for the total of large blocks (1 MiB or more, counted in whole MiB): a large request that
 * would take it past 512 MiB fails too, so a program of a few hundred bytes (30 frames of 64 MiB, no
 * Frames limit) cannot commit gigabytes and turn into an out-of-memory finding under the fuzzers'
 * rss_limit_mb (2560). Small blocks neither count nor fail: the interpreter's own STATUS queries must
 * not be refused. Whole MiB make it rare that an implementation's few bytes of bookkeeping per frame
 * decide where a limit falls, but at a limit's edge they do (a frame of exactly 64 MiB fits one
 * implementation's block and not another's): km_pool_stats.limited counts these refusals, and the
 * differential comparison licenses what follows one (docs/filter-specific-allocator.md, D6). */
#define KM_POOL_LARGE_SHIFT 20
#define KM_POOL_BUDGET_LARGE_MIB 512u

/* Whole MiB a block counts against the budget: 0 below 1 MiB. */
static uint64_t km_pool_large_mib(size_t bytes)
{
    return bytes >> KM_POOL_LARGE_SHIFT == 0 ? 0 : (bytes + ((size_t)1 << KM_POOL_LARGE_SHIFT) - 1) >> KM_POOL_LARGE_SHIFT;
}
/* DDI wdm/nf-wdm-exallocatepoolwithtag: x64 pool blocks are 16-byte aligned, CacheAligned types are
 * cache-line aligned, and requests of PAGE_SIZE or more are page aligned. */
#define KM_POOL_ALIGN 16
#define KM_POOL_UNKNOWN_SITE "unknown" /* with line 0: the site is named just "unknown" */
#define KM_POOL_CACHE_ALIGN 64

typedef struct km_pool_block {
    size_t size;
    uint64_t seq; /* allocation order since km_init, for stable leak reports */
    ULONG tag;
    uint32_t site;
    bool paged;
} km_pool_block;

typedef struct {
    int line;
    char name[64];    /* "file.c:123" */
} km_pool_site;

static pthread_mutex_t km_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static km_ptrmap km_pool_blocks; /* address -> km_pool_block */
static km_pool_site *km_pool_sites;
static size_t km_pool_nsites, km_pool_site_capacity;
static km_pool_stats km_pool_counters;
static uint64_t km_pool_large_outstanding; /* whole MiB of outstanding large blocks (the budget) */

static void km_pool_oom(void)
{
    fprintf(stderr, "kernel model: host out of memory\n");
    abort();
}

/* Tags print in memory order, as pool tools show them ('None' is 0x656E6F4E). */
static const char *km_pool_tag_text(ULONG tag, char out[5])
{
    for (int i = 0; i < 4; i++) {
        unsigned char c = (unsigned char)(tag >> (8 * i));
        out[i] = c >= 0x20 && c < 0x7F ? (char)c : '?';
    }
    out[4] = '\0';
    return out;
}

/* Caller holds km_pool_lock. The list keeps every site since km_init, which in warm runs (km_rerun)
 * includes sites earlier inputs introduced, so how far the scan goes depends on them: no coverage. */
KM_NO_COVERAGE static uint32_t km_pool_intern_site(const char *file, int line)
{
    const char *base = km_basename(file);
    size_t base_len = strlen(base);
    for (size_t i = 0; i < km_pool_nsites; i++) {
        km_pool_site *s = &km_pool_sites[i];
        /* Compared by content, not by the file pointer: lookaside sites live in per-list buffers. */
        if (s->line == line && strncmp(s->name, base, base_len) == 0 &&
            (s->name[base_len] == ':' || s->name[base_len] == '\0'))
            return (uint32_t)i;
    }
    if (km_pool_nsites == km_pool_site_capacity) {
        km_pool_site_capacity = km_pool_site_capacity ? km_pool_site_capacity * 2 : 32;
        km_pool_sites = realloc(km_pool_sites, km_pool_site_capacity * sizeof *km_pool_sites);
        if (km_pool_sites == NULL)
            km_pool_oom();
    }
    km_pool_site *s = &km_pool_sites[km_pool_nsites];
    s->line = line;
    if (line == 0)
        snprintf(s->name, sizeof s->name, "%s", base);
    else
        snprintf(s->name, sizeof s->name, "%s:%d", base, line);
    return (uint32_t)km_pool_nsites++;
}

static bool km_pool_type_valid(POOL_TYPE type)
{
    /* Must-succeed and DontUseThisType pools are reserved for the system (DDI wdm/ne-wdm-_pool_type). */
    switch ((int)type) {
    case NonPagedPool: case PagedPool: case NonPagedPoolCacheAligned: case PagedPoolCacheAligned:
    case NonPagedPoolSession: case PagedPoolSession: case NonPagedPoolCacheAlignedSession:
    case PagedPoolCacheAlignedSession: case NonPagedPoolNx: case NonPagedPoolNxCacheAligned:
    case NonPagedPoolSessionNx:
        return true;
    default:
        return false;
    }
}

/* The one allocation path behind every ExAllocatePool* form. */
static PVOID km_pool_allocate(bool paged, size_t align, SIZE_T bytes, ULONG tag, bool zero, bool raise,
                              const char *file, int line, const char *routine)
{
    KM_VERIFY(POOL_ZERO_SIZE, bytes != 0, "%s of 0 bytes at %s:%d", routine, km_basename(file), line);
    KIRQL irql = KeGetCurrentIrql();
    KM_VERIFY(IRQL_PAGED_POOL, !paged || irql <= APC_LEVEL, "%s of paged pool at IRQL %u", routine, irql);
    km_require_irql_at_most(DISPATCH_LEVEL, routine);

    /* Host memory first, then one critical section for site, fault decision and record. */
    void *p = NULL;
    if (bytes <= KM_POOL_MAX_BYTES && posix_memalign(&p, bytes >= PAGE_SIZE ? PAGE_SIZE : align, bytes) != 0)
        p = NULL;
    km_pool_block *b = p != NULL ? malloc(sizeof *b) : NULL;
    if (p != NULL && b == NULL)
        km_pool_oom();

    pthread_mutex_lock(&km_pool_lock);
    uint32_t site = km_pool_intern_site(file, line);
    bool injected = km_fault_should_fail(km_pool_sites[site].name, tag);
    /* Over the budget: refused like an oversized request. */
    uint64_t mib = km_pool_large_mib(bytes);
    bool limited = bytes > KM_POOL_MAX_BYTES || (mib != 0 && km_pool_large_outstanding + mib > KM_POOL_BUDGET_LARGE_MIB);
    bool refused = injected || limited;
    if (p != NULL && !refused) {
        *b = (km_pool_block){ .size = bytes, .seq = ++km_pool_counters.allocations, .tag = tag, .site = site,
                              .paged = paged };
        km_ptrmap_put(&km_pool_blocks, p, b);
        km_pool_counters.outstanding++;
        km_pool_counters.outstanding_bytes += bytes;
        km_pool_large_outstanding += mib;
    } else {
        km_pool_counters.failed++;
        km_pool_counters.limited += limited && !injected;
    }
    pthread_mutex_unlock(&km_pool_lock);

    if (p == NULL || refused) {
        free(b);
        free(p);
        /* POOL_FLAG_RAISE_ON_FAILURE raises; C code has no __try, so the exception is unhandled. */
        if (raise)
            KeBugCheckEx(0x1E /* KMODE_EXCEPTION_NOT_HANDLED */, (ULONG_PTR)STATUS_INSUFFICIENT_RESOURCES, 0, 0, 0);
        return NULL;
    }
    if (zero)
        memset(p, 0, bytes);
#ifndef KM_POOL_MSAN
    else
        memset(p, KM_POOL_FILL_FRESH, bytes);
#endif
    return p;
}

PVOID KmAllocatePoolAt(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag, BOOLEAN Zero, const char *File, int Line)
{
    KM_VERIFY(POOL_BAD_TYPE, km_pool_type_valid(PoolType), "PoolType %d at %s:%d", (int)PoolType, km_basename(File),
              Line);
    bool cache_aligned = ((int)PoolType & NonPagedPoolCacheAligned) != 0;
    return km_pool_allocate(((int)PoolType & PagedPool) != 0, cache_aligned ? KM_POOL_CACHE_ALIGN : KM_POOL_ALIGN,
                            NumberOfBytes, Tag, Zero != FALSE, false, File, Line,
                            Zero ? "ExAllocatePoolZero" : "ExAllocatePoolWithTag");
}

/* DDI wdm/nf-wdm-exallocatepool2: exactly one pool kind; memory is zeroed unless UNINITIALIZED. */
PVOID KmAllocatePool2At(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag, const char *File, int Line)
{
    const POOL_FLAGS kinds = POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED;
    const POOL_FLAGS known = kinds | POOL_FLAG_USE_QUOTA | POOL_FLAG_UNINITIALIZED | POOL_FLAG_SESSION |
                             POOL_FLAG_CACHE_ALIGNED | POOL_FLAG_RAISE_ON_FAILURE;
    POOL_FLAGS kind = Flags & kinds;
    KM_VERIFY(API_INVALID_PARAMETER, (Flags & ~known) == 0 && kind != 0 && (kind & (kind - 1)) == 0,
              "ExAllocatePool2 flags 0x%llx at %s:%d", (unsigned long long)Flags, km_basename(File), Line);
    return km_pool_allocate(kind == POOL_FLAG_PAGED, (Flags & POOL_FLAG_CACHE_ALIGNED) ? KM_POOL_CACHE_ALIGN : KM_POOL_ALIGN,
                            NumberOfBytes, Tag, (Flags & POOL_FLAG_UNINITIALIZED) == 0,
                            (Flags & POOL_FLAG_RAISE_ON_FAILURE) != 0, File, Line, "ExAllocatePool2");
}

/* The routines themselves, for callers that take their address (wdm.h wraps calls in macros);
 * such calls have no call site to record, so their site is "unknown". */
#undef ExAllocatePoolWithTag
#undef ExAllocatePool
#undef ExAllocatePoolZero
#undef ExAllocatePool2
PVOID ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return KmAllocatePoolAt(PoolType, NumberOfBytes, Tag, FALSE, KM_POOL_UNKNOWN_SITE, 0);
}
PVOID ExAllocatePool(POOL_TYPE PoolType, SIZE_T NumberOfBytes)
{
    return KmAllocatePoolAt(PoolType, NumberOfBytes, 0x656E6F4E /* 'None' */, FALSE, KM_POOL_UNKNOWN_SITE, 0);
}
PVOID ExAllocatePoolZero(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return KmAllocatePoolAt(PoolType, NumberOfBytes, Tag, TRUE, KM_POOL_UNKNOWN_SITE, 0);
}
PVOID ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag)
{
    return KmAllocatePool2At(Flags, NumberOfBytes, Tag, KM_POOL_UNKNOWN_SITE, 0);
}

static void km_pool_free(PVOID P, ULONG Tag, bool check_tag, const char *routine)
{
    KM_VERIFY(API_INVALID_PARAMETER, P != NULL, "%s(NULL)", routine);
    KIRQL irql = KeGetCurrentIrql();
    /* One critical section: the block is removed only when every check passes; the checks then
     * report on a copy after the lock is dropped (a verifier hook may look at the pool). */
    pthread_mutex_lock(&km_pool_lock);
    km_pool_block *b = km_ptrmap_get(&km_pool_blocks, P);
    km_pool_block copy = b != NULL ? *b : (km_pool_block){ 0 };
    bool ok = b != NULL && (!check_tag || Tag == b->tag) && (!b->paged || irql <= APC_LEVEL) && irql <= DISPATCH_LEVEL;
    if (ok) {
        km_ptrmap_remove(&km_pool_blocks, P);
        km_pool_counters.frees++;
        km_pool_counters.outstanding--;
        km_pool_counters.outstanding_bytes -= b->size;
        km_pool_large_outstanding -= km_pool_large_mib(b->size);
    }
    char site[64] = "";
    if (!ok && b != NULL)
        snprintf(site, sizeof site, "%s", km_pool_sites[b->site].name);
    pthread_mutex_unlock(&km_pool_lock);

    if (!ok) {
        KM_VERIFY(POOL_FREE_UNKNOWN, b != NULL, "%s of an address that is not an outstanding allocation", routine);
        char want[5], got[5];
        KM_VERIFY(POOL_TAG_MISMATCH, !check_tag || Tag == copy.tag, "freed with '%s', allocated with '%s' at %s",
                  km_pool_tag_text(Tag, got), km_pool_tag_text(copy.tag, want), site);
        KM_VERIFY(IRQL_PAGED_POOL, !copy.paged || irql <= APC_LEVEL, "%s of paged pool at IRQL %u", routine, irql);
        km_require_irql_at_most(DISPATCH_LEVEL, routine);
        return; /* only reached when the failing check is disabled by the verifier level: leave the block */
    }
    /* Stale reads of freed pool see a fixed pattern in builds without ASan (which reports them). */
    memset(P, KM_POOL_FILL_FREED, copy.size);
    free(b);
    free(P);
}

/* DDI wdm/nf-wdm-exfreepoolwithtag. */
VOID ExFreePoolWithTag(PVOID P, ULONG Tag) { km_pool_free(P, Tag, true, "ExFreePoolWithTag"); }
/* DDI wdm/nf-wdm-exfreepool. */
VOID ExFreePool(PVOID P) { km_pool_free(P, 0, false, "ExFreePool"); }

/* ---- Introspection -------------------------------------------------------------------------- */
void km_pool_get_stats(km_pool_stats *stats)
{
    pthread_mutex_lock(&km_pool_lock);
    *stats = km_pool_counters;
    pthread_mutex_unlock(&km_pool_lock);
}

static void km_pool_count_tag(const void *key, void *value, void *ctx)
{
    struct { ULONG tag; uint64_t n; } *q = ctx;
    q->n += ((km_pool_block *)value)->tag == q->tag;
}

uint64_t km_pool_outstanding_for_tag(ULONG tag)
{
    struct { ULONG tag; uint64_t n; } q = { tag, 0 };
    pthread_mutex_lock(&km_pool_lock);
    km_ptrmap_each(&km_pool_blocks, km_pool_count_tag, &q);
    pthread_mutex_unlock(&km_pool_lock);
    return q.n;
}

size_t km_pool_site_count(void)
{
    pthread_mutex_lock(&km_pool_lock);
    size_t n = km_pool_nsites;
    pthread_mutex_unlock(&km_pool_lock);
    return n;
}

const char *km_pool_site_name(size_t index)
{
    pthread_mutex_lock(&km_pool_lock);
    const char *name = index < km_pool_nsites ? km_pool_sites[index].name : NULL;
    pthread_mutex_unlock(&km_pool_lock);
    return name;
}

/* ---- Lifecycle ------------------------------------------------------------------------------ */
typedef struct {
    const void *address;
    const km_pool_block *block;
} km_pool_leak;

static void km_pool_collect(const void *key, void *value, void *ctx)
{
    struct { km_pool_leak *v; size_t n; } *c = ctx;
    c->v[c->n++] = (km_pool_leak){ key, value };
}

static int km_pool_by_seq(const void *a, const void *b)
{
    uint64_t x = ((const km_pool_leak *)a)->block->seq, y = ((const km_pool_leak *)b)->block->seq;
    return (x > y) - (x < y);
}

/* Frees every block and record and forgets the sites; caller holds km_pool_lock. */
static void km_pool_release_all(void)
{
    if (km_pool_blocks.count != 0) {
        struct { km_pool_leak *v; size_t n; } c = { malloc(km_pool_blocks.count * sizeof(km_pool_leak)), 0 };
        if (c.v == NULL)
            km_pool_oom();
        km_ptrmap_each(&km_pool_blocks, km_pool_collect, &c);
        for (size_t i = 0; i < c.n; i++) {
            free((void *)c.v[i].address);
            free((void *)c.v[i].block);
        }
        free(c.v);
    }
    km_ptrmap_clear(&km_pool_blocks);
    free(km_pool_sites);
    km_pool_sites = NULL;
    km_pool_nsites = km_pool_site_capacity = 0;
    km_pool_counters = (km_pool_stats){ 0 };
    km_pool_large_outstanding = 0;
}

/* End of run: outstanding pool is a leak. The finding lists up to 8 leaks, oldest first, by tag,
 * size and site (no addresses), so the line is the same on every run; then everything is freed. */
static void km_pool_check(void)
{
    pthread_mutex_lock(&km_pool_lock);
    size_t n = km_pool_blocks.count;
    if (n != 0 && km_verifier_enabled(KM_V_POOL_LEAK)) {
        struct { km_pool_leak *v; size_t n; } c = { malloc(n * sizeof(km_pool_leak)), 0 };
        if (c.v == NULL)
            km_pool_oom();
        km_ptrmap_each(&km_pool_blocks, km_pool_collect, &c);
        qsort(c.v, c.n, sizeof *c.v, km_pool_by_seq);
        char detail[400], tag[5];
        int len = snprintf(detail, sizeof detail, "%zu outstanding (%llu bytes):", n,
                           (unsigned long long)km_pool_counters.outstanding_bytes);
        for (size_t i = 0; i < c.n && i < 8 && len < (int)sizeof detail; i++)
            len += snprintf(detail + len, sizeof detail - (size_t)len, "%s '%s' %zu bytes at %s", i ? ";" : "",
                            km_pool_tag_text(c.v[i].block->tag, tag), c.v[i].block->size,
                            km_pool_sites[c.v[i].block->site].name);
        if (n > 8 && len < (int)sizeof detail)
            snprintf(detail + len, sizeof detail - (size_t)len, "; ...");
        free(c.v);
        pthread_mutex_unlock(&km_pool_lock);
        km_verifier_fail(KM_V_POOL_LEAK, "%s", detail);
    }
    km_pool_release_all();
    pthread_mutex_unlock(&km_pool_lock);
}

static void km_pool_reset(void)
{
    pthread_mutex_lock(&km_pool_lock);
    km_pool_release_all();
    pthread_mutex_unlock(&km_pool_lock);
}

static void km_pool_census(km_census *census)
{
    km_pool_stats stats;
    km_pool_get_stats(&stats);
    census->pool_blocks += stats.outstanding;
    census->pool_bytes += stats.outstanding_bytes;
}

KM_MODULE(pool, 90, km_pool_reset, NULL, km_pool_check, km_pool_census, NULL)
