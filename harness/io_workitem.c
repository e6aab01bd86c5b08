/* io_workitem.c: IoAllocateWorkItem/IoQueueWorkItem/IoFreeWorkItem, ExQueueWorkItem and the FIFO
 * work queue. There are no worker threads: the queue runs at PASSIVE_LEVEL in km_run_work_items,
 * which the I/O manager calls at the end of every top-level Nt/Zw call (not nested ones), so
 * deferred work happens at a deterministic point. */
#include "io_internal.h"

#include <stdlib.h>

/* 'IoWk' in memory order: an IO_WORKITEM is driver pool, so one never freed is a POOL_LEAK. */
#define IO_WORKITEM_TAG 0x6B576F49u

struct _IO_WORKITEM {
    PDEVICE_OBJECT device;
    bool queued;
};

typedef enum { IO_WORK_IO, IO_WORK_EX, IO_WORK_INTERNAL } io_work_kind;

typedef struct io_work {
    struct io_work *next;
    io_work_kind kind;
    PIO_WORKITEM item;
    PIO_WORKITEM_ROUTINE io_routine;
    PWORK_QUEUE_ITEM ex_item;
    void (*fn)(void *);
    void *arg;
} io_work;

static io_work *io_work_head, **io_work_tail = &io_work_head;

static void io_work_push(io_work w)
{
    io_work *node = malloc(sizeof *node);
    if (node == NULL)
        abort();
    *node = w;
    node->next = NULL;
    io_lock();
    *io_work_tail = node;
    io_work_tail = &node->next;
    io_unlock();
}

void io_work_queue_internal(void (*fn)(void *), void *arg)
{
    io_work_push((io_work){ .kind = IO_WORK_INTERNAL, .fn = fn, .arg = arg });
}

/* IoAllocateWorkItem (DDI wdm/nf-wdm-ioallocateworkitem): NULL when the pool allocation fails. */
PIO_WORKITEM IoAllocateWorkItem(PDEVICE_OBJECT DeviceObject)
{
    km_require_irql_at_most(DISPATCH_LEVEL, "IoAllocateWorkItem");
    PIO_WORKITEM item = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof *item, IO_WORKITEM_TAG);
    if (item != NULL)
        *item = (struct _IO_WORKITEM){ DeviceObject, false };
    return item;
}

/* IoFreeWorkItem (DDI wdm/nf-wdm-iofreeworkitem): freeing a queued item is a use after free. */
VOID IoFreeWorkItem(PIO_WORKITEM IoWorkItem)
{
    km_require_irql_at_most(DISPATCH_LEVEL, "IoFreeWorkItem");
    KM_VERIFY(API_INVALID_PARAMETER, !IoWorkItem->queued, "IoFreeWorkItem of a queued work item");
    ExFreePoolWithTag(IoWorkItem, IO_WORKITEM_TAG);
}

/* IoQueueWorkItem (DDI wdm/nf-wdm-ioqueueworkitem): the device is referenced while queued. */
VOID IoQueueWorkItem(PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE WorkerRoutine, WORK_QUEUE_TYPE QueueType,
                     PVOID Context)
{
    km_require_irql_at_most(DISPATCH_LEVEL, "IoQueueWorkItem");
    KM_VERIFY(API_INVALID_PARAMETER, !IoWorkItem->queued, "IoQueueWorkItem of an item already queued");
    IoWorkItem->queued = true;
    io_lock();
    io_device_ref_locked(IoWorkItem->device);
    io_unlock();
    io_work_push((io_work){ .kind = IO_WORK_IO, .item = IoWorkItem, .io_routine = WorkerRoutine, .arg = Context });
}

/* ExQueueWorkItem (DDI wdm/nf-wdm-exqueueworkitem): the routine and parameter are read when the
 * item runs, as a worker thread would. */
VOID ExQueueWorkItem(PWORK_QUEUE_ITEM WorkItem, WORK_QUEUE_TYPE QueueType)
{
    km_require_irql_at_most(DISPATCH_LEVEL, "ExQueueWorkItem");
    io_work_push((io_work){ .kind = IO_WORK_EX, .ex_item = WorkItem });
}

void km_run_work_items(void)
{
    km_require_irql_at_most(PASSIVE_LEVEL, "km_run_work_items");
    io_enter();
    for (;;) {
        io_lock();
        io_work *w = io_work_head;
        if (w != NULL) {
            io_work_head = w->next;
            if (io_work_head == NULL)
                io_work_tail = &io_work_head;
        }
        io_unlock();
        if (w == NULL)
            break;
        KIRQL before = KeGetCurrentIrql();
        switch (w->kind) {
        case IO_WORK_IO: {
            PDEVICE_OBJECT dev = w->item->device;
            w->item->queued = false; /* the routine may free or requeue its item */
            w->io_routine(dev, w->arg);
            io_device_deref(dev);
            break;
        }
        case IO_WORK_EX: {
            PWORKER_THREAD_ROUTINE routine = w->ex_item->WorkerRoutine;
            routine(w->ex_item->Parameter);
            break;
        }
        case IO_WORK_INTERNAL:
            w->fn(w->arg);
            break;
        }
        free(w);
        KIRQL after = KeGetCurrentIrql();
        KM_VERIFY(IRQL_NOT_RESTORED, after == before, "work item: called at IRQL %u, returned at %u", before, after);
    }
    io_leave(false);
}

void io_work_reset(void)
{
    io_lock();
    io_work *w = io_work_head;
    io_work_head = NULL;
    io_work_tail = &io_work_head;
    io_unlock();
    while (w != NULL) {
        io_work *next = w->next;
        free(w);
        w = next;
    }
}

static void io_work_rundown(void) { km_run_work_items(); }

static void io_work_census(km_census *census)
{
    io_lock();
    for (io_work *w = io_work_head; w != NULL; w = w->next)
        census->work_items++;
    io_unlock();
}

KM_MODULE(workitems, 20, io_work_reset, io_work_rundown, NULL, io_work_census, NULL)
