/* bench_frames.c: a benchmark, not a test: one frame AllocateFrame+FreeFrame round trip through a
 * default allocator's function table (at DISPATCH_LEVEL, as direct-call clients use it) against
 * glibc malloc+free of the same size, in one run; both get a warm-up, then 7 interleaved repetitions
 * of the same iteration count; prints the median ns/op of each (with min and max), the ratio and the
 * difference, and the same for the round trip's two locked operations alone (the floor of its locking
 * design: where KS is slower than malloc, the difference is to be compared with it).
 * --sweep does that for frame sizes from 64 bytes to 1 MiB, one table row each: glibc's per-thread
 * cache (blocks up to 1032 bytes) makes malloc twice as fast below that size as above it.
 * Built only in the release preset: cmake --preset release && cmake --build --preset release &&
 * ./build/release/bench_frames [FRAME_SIZE [ITERATIONS]] | --sweep [ITERATIONS]. Uses the monotonic
 * clock (benchmarks measure time; nothing in the model or the tests reads a clock). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c17 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "km/km.h"
#include "ks_test_filter.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#define BENCH_REPS 7
/* The pool refuses blocks over 64 MiB, and a frame's block adds its record and FileAlignment slack. */
#define BENCH_MAX_FRAME ((64ul << 20) - 4096)

/* ns per AllocateFrame+FreeFrame through the function table, at DISPATCH_LEVEL as direct-call
 * clients use it; the frame is touched once like the malloc block below. */
static double bench_ks(const KSSTREAMALLOCATOR_FUNCTIONTABLE *table, PFILE_OBJECT file, long iterations)
{
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    double start = now_ns();
    for (long i = 0; i < iterations; i++) {
        PVOID frame;
        NTSTATUS status = table->AllocateFrame(file, &frame);
        if (status != STATUS_SUCCESS) {
            fprintf(stderr, "bench_frames: AllocateFrame failed: 0x%08X\n", (unsigned)status);
            exit(1);
        }
        *(volatile UCHAR *)frame = (UCHAR)i;
        table->FreeFrame(file, frame);
    }
    double ns = (now_ns() - start) / (double)iterations;
    KeLowerIrql(old);
    return ns;
}

/* ns per glibc malloc+free of the same size. */
static double bench_malloc(size_t frame_size, long iterations)
{
    double start = now_ns();
    for (long i = 0; i < iterations; i++) {
        void *volatile block = malloc(frame_size);
        if (block == NULL) {
            fprintf(stderr, "bench_frames: malloc(%zu) failed\n", frame_size);
            exit(1);
        }
        *(volatile unsigned char *)block = (unsigned char)i;
        free(block);
    }
    return (now_ns() - start) / (double)iterations;
}

/* ns for the locked operations a round trip cannot do without, alone: a thread-safe allocate and
 * free each take the allocator's spin lock (compare-exchange, release store), as Windows' spin locks
 * do. The frame itself comes from the block kept under that lock (ksa_allocator.reuse), so the
 * lookaside list's own lock is not taken. A floor for any design with that locking, whatever else it
 * does; glibc's per-thread cache takes no locked operation at all. */
static double bench_locked_ops(long iterations)
{
    static volatile ULONG_PTR spin;
    double start = now_ns();
    for (long i = 0; i < iterations; i++) {
        for (int side = 0; side < 2; side++) { /* allocate, then free */
            ULONG_PTR expected = 0;
            __atomic_compare_exchange_n(&spin, &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
            __atomic_store_n(&spin, 0, __ATOMIC_RELEASE);
        }
    }
    return (now_ns() - start) / (double)iterations;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double v[BENCH_REPS])
{
    double s[BENCH_REPS];
    memcpy(s, v, sizeof s);
    qsort(s, BENCH_REPS, sizeof s[0], by_value);
    return s[BENCH_REPS / 2];
}

static double minimum(const double v[BENCH_REPS])
{
    double m = v[0];
    for (int i = 1; i < BENCH_REPS; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

static double maximum(const double v[BENCH_REPS])
{
    double m = v[0];
    for (int i = 1; i < BENCH_REPS; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

static NTSTATUS open_relative(HANDLE root, const WCHAR *name, USHORT bytes, HANDLE *out)
{
    UNICODE_STRING us = { bytes, bytes, (PWSTR)name };
    OBJECT_ATTRIBUTES oa;
    IO_STATUS_BLOCK iosb;
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, root, NULL);
    return ZwCreateFile(out, GENERIC_READ, &oa, &iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0, FILE_OPEN, 0, NULL, 0);
}

typedef struct {
    double ks[BENCH_REPS], mal[BENCH_REPS], locked[BENCH_REPS];
} bench_result;

/* Creates an allocator of `frame_size`-byte frames on the pin, takes its function table, and
 * measures: a warm-up for all three, then BENCH_REPS interleaved repetitions of `iterations` round
 * trips each (KS, malloc, locked operations, alternately, so machine noise hits them alike). */
static int bench_size(HANDLE pin, ULONG frame_size, long iterations, bench_result *r)
{
    KSALLOCATOR_FRAMING framing = { { KSALLOCATOR_OPTIONF_SYSTEM_MEMORY }, NonPagedPool, 0, frame_size,
                                    { FILE_QUAD_ALIGNMENT }, 0 };
    HANDLE alloc;
    if (KsCreateAllocator(pin, &framing, &alloc) != STATUS_SUCCESS) {
        fprintf(stderr, "bench_frames: KsCreateAllocator failed for %lu-byte frames\n", (unsigned long)frame_size);
        return 1;
    }
    KSPROPERTY p = { { { KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE, KSPROPERTY_TYPE_GET } } };
    KSSTREAMALLOCATOR_FUNCTIONTABLE table;
    IO_STATUS_BLOCK iosb;
    if (ZwDeviceIoControlFile(alloc, NULL, NULL, NULL, &iosb, IOCTL_KS_PROPERTY, &p, sizeof p, &table, sizeof table) !=
        STATUS_SUCCESS) {
        fprintf(stderr, "bench_frames: no function table\n");
        ZwClose(alloc);
        return 1;
    }
    PFILE_OBJECT file = km_handle_to_file(alloc);
    bench_ks(&table, file, iterations / 10 + 1);
    bench_malloc(frame_size, iterations / 10 + 1);
    bench_locked_ops(iterations / 10 + 1);
    for (int i = 0; i < BENCH_REPS; i++) {
        r->ks[i] = bench_ks(&table, file, iterations);
        r->mal[i] = bench_malloc(frame_size, iterations);
        r->locked[i] = bench_locked_ops(iterations);
    }
    ZwClose(alloc);
    return 0;
}

static void print_one(ULONG frame_size, long iterations, const bench_result *r)
{
    double ks_ns = median(r->ks), malloc_ns = median(r->mal), locked_ns = median(r->locked);
    printf("frame size %lu bytes, %ld iterations, median of %d repetitions (after a warm-up)\n",
           (unsigned long)frame_size, iterations, BENCH_REPS);
    printf("KS function table AllocateFrame+FreeFrame: %.1f ns/op (min %.1f, max %.1f)\n", ks_ns, minimum(r->ks),
           maximum(r->ks));
    printf("glibc malloc+free:                        %.1f ns/op (min %.1f, max %.1f)\n", malloc_ns,
           minimum(r->mal), maximum(r->mal));
    printf("ratio (KS / malloc):                      %.2f\n", ks_ns / malloc_ns);
    printf("its 2 locked operations alone:            %.1f ns/op (min %.1f, max %.1f), %.2f of malloc\n",
           locked_ns, minimum(r->locked), maximum(r->locked), locked_ns / malloc_ns);
}

/* The sweep's sizes: both sides of glibc's per-thread cache limit (1032 bytes), a page, and the
 * larger frames of audio and video pins. */
static const ULONG sweep_sizes[] = { 64, 256, 1024, 1040, 4096, 16384, 65536, 1048576 };

static void print_sweep_header(long iterations)
{
    printf("median ns per round trip of %d repetitions of %ld (after a warm-up); min-max in brackets\n",
           BENCH_REPS, iterations);
    printf("%10s  %-22s  %-22s  %6s  %11s  %s\n", "frame size", "KS function table", "glibc malloc+free", "ratio",
           "KS - malloc", "2 locked operations");
}

static void print_sweep_row(ULONG frame_size, const bench_result *r)
{
    char ks[32], mal[32];
    snprintf(ks, sizeof ks, "%.1f [%.1f-%.1f]", median(r->ks), minimum(r->ks), maximum(r->ks));
    snprintf(mal, sizeof mal, "%.1f [%.1f-%.1f]", median(r->mal), minimum(r->mal), maximum(r->mal));
    printf("%10lu  %-22s  %-22s  %6.2f  %11.1f  %.1f\n", (unsigned long)frame_size, ks, mal,
           median(r->ks) / median(r->mal), median(r->ks) - median(r->mal), median(r->locked));
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_frames [FRAME_SIZE [ITERATIONS]] | bench_frames --sweep [ITERATIONS]\n"
                    "  FRAME_SIZE 1..%lu bytes (default 4096); ITERATIONS 1..1000000000 (default 2000000)\n",
            (unsigned long)BENCH_MAX_FRAME);
    return 2;
}

/* A decimal number without leading zeros (strtoull's base 0 read "010" as 8) or a 0x number, in
 * [min, max]; else a usage error naming the argument. */
static int parse_count(const char *name, const char *text, unsigned long long min, unsigned long long max,
                       unsigned long long *out)
{
    int hex = text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    const char *digits = hex ? text + 2 : text;
    char *end = NULL;
    errno = 0;
    unsigned long long v = 0;
    int ok = isxdigit((unsigned char)digits[0]) && (hex || (digits[0] >= '1' && digits[0] <= '9'));
    if (ok)
        v = strtoull(digits, &end, hex ? 16 : 10);
    if (!ok || errno != 0 || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "bench_frames: %s '%s' is not a number from %llu to %llu\n", name, text, min, max);
        return 0;
    }
    *out = v;
    return 1;
}

int main(int argc, char **argv)
{
    int sweep = argc > 1 && strcmp(argv[1], "--sweep") == 0;
    unsigned long long frame_size = 4096, iterations = 2000000;
    int arg = sweep ? 2 : 1;
    if (argc > 3) /* at most two arguments either way: SIZE ITERATIONS, or --sweep ITERATIONS */
        return usage();
    if (!sweep && argc > arg && !parse_count("FRAME_SIZE", argv[arg++], 1, BENCH_MAX_FRAME, &frame_size))
        return usage();
    if (argc > arg && !parse_count("ITERATIONS", argv[arg], 1, 1000000000, &iterations))
        return usage();

    km_init();
    static const kstf_allocator_config none;
    kstf_configure_allocator(&none);
    PDRIVER_OBJECT driver;
    HANDLE filter, pin;
    static const WCHAR filter_name[] = KSTF_DEVICE_NAME L"\\" KSSTRING_Filter;
    static const WCHAR pin_name[] = KSSTRING_Pin;
    if (km_driver_load(L"\\Driver\\KsTestFilter", kstf_driver_entry, &driver) != STATUS_SUCCESS ||
        open_relative(NULL, filter_name, sizeof filter_name - 2, &filter) != STATUS_SUCCESS ||
        open_relative(filter, pin_name, sizeof pin_name - 2, &pin) != STATUS_SUCCESS) {
        fprintf(stderr, "bench_frames: set-up failed\n");
        return 1;
    }
    int failed = 0;
    static bench_result r;
    if (sweep) {
        print_sweep_header((long)iterations);
        for (size_t i = 0; i < sizeof sweep_sizes / sizeof sweep_sizes[0] && !failed; i++) {
            failed = bench_size(pin, sweep_sizes[i], (long)iterations, &r);
            if (!failed)
                print_sweep_row(sweep_sizes[i], &r);
            fflush(stdout);
        }
    } else {
        failed = bench_size(pin, (ULONG)frame_size, (long)iterations, &r);
        if (!failed)
            print_one((ULONG)frame_size, (long)iterations, &r);
    }
    ZwClose(pin);
    ZwClose(filter);
    km_teardown();
    if (fflush(stdout) != 0 || ferror(stdout)) { /* figures nobody could read */
        fprintf(stderr, "bench_frames: cannot write the results: %s\n", strerror(errno));
        return 1;
    }
    return failed;
}
