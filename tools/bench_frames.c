/* bench_frames.c: a benchmark, not a test: one frame AllocateFrame+FreeFrame round trip through a
 * default allocator's function table (at DISPATCH_LEVEL, as direct-call clients use it) against
 * glibc malloc+free of the same size, in one run; both get a warm-up, then 7 interleaved repetitions
 * of the same iteration count; prints the median ns/op of each (with min and max) and the ratio, and
 * the same for the round trip's four locked operations alone (the floor of its locking design).
 * Built only in the release preset: cmake --preset release && cmake --build --preset release &&
 * ./build/release/bench_frames [frame_size] [iterations]. Uses the monotonic clock (benchmarks
 * measure time; nothing in the model or the tests reads a clock). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c17 */
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

/* ns per AllocateFrame+FreeFrame through the function table, at DISPATCH_LEVEL as direct-call
 * clients use it; the frame is touched once like the malloc block below. */
static double bench_ks(const KSSTREAMALLOCATOR_FUNCTIONTABLE *table, PFILE_OBJECT file, long iterations)
{
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    double start = now_ns();
    for (long i = 0; i < iterations; i++) {
        PVOID frame;
        if (table->AllocateFrame(file, &frame) != STATUS_SUCCESS)
            abort();
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
        if (block == NULL)
            abort();
        *(volatile unsigned char *)block = (unsigned char)i;
        free(block);
    }
    return (now_ns() - start) / (double)iterations;
}

/* ns for the locked operations a round trip cannot do without, alone: a thread-safe allocate and
 * free each take the allocator's spin lock (compare-exchange, release store) and go through the
 * lookaside list's own lock (exchange, release store), as Windows' spin locks and interlocked
 * S-lists do. A floor for any design with that locking, whatever else it does. */
static double bench_locked_ops(long iterations)
{
    static volatile ULONG_PTR spin, list;
    double start = now_ns();
    for (long i = 0; i < iterations; i++) {
        for (int side = 0; side < 2; side++) { /* allocate, then free */
            ULONG_PTR expected = 0;
            __atomic_compare_exchange_n(&spin, &expected, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
            __atomic_exchange_n(&list, 1, __ATOMIC_ACQUIRE);
            __atomic_store_n(&list, 0, __ATOMIC_RELEASE);
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

int main(int argc, char **argv)
{
    ULONG frame_size = argc > 1 ? (ULONG)strtoul(argv[1], NULL, 0) : 4096;
    long iterations = argc > 2 ? strtol(argv[2], NULL, 0) : 2000000;
    km_init();
    static const kstf_allocator_config none;
    kstf_configure_allocator(&none);
    PDRIVER_OBJECT driver;
    HANDLE filter, pin, alloc;
    static const WCHAR filter_name[] = KSTF_DEVICE_NAME L"\\" KSSTRING_Filter;
    static const WCHAR pin_name[] = KSSTRING_Pin;
    KSALLOCATOR_FRAMING framing = { { KSALLOCATOR_OPTIONF_SYSTEM_MEMORY }, NonPagedPool, 0, frame_size,
                                    { FILE_QUAD_ALIGNMENT }, 0 };
    if (km_driver_load(L"\\Driver\\KsTestFilter", kstf_driver_entry, &driver) != STATUS_SUCCESS ||
        open_relative(NULL, filter_name, sizeof filter_name - 2, &filter) != STATUS_SUCCESS ||
        open_relative(filter, pin_name, sizeof pin_name - 2, &pin) != STATUS_SUCCESS ||
        KsCreateAllocator(pin, &framing, &alloc) != STATUS_SUCCESS) {
        fprintf(stderr, "bench_frames: set-up failed\n");
        return 1;
    }
    KSPROPERTY p = { { { KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE, KSPROPERTY_TYPE_GET } } };
    KSSTREAMALLOCATOR_FUNCTIONTABLE table;
    IO_STATUS_BLOCK iosb;
    if (ZwDeviceIoControlFile(alloc, NULL, NULL, NULL, &iosb, IOCTL_KS_PROPERTY, &p, sizeof p, &table, sizeof table) !=
        STATUS_SUCCESS) {
        fprintf(stderr, "bench_frames: no function table\n");
        return 1;
    }
    PFILE_OBJECT file = km_handle_to_file(alloc);

    /* Warm-up for both, then REPS interleaved repetitions of `iterations` round trips each (KS, then
     * malloc, alternately, so machine noise hits both alike); the median of each is reported. */
    double ks[BENCH_REPS], mal[BENCH_REPS], locked[BENCH_REPS];
    bench_ks(&table, file, iterations / 10 + 1);
    bench_malloc(frame_size, iterations / 10 + 1);
    bench_locked_ops(iterations / 10 + 1);
    for (int r = 0; r < BENCH_REPS; r++) {
        ks[r] = bench_ks(&table, file, iterations);
        mal[r] = bench_malloc(frame_size, iterations);
        locked[r] = bench_locked_ops(iterations);
    }
    double ks_ns = median(ks), malloc_ns = median(mal), locked_ns = median(locked);

    printf("frame size %lu bytes, %ld iterations, median of %d repetitions (after a warm-up)\n",
           (unsigned long)frame_size, iterations, BENCH_REPS);
    printf("KS function table AllocateFrame+FreeFrame: %.1f ns/op (min %.1f, max %.1f)\n", ks_ns, minimum(ks),
           maximum(ks));
    printf("glibc malloc+free:                        %.1f ns/op (min %.1f, max %.1f)\n", malloc_ns, minimum(mal),
           maximum(mal));
    printf("ratio (KS / malloc):                      %.2f\n", ks_ns / malloc_ns);
    printf("its 4 locked operations alone:            %.1f ns/op (min %.1f, max %.1f), %.2f of malloc\n",
           locked_ns, minimum(locked), maximum(locked), locked_ns / malloc_ns);
    ZwClose(alloc);
    ZwClose(pin);
    ZwClose(filter);
    km_teardown();
    return 0;
}
