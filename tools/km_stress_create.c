/* km_stress_create.c: stress.create_completed_elsewhere, the I/O model's pending create against a
 * completion on another thread. A device of its own pends every IRP_MJ_CREATE and hands it to a
 * completer thread, which completes it with STATUS_SUCCESS at once, while the dispatch routine waits a
 * time that varies by round before it returns STATUS_PENDING, and ZwCreateFile then decides whether the create was completed (a handle, and the IO_STATUS_BLOCK written
 * before it returns) or not (STATUS_PENDING, no handle, and the IO_STATUS_BLOCK never written: the
 * completion that comes later closes the orphan file object). Under TSan it also checks that the
 * completion's writes and the create's reads are ordered. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>

#include "km/km.h"
#include "km_stress.h"

#define SC_DEVICE_NAME L"\\Device\\StressCreate"

#define SC_NOT_SENT ((PIRP)1) /* the create never reached the dispatch routine: nothing to complete */

typedef struct {
    PIRP irp; /* the create handed to the completer: written by the dispatch, taken by the completer */
    unsigned round, rounds;
    pthread_barrier_t start;
} st_create_shared;

static st_create_shared sc; /* the dispatch routine has no context of its own */

static NTSTATUS sc_create(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    IoMarkIrpPending(Irp);
    __atomic_store_n(&sc.irp, Irp, __ATOMIC_RELEASE);
    st_spin(sc.round, 15); /* the completion lands at every point from here to ZwCreateFile's decision */
    return STATUS_PENDING;
}

static NTSTATUS sc_complete_at_once(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static NTSTATUS sc_entry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(SC_DEVICE_NAME);
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = sc_create;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = sc_complete_at_once;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = sc_complete_at_once;
    return STATUS_SUCCESS;
}

/* Each round: waits for the create and completes it (the dispatch routine's delay varies by round). */
static void *sc_completer(void *p)
{
    (void)p;
    for (;;) {
        pthread_barrier_wait(&sc.start);
        if (sc.round == sc.rounds)
            return NULL;
        PIRP irp;
        while ((irp = __atomic_exchange_n(&sc.irp, NULL, __ATOMIC_ACQUIRE)) == NULL)
            ;
        if (irp != SC_NOT_SENT)
            sc_complete_at_once(NULL, irp);
        pthread_barrier_wait(&sc.start);
    }
}

const char *st_create_race_run(unsigned rounds, st_create_race *out, char *failure, size_t size)
{
    PDRIVER_OBJECT driver;
    if (km_driver_load(L"\\Driver\\StressCreate", sc_entry, &driver) != STATUS_SUCCESS)
        return "create race: driver load";
    sc = (st_create_shared){ .rounds = rounds };
    pthread_barrier_init(&sc.start, NULL, 2);
    pthread_t completer;
    const char *result = NULL;
    if (pthread_create(&completer, NULL, sc_completer, NULL) != 0) {
        snprintf(failure, size, "cannot start the completer thread");
        result = failure;
        rounds = 0;
    }
    *out = (st_create_race){ 0 };
    for (unsigned r = 0; r < rounds && result == NULL; r++) {
        UNICODE_STRING name = RTL_CONSTANT_STRING(SC_DEVICE_NAME);
        OBJECT_ATTRIBUTES oa;
        InitializeObjectAttributes(&oa, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
        IO_STATUS_BLOCK iosb = { { STATUS_UNSUCCESSFUL }, 0xDEAD };
        HANDLE h = (HANDLE)1;
        sc.round = r;
        pthread_barrier_wait(&sc.start);
        NTSTATUS s = ZwCreateFile(&h, GENERIC_READ, &oa, &iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0, FILE_OPEN, 0, NULL, 0);
        /* Read before the completer is known to be done: a completion still writing is a race. */
        NTSTATUS written = iosb.Status;
        if (s != STATUS_SUCCESS && s != STATUS_PENDING)
            __atomic_store_n(&sc.irp, SC_NOT_SENT, __ATOMIC_RELEASE); /* else the completer would wait forever */
        pthread_barrier_wait(&sc.start);
        if (s == STATUS_SUCCESS && h != NULL && written == STATUS_SUCCESS && iosb.Information == 0) {
            out->opened++;
            ZwClose(h);
        } else if (s == STATUS_PENDING && h == NULL) {
            out->abandoned++;
            km_run_work_items(); /* the completion's close of the orphan file object */
            if (iosb.Status != STATUS_UNSUCCESSFUL) {
                snprintf(failure, size, "round %u: an abandoned create's IO_STATUS_BLOCK was written (0x%08X)", r,
                         (unsigned)iosb.Status);
                result = failure;
            }
        } else {
            snprintf(failure, size, "round %u: ZwCreateFile 0x%08X, handle %s, IO_STATUS_BLOCK 0x%08X", r,
                     (unsigned)s, h != NULL ? "set" : "NULL", (unsigned)written);
            result = failure;
        }
    }
    if (rounds != 0) {
        sc.round = sc.rounds = 0; /* the completer reads it after the barrier and ends */
        pthread_barrier_wait(&sc.start);
        pthread_join(completer, NULL);
    }
    pthread_barrier_destroy(&sc.start);
    if (result == NULL && km_io_pending_count() != 0)
        result = "create race: IRPs still pending at the end";
    if (result == NULL && (out->opened == 0 || out->abandoned == 0)) {
        snprintf(failure, size, "only one outcome reached (%llu opened, %llu abandoned): the race was not run",
                 out->opened, out->abandoned);
        result = failure;
    }
    return result;
}
