/* km_stress.c: km_stress [--threads N] [--iterations N] [--seed N]: concurrency stress of the
 * allocator on one kernel model. Each thread (its own xorshift stream from the seed) creates and
 * closes its own allocators on the test filter's pin (KsCreateAllocator), takes and returns frames
 * through IOCTL_KS_METHOD and through the function table (at DISPATCH_LEVEL), queries STATUS and
 * FUNCTIONTABLE, and closes allocators that still hold frames; all threads also share one allocator
 * through the function table and through METHOD ALLOC, which pends at its Frames limit until another
 * thread's FreeFrame (at PASSIVE or DISPATCH_LEVEL) completes it. Checked: every frame is the
 * holder's alone (written whole), a private allocator's AllocatedFrames equals the frames its thread
 * holds at every query, every pending ALLOC is completed with a frame (a wait that outlasts
 * ST_WAIT_POLLS fails the run: an ALLOC left waiting while frames are free), the shared allocator's
 * AllocatedFrames is back to 0 at the end, and km_teardown finds no leak. Then stress.handoff (see
 * st_handoff): iterations / 4 rounds of one frame passed between two threads, on the default
 * allocator and (stress.handoff_filter_specific) on allocator_fs/, and stress.close_against_free
 * (see st_close_race): as many rounds of a close racing a waiting ALLOC's completion, and
 * stress.create_completed_elsewhere (km_stress_create.c): as many rounds of a pending create completed
 * on another thread while ZwCreateFile decides. Run it under
 * TSan (races) and ASan (memory). Output: ktest protocol (PASS/FAIL per case), the operation count, "N passed, N failed". */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "km/km.h"
#include "km_stress.h"
#include "ks_test_filter.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
/* The first race ends the run with a report (the default would only change the exit status). */
const char *__tsan_default_options(void) { return "halt_on_error=1"; }
#endif
#endif

#define HELD 4          /* frames a thread holds per allocator at most: below every Frames, so nothing pends */
#define FRAME_SIZE 64
#define ST_MAX_THREADS 64 /* a bound on what a typo can ask for (each thread holds frames of a shared allocator) */
#define ST_WAIT_POLLS 200000 /* timed waits (64 yields each) for one pending ALLOC: far beyond any fair share */
#define ST_KINDS 9

typedef struct {
    unsigned id, iterations;
    uint64_t rng;
    HANDLE pin, shared;
    KSSTREAMALLOCATOR_FUNCTIONTABLE shared_table;
    PFILE_OBJECT shared_file;
    unsigned long long ops[ST_KINDS]; /* per kind, see st_kind_names */
    unsigned long long pended;        /* shared METHOD ALLOCs that returned STATUS_PENDING */
    char failure[256];
} st_thread;

static const char *const st_kind_names[ST_KINDS] = { "create", "close", "method_alloc", "method_free", "fn_alloc",
                                                     "fn_free", "status", "functiontable", "shared_alloc" };
enum { K_CREATE, K_CLOSE, K_MALLOC, K_MFREE, K_FALLOC, K_FFREE, K_STATUS, K_TABLE, K_WAIT };

static uint64_t st_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static NTSTATUS st_ioctl_event(HANDLE h, HANDLE event, IO_STATUS_BLOCK *iosb, ULONG code, ULONG set_is_method,
                               ULONG id, void *out, ULONG out_len)
{
    KSIDENTIFIER k;
    memset(&k, 0, sizeof k);
    k.Set = set_is_method ? KSMETHODSETID_StreamAllocator : KSPROPSETID_StreamAllocator;
    k.Id = id;
    k.Flags = set_is_method ? KSMETHOD_TYPE_SEND : KSPROPERTY_TYPE_GET;
    return ZwDeviceIoControlFile(h, event, NULL, NULL, iosb, code, &k, sizeof k, out, out_len);
}

static NTSTATUS st_ioctl(HANDLE h, ULONG code, ULONG set_is_method, ULONG id, void *out, ULONG out_len,
                         ULONG_PTR *info)
{
    IO_STATUS_BLOCK iosb = { { STATUS_UNSUCCESSFUL }, 0 };
    NTSTATUS s = st_ioctl_event(h, NULL, &iosb, code, set_is_method, id, out, out_len);
    if (info != NULL)
        *info = iosb.Information;
    return s;
}

#define ST_FAIL(t, ...) (snprintf((t)->failure, sizeof (t)->failure, __VA_ARGS__), (void)0)

static void st_fill(void *frame, unsigned id) { memset(frame, (int)(id & 0xFF), FRAME_SIZE); }
static bool st_intact(const void *frame, unsigned id)
{
    const unsigned char *p = frame;
    for (int i = 0; i < FRAME_SIZE; i++)
        if (p[i] != (unsigned char)id)
            return false;
    return true;
}

/* K_WAIT: returns every shared frame the thread holds (at PASSIVE_LEVEL, so a waiting ALLOC is
 * served at once; a waiter holds nothing, so waits cannot deadlock), then takes one by METHOD ALLOC,
 * waiting for it while running work items (queued by FreeFrame at DISPATCH_LEVEL). FALSE on failure. */
static bool st_shared_alloc(st_thread *t, PVOID shared_held[HELD], unsigned slot)
{
    for (unsigned s = 0; s < HELD; s++)
        if (shared_held[s] != NULL) {
            if (!st_intact(shared_held[s], t->id))
                return ST_FAIL(t, "a shared-allocator frame was written by another thread"), false;
            t->shared_table.FreeFrame(t->shared_file, shared_held[s]);
            shared_held[s] = NULL;
            t->ops[K_FFREE]++;
        }
    KEVENT done;
    HANDLE event;
    KeInitializeEvent(&done, NotificationEvent, FALSE);
    if (km_event_handle_open(&done, &event) != STATUS_SUCCESS)
        return ST_FAIL(t, "km_event_handle_open failed"), false;
    IO_STATUS_BLOCK iosb = { { STATUS_UNSUCCESSFUL }, 0 };
    PVOID frame = NULL;
    NTSTATUS s = st_ioctl_event(t->shared, event, &iosb, IOCTL_KS_METHOD, 1, KSMETHOD_STREAMALLOCATOR_ALLOC, &frame,
                                sizeof frame);
    if (s == STATUS_PENDING) {
        t->pended++;
        LARGE_INTEGER poll = { .QuadPart = -1 };
        for (unsigned long waits = 0; KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, &poll) == STATUS_TIMEOUT;) {
            km_run_work_items();
            if (++waits == ST_WAIT_POLLS) {
                /* The IRP still refers to this frame's variables: end the process, not the thread. */
                printf("FAIL stress.run: a METHOD ALLOC on the shared allocator is still pending after %d timed "
                       "waits, with every waiter holding no frame\n0 passed, 1 failed\n", ST_WAIT_POLLS);
                fflush(stdout);
                _exit(1);
            }
        }
        s = iosb.Status;
    }
    ZwClose(event);
    if (s != STATUS_SUCCESS || frame == NULL)
        return ST_FAIL(t, "shared METHOD ALLOC: 0x%08X", (unsigned)s), false;
    st_fill(frame, t->id);
    shared_held[slot] = frame;
    return true;
}

static void *st_run(void *p)
{
    st_thread *t = p;
    HANDLE own = NULL;
    KSSTREAMALLOCATOR_FUNCTIONTABLE own_table;
    bool have_table = false;
    PVOID held[HELD] = { 0 }, shared_held[HELD] = { 0 };
    unsigned nheld = 0;
    KSALLOCATOR_FRAMING f = { { KSALLOCATOR_OPTIONF_SYSTEM_MEMORY }, NonPagedPool, 8, FRAME_SIZE,
                              { FILE_QUAD_ALIGNMENT }, 0 };
    for (unsigned i = 0; i < t->iterations && t->failure[0] == '\0'; i++) {
        unsigned kind = (unsigned)(st_next(&t->rng) % ST_KINDS), slot = (unsigned)(st_next(&t->rng) % HELD);
        if (own == NULL && kind != K_FALLOC && kind != K_FFREE && kind != K_WAIT)
            kind = K_CREATE;
        switch (kind) {
        case K_CREATE:
            if (own != NULL)
                continue;
            if (KsCreateAllocator(t->pin, &f, &own) != STATUS_SUCCESS)
                return ST_FAIL(t, "KsCreateAllocator failed"), NULL;
            have_table = false;
            break;
        case K_CLOSE: /* frames still held are reclaimed by the close (decisions Q15) */
            if (ZwClose(own) != STATUS_SUCCESS)
                return ST_FAIL(t, "ZwClose failed"), NULL;
            own = NULL;
            memset(held, 0, sizeof held);
            nheld = 0;
            break;
        case K_MALLOC:
        case K_MFREE: {
            ULONG_PTR info;
            PVOID frame = held[slot];
            kind = frame == NULL ? K_MALLOC : K_MFREE; /* counted by what it did */
            if (frame == NULL) {
                NTSTATUS s = st_ioctl(own, IOCTL_KS_METHOD, 1, KSMETHOD_STREAMALLOCATOR_ALLOC, &frame, sizeof frame, &info);
                if (s != STATUS_SUCCESS || frame == NULL)
                    return ST_FAIL(t, "METHOD ALLOC: 0x%08X with %u of 8 frames out", (unsigned)s, nheld), NULL;
                st_fill(frame, t->id);
                held[slot] = frame;
                nheld++;
            } else {
                if (!st_intact(frame, t->id))
                    return ST_FAIL(t, "a held frame was written by someone else"), NULL;
                NTSTATUS s = st_ioctl(own, IOCTL_KS_METHOD, 1, KSMETHOD_STREAMALLOCATOR_FREE, &frame, sizeof frame, &info);
                if (s != STATUS_SUCCESS)
                    return ST_FAIL(t, "METHOD FREE: 0x%08X", (unsigned)s), NULL;
                held[slot] = NULL;
                nheld--;
            }
            break;
        }
        case K_FALLOC:
        case K_FFREE: { /* the shared allocator's function table, at DISPATCH_LEVEL like a real caller */
            KIRQL old;
            KeRaiseIrql(DISPATCH_LEVEL, &old);
            kind = shared_held[slot] == NULL ? K_FALLOC : K_FFREE;
            if (shared_held[slot] == NULL) {
                PVOID frame = NULL;
                if (t->shared_table.AllocateFrame(t->shared_file, &frame) == STATUS_SUCCESS && frame != NULL) {
                    st_fill(frame, t->id);
                    shared_held[slot] = frame;
                }
            } else {
                bool intact = st_intact(shared_held[slot], t->id);
                t->shared_table.FreeFrame(t->shared_file, shared_held[slot]);
                shared_held[slot] = NULL;
                if (!intact)
                    ST_FAIL(t, "a shared-allocator frame was written by another thread");
            }
            KeLowerIrql(old);
            break;
        }
        case K_WAIT: /* METHOD ALLOC on the shared allocator: pends at its limit until a frame comes back */
            if (!st_shared_alloc(t, shared_held, slot))
                return NULL;
            break;
        case K_STATUS: {
            KSSTREAMALLOCATOR_STATUS st;
            ULONG_PTR info;
            NTSTATUS s = st_ioctl(own, IOCTL_KS_PROPERTY, 0, KSPROPERTY_STREAMALLOCATOR_STATUS, &st, sizeof st, &info);
            if (s != STATUS_SUCCESS || st.AllocatedFrames != nheld)
                return ST_FAIL(t, "STATUS 0x%08X: AllocatedFrames %lu, the thread holds %u", (unsigned)s,
                               (unsigned long)st.AllocatedFrames, nheld), NULL;
            break;
        }
        case K_TABLE: { /* fetch the table, then one frame through it on the private allocator */
            ULONG_PTR info;
            if (!have_table &&
                st_ioctl(own, IOCTL_KS_PROPERTY, 0, KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE, &own_table,
                         sizeof own_table, &info) != STATUS_SUCCESS)
                return ST_FAIL(t, "FUNCTIONTABLE failed"), NULL;
            have_table = true;
            PVOID frame = NULL;
            PFILE_OBJECT file = km_handle_to_file(own);
            if (nheld < HELD && own_table.AllocateFrame(file, &frame) == STATUS_SUCCESS) {
                st_fill(frame, t->id);
                own_table.FreeFrame(file, frame);
            }
            break;
        }
        }
        t->ops[kind]++;
    }
    for (unsigned s = 0; s < HELD; s++)
        if (shared_held[s] != NULL) {
            t->shared_table.FreeFrame(t->shared_file, shared_held[s]);
            t->ops[K_FFREE]++;
        }
    if (own != NULL) {
        ZwClose(own);
        t->ops[K_CLOSE]++;
    }
    return NULL;
}

/* stress.handoff: one frame (Frames 1) passed between two threads. In each round, released together
 * by a barrier, the requester sends METHOD ALLOC while the holder, after a delay that varies by
 * round, frees the frame through the function table (at PASSIVE_LEVEL in even rounds, at DISPATCH_LEVEL in odd ones). Once both are
 * done and the work items have run, nothing else is going on, so the ALLOC must have been completed
 * with the frame: one still pending was lost between its limit check and its queueing. */
typedef struct {
    HANDLE alloc;
    PFILE_OBJECT file;
    KSSTREAMALLOCATOR_FUNCTIONTABLE table;
    PVOID frame; /* the holder's, passed on at each round's end */
    unsigned rounds;
    pthread_barrier_t start, done;
} st_handoff;

static void *st_handoff_holder(void *p)
{
    st_handoff *h = p;
    for (unsigned r = 0; r < h->rounds; r++) {
        pthread_barrier_wait(&h->start);
        st_spin(r, 15); /* the free lands at every point of the ALLOC */
        KIRQL old = PASSIVE_LEVEL;
        if (r % 2 != 0)
            KeRaiseIrql(DISPATCH_LEVEL, &old);
        h->table.FreeFrame(h->file, h->frame);
        if (r % 2 != 0)
            KeLowerIrql(old);
        pthread_barrier_wait(&h->done);
        pthread_barrier_wait(&h->start); /* the requester has checked the round and set h->frame */
    }
    return NULL;
}

/* Runs the rounds; NULL when every ALLOC was completed with the frame, else what went wrong. */
static const char *st_handoff_run(const char *name, HANDLE pin, unsigned rounds, char *failure, size_t size)
{
    KSALLOCATOR_FRAMING f = { { KSALLOCATOR_OPTIONF_SYSTEM_MEMORY }, NonPagedPool, 1, FRAME_SIZE,
                              { FILE_QUAD_ALIGNMENT }, 0 };
    st_handoff h = { .rounds = rounds };
    ULONG_PTR info;
    if (KsCreateAllocator(pin, &f, &h.alloc) != STATUS_SUCCESS ||
        st_ioctl(h.alloc, IOCTL_KS_PROPERTY, 0, KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE, &h.table, sizeof h.table,
                 &info) != STATUS_SUCCESS)
        return "handoff allocator";
    h.file = km_handle_to_file(h.alloc);
    if (h.table.AllocateFrame(h.file, &h.frame) != STATUS_SUCCESS)
        return "handoff: the first frame";
    KEVENT completed;
    HANDLE event;
    KeInitializeEvent(&completed, NotificationEvent, FALSE);
    if (km_event_handle_open(&completed, &event) != STATUS_SUCCESS)
        return "handoff: km_event_handle_open";
    pthread_barrier_init(&h.start, NULL, 2);
    pthread_barrier_init(&h.done, NULL, 2);
    pthread_t holder;
    const char *result = NULL;
    if (pthread_create(&holder, NULL, st_handoff_holder, &h) != 0) {
        snprintf(failure, size, "cannot start the holder thread");
        h.rounds = rounds = 0;
        result = failure;
    }
    for (unsigned r = 0; r < rounds; r++) {
        IO_STATUS_BLOCK iosb = { { STATUS_UNSUCCESSFUL }, 0 };
        PVOID frame = NULL;
        pthread_barrier_wait(&h.start);
        NTSTATUS s = st_ioctl_event(h.alloc, event, &iosb, IOCTL_KS_METHOD, 1, KSMETHOD_STREAMALLOCATOR_ALLOC, &frame,
                                    sizeof frame);
        pthread_barrier_wait(&h.done);
        km_run_work_items();
        LARGE_INTEGER now = { .QuadPart = 0 };
        if (s == STATUS_PENDING && KeWaitForSingleObject(&completed, Executive, KernelMode, FALSE, &now) != STATUS_SUCCESS) {
            snprintf(failure, size, "round %u: METHOD ALLOC still pending after the frame came back (freed at %s)", r,
                     r % 2 != 0 ? "DISPATCH_LEVEL" : "PASSIVE_LEVEL");
            _exit((printf("FAIL %s: %s\n", name, failure), fflush(stdout), 1)); /* the IRP refers to this frame */
        }
        if (s == STATUS_PENDING)
            s = iosb.Status;
        KeClearEvent(&completed);
        if (s != STATUS_SUCCESS || frame == NULL) {
            snprintf(failure, size, "round %u: METHOD ALLOC 0x%08X", r, (unsigned)s);
            result = failure;
        }
        h.frame = frame;
        if (result != NULL)
            h.rounds = r + 1; /* the holder reads it after the barrier below, and ends */
        pthread_barrier_wait(&h.start);
        if (result != NULL)
            break;
    }
    if (rounds != 0)
        pthread_join(holder, NULL);
    pthread_barrier_destroy(&h.start);
    pthread_barrier_destroy(&h.done);
    ZwClose(event);
    ZwClose(h.alloc); /* reclaims the frame still held (decisions Q15) */
    return result;
}

/* stress.close_against_free: a close racing the completion of a waiting ALLOC. In each round a new
 * allocator (Frames 1) has its one frame out through the function table and a METHOD ALLOC waiting;
 * released together by a barrier, the holder frees the frame (which completes the ALLOC) while the
 * requester closes the handle (whose cleanup cancels the ALLOC). The holder keeps a reference to the
 * file object, as a direct-call client must, so IRP_MJ_CLOSE waits for it. The ALLOC must end with
 * the frame or STATUS_CANCELLED, and nothing may stay pending or leak; under TSan it also checks the
 * I/O model's own completion against cancellation (IoCompleteRequest reading CancelRoutine while
 * IoCancelIrp exchanges it). */
typedef struct {
    PFILE_OBJECT file;
    KSSTREAMALLOCATOR_FUNCTIONTABLE table;
    PVOID frame;
    unsigned round, rounds;
    unsigned long long served, cancelled; /* how the rounds' ALLOCs ended: both ways must be reached */
    pthread_barrier_t start, done;
} st_close_race;

static void *st_close_race_holder(void *p)
{
    st_close_race *c = p;
    for (;;) {
        pthread_barrier_wait(&c->start);
        if (c->round == c->rounds)
            return NULL;
        st_spin(c->round, 13);
        c->table.FreeFrame(c->file, c->frame);
        ObDereferenceObject(c->file);
        pthread_barrier_wait(&c->done);
    }
}

static const char *st_close_race_run(HANDLE pin, unsigned rounds, st_close_race *out, char *failure, size_t size)
{
    KSALLOCATOR_FRAMING f = { { KSALLOCATOR_OPTIONF_SYSTEM_MEMORY }, NonPagedPool, 1, FRAME_SIZE,
                              { FILE_QUAD_ALIGNMENT }, 0 };
    st_close_race c = { .rounds = rounds };
    KEVENT completed;
    HANDLE event;
    KeInitializeEvent(&completed, NotificationEvent, FALSE);
    if (km_event_handle_open(&completed, &event) != STATUS_SUCCESS)
        return "close race: km_event_handle_open";
    pthread_barrier_init(&c.start, NULL, 2);
    pthread_barrier_init(&c.done, NULL, 2);
    pthread_t holder;
    const char *result = NULL;
    if (pthread_create(&holder, NULL, st_close_race_holder, &c) != 0) {
        snprintf(failure, size, "cannot start the holder thread");
        result = failure;
        rounds = 0;
    }
    for (unsigned r = 0; r < rounds && result == NULL; r++) {
        HANDLE alloc;
        ULONG_PTR info;
        if (KsCreateAllocator(pin, &f, &alloc) != STATUS_SUCCESS) {
            result = "close race: allocator";
            break;
        }
        c.file = km_handle_to_file(alloc);
        if (st_ioctl(alloc, IOCTL_KS_PROPERTY, 0, KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE, &c.table, sizeof c.table,
                     &info) != STATUS_SUCCESS ||
            c.table.AllocateFrame(c.file, &c.frame) != STATUS_SUCCESS) {
            ZwClose(alloc);
            result = "close race: the first frame";
            break;
        }
        IO_STATUS_BLOCK iosb = { { STATUS_UNSUCCESSFUL }, 0 };
        PVOID frame = NULL;
        NTSTATUS s = st_ioctl_event(alloc, event, &iosb, IOCTL_KS_METHOD, 1, KSMETHOD_STREAMALLOCATOR_ALLOC, &frame,
                                    sizeof frame);
        if (s != STATUS_PENDING) {
            snprintf(failure, size, "round %u: METHOD ALLOC at the limit returned 0x%08X", r, (unsigned)s);
            ZwClose(alloc);
            result = failure;
            break;
        }
        ObReferenceObject(c.file); /* the holder's, dropped once its FreeFrame is done */
        c.round = r;
        pthread_barrier_wait(&c.start);
        st_spin(r * 31u + 5u, 13);
        ZwClose(alloc);
        pthread_barrier_wait(&c.done);
        km_run_work_items();
        LARGE_INTEGER now = { .QuadPart = 0 };
        if (KeWaitForSingleObject(&completed, Executive, KernelMode, FALSE, &now) != STATUS_SUCCESS) {
            snprintf(failure, size, "round %u: METHOD ALLOC still pending after the close", r);
            _exit((printf("FAIL stress.close_against_free: %s\n", failure), fflush(stdout), 1)); /* the IRP refers to `frame` */
        }
        KeClearEvent(&completed);
        c.served += iosb.Status == STATUS_SUCCESS;
        c.cancelled += iosb.Status == STATUS_CANCELLED;
        if (!(iosb.Status == STATUS_SUCCESS && frame != NULL) && !(iosb.Status == STATUS_CANCELLED && frame == NULL)) {
            snprintf(failure, size, "round %u: METHOD ALLOC ended with 0x%08X and %s frame", r, (unsigned)iosb.Status,
                     frame != NULL ? "a" : "no");
            result = failure;
        }
    }
    if (rounds != 0) {
        c.round = c.rounds; /* the holder reads it after the barrier and ends */
        pthread_barrier_wait(&c.start);
        pthread_join(holder, NULL);
    }
    pthread_barrier_destroy(&c.start);
    pthread_barrier_destroy(&c.done);
    ZwClose(event);
    if (result == NULL && km_io_pending_count() != 0)
        result = "IRPs still pending after every close";
    out->served = c.served;
    out->cancelled = c.cancelled;
    return result;
}

static HANDLE st_open(HANDLE root, const WCHAR *name, size_t bytes)
{
    UNICODE_STRING us = { (USHORT)bytes, (USHORT)bytes, (PWSTR)name };
    OBJECT_ATTRIBUTES oa;
    IO_STATUS_BLOCK iosb;
    HANDLE h = NULL;
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, root, NULL);
    if (ZwCreateFile(&h, GENERIC_READ, &oa, &iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0, FILE_OPEN, 0, NULL, 0) != STATUS_SUCCESS) {
        printf("FAIL stress.run: cannot open the test filter\n0 passed, 1 failed\n");
        exit(1);
    }
    return h;
}

/* The number after the option at argv[*i], which *i then points at: 1..max, else a usage error naming the
 * option (taken before the step: with the value missing, argv[*i] is still the option). */
static unsigned st_arg(int argc, char **argv, int *i, unsigned long max)
{
    const char *opt = argv[*i];
    char *end = NULL;
    const char *text = *i + 1 < argc ? argv[++*i] : "";
    /* Digits only: strtoul would take a sign or spaces, and wrap "-18446744073709551614" to 2. */
    unsigned long v = text[0] >= '0' && text[0] <= '9' ? strtoul(text, &end, 10) : 0;
    if (v == 0 || *end != '\0' || v > max) {
        fprintf(stderr, "km_stress: %s needs a number from 1 to %lu\nusage: km_stress [--threads N] "
                        "[--iterations N] [--seed N]\n", opt, max);
        exit(2);
    }
    return (unsigned)v;
}

int main(int argc, char **argv)
{
    unsigned threads = 4, iterations = 20000, seed = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0)
            threads = st_arg(argc, argv, &i, ST_MAX_THREADS);
        else if (strcmp(argv[i], "--iterations") == 0)
            iterations = st_arg(argc, argv, &i, 100000000);
        else if (strcmp(argv[i], "--seed") == 0)
            seed = st_arg(argc, argv, &i, 100000000);
        else if (argv[i][0] == '-') {
            fprintf(stderr, "km_stress: unknown option '%s'\n", argv[i]);
            return 2;
        } /* other arguments are the runner's -k globs: both cases always run */
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    km_init();
    static const kstf_allocator_config none;
    kstf_configure_allocator(&none);
    PDRIVER_OBJECT driver;
    if (km_driver_load(L"\\Driver\\KsTestFilter", kstf_driver_entry, &driver) != STATUS_SUCCESS) {
        printf("FAIL stress.run: driver load failed\n0 passed, 1 failed\n");
        return 1;
    }
    static const WCHAR filter_name[] = KSTF_DEVICE_NAME L"\\" KSSTRING_Filter, pin_name[] = KSSTRING_Pin;
    HANDLE filter = st_open(NULL, filter_name, sizeof filter_name - sizeof(WCHAR));
    HANDLE pin = st_open(filter, pin_name, sizeof pin_name - sizeof(WCHAR));
    /* Frames far below threads * HELD: the limit is contended (AllocateFrame refuses, METHOD ALLOC pends). */
    KSALLOCATOR_FRAMING f = { { KSALLOCATOR_OPTIONF_SYSTEM_MEMORY }, NonPagedPool, threads / 2 + 1, FRAME_SIZE,
                              { FILE_QUAD_ALIGNMENT }, 0 };
    HANDLE shared = NULL;
    KSSTREAMALLOCATOR_FUNCTIONTABLE table;
    ULONG_PTR info;
    if (KsCreateAllocator(pin, &f, &shared) != STATUS_SUCCESS ||
        st_ioctl(shared, IOCTL_KS_PROPERTY, 0, KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE, &table, sizeof table, &info) !=
            STATUS_SUCCESS) {
        printf("FAIL stress.run: shared allocator\n0 passed, 1 failed\n");
        return 1;
    }
    st_thread *t = calloc(threads, sizeof *t);
    pthread_t *tid = calloc(threads, sizeof *tid);
    if (t == NULL || tid == NULL) {
        printf("FAIL stress.run: out of memory\n0 passed, 1 failed\n");
        return 1;
    }
    const char *failure = NULL;
    unsigned started = 0;
    for (unsigned i = 0; i < threads; i++, started++) {
        t[i] = (st_thread){ .id = i + 1, .iterations = iterations, .rng = 0x9E3779B97F4A7C15ULL * (seed + i) | 1,
                            .pin = pin, .shared = shared, .shared_table = table, .shared_file = km_handle_to_file(shared) };
        if (pthread_create(&tid[i], NULL, st_run, &t[i]) != 0) {
            failure = "cannot start every thread"; /* the others still run to their end */
            break;
        }
    }
    unsigned long long total = 0, by_kind[ST_KINDS] = { 0 }, pended = 0;
    for (unsigned i = 0; i < started; i++) {
        pthread_join(tid[i], NULL);
        pended += t[i].pended;
        for (int k = 0; k < ST_KINDS; k++) {
            total += t[i].ops[k];
            by_kind[k] += t[i].ops[k];
        }
        if (t[i].failure[0] != '\0' && failure == NULL)
            failure = t[i].failure;
    }
    KSSTREAMALLOCATOR_STATUS st;
    if (failure == NULL &&
        (st_ioctl(shared, IOCTL_KS_PROPERTY, 0, KSPROPERTY_STREAMALLOCATOR_STATUS, &st, sizeof st, &info) != STATUS_SUCCESS ||
         st.AllocatedFrames != 0))
        failure = "the shared allocator's AllocatedFrames is not 0 after every frame came back";
    ZwClose(shared);
    char handoff_failure[256], fs_failure[256];
    unsigned rounds = iterations / 4 != 0 ? iterations / 4 : 1;
    const char *handoff = st_handoff_run("stress.handoff", pin, rounds, handoff_failure, sizeof handoff_failure);
    kstf_configure_pin_allocator(KSTF_PIN_FILTER_SPECIFIC); /* allocator_fs/, the second implementation */
    const char *fs_handoff = st_handoff_run("stress.handoff_filter_specific", pin, rounds, fs_failure,
                                            sizeof fs_failure);
    kstf_configure_pin_allocator(KSTF_PIN_DEFAULT_ALLOCATOR);
    char close_failure[256];
    st_close_race close_counts;
    const char *close_race = st_close_race_run(pin, rounds, &close_counts, close_failure, sizeof close_failure);
    char create_failure[256];
    st_create_race create_counts;
    const char *create_race = st_create_race_run(rounds, &create_counts, create_failure, sizeof create_failure);
    ZwClose(pin);
    ZwClose(filter);
    km_teardown(); /* a leak is a POOL_LEAK verifier finding: the process aborts with it */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%s stress.run%s%s\n", failure ? "FAIL" : "PASS", failure ? ": " : "", failure ? failure : "");
    printf("%s stress.handoff%s%s\n", handoff ? "FAIL" : "PASS", handoff ? ": " : "", handoff ? handoff : "");
    printf("%s stress.handoff_filter_specific%s%s\n", fs_handoff ? "FAIL" : "PASS", fs_handoff ? ": " : "",
           fs_handoff ? fs_handoff : "");
    printf("%s stress.close_against_free%s%s\n", close_race ? "FAIL" : "PASS", close_race ? ": " : "",
           close_race ? close_race : "");
    printf("%s stress.create_completed_elsewhere%s%s\n", create_race ? "FAIL" : "PASS", create_race ? ": " : "",
           create_race ? create_race : "");
    printf("stress: %llu operations by %u threads in %.2f s (seed %u):", total, threads, secs, seed);
    for (int k = 0; k < ST_KINDS; k++)
        printf(" %s %llu", st_kind_names[k], by_kind[k]);
    printf(" (%llu pended); %u handoff rounds; %u close-race rounds (%llu ALLOCs served, %llu cancelled); %u create-race "
           "rounds (%llu opened, %llu abandoned)\n", pended, rounds, rounds, close_counts.served, close_counts.cancelled,
           rounds, create_counts.opened, create_counts.abandoned);
    int failed = (failure != NULL) + (handoff != NULL) + (fs_handoff != NULL) + (close_race != NULL) + (create_race != NULL);
    printf("%d passed, %d failed\n", 5 - failed, failed);
    free(t);
    free(tid);
    if (fflush(stdout) != 0 || ferror(stdout)) { /* a PASS nobody could read is not a pass */
        fprintf(stderr, "km_stress: cannot write the results: %s\n", strerror(errno));
        return 1;
    }
    return failed != 0;
}
