/* test_io_workitem.c: work items run FIFO at PASSIVE_LEVEL at the end of top-level calls only. */
#include "test_drivers.h"

static char order[16];
static KIRQL seen_irql = 0xFF;

static void note(char c)
{
    size_t n = strlen(order);
    order[n] = c;
}

static VOID io_routine(PDEVICE_OBJECT dev, PVOID ctx)
{
    seen_irql = KeGetCurrentIrql();
    note(((const char *)ctx)[0]);
}

static VOID ex_routine(PVOID ctx) { note(((const char *)ctx)[0]); }

KTEST(io, work_items_run_fifo_at_passive)
{
    td_load();
    PIO_WORKITEM a = IoAllocateWorkItem(td_device), b = IoAllocateWorkItem(td_device);
    ASSERT_TRUE(a != NULL && b != NULL);
    WORK_QUEUE_ITEM ex;
    ExInitializeWorkItem(&ex, ex_routine, (PVOID) "2");
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    IoQueueWorkItem(a, io_routine, DelayedWorkQueue, (PVOID) "1");
    ExQueueWorkItem(&ex, DelayedWorkQueue);
    IoQueueWorkItem(b, io_routine, DelayedWorkQueue, (PVOID) "3");
    KeLowerIrql(old);
    EXPECT_EQ(strlen(order), 0);
    km_run_work_items();
    EXPECT_TRUE(strcmp(order, "123") == 0);
    EXPECT_EQ(seen_irql, PASSIVE_LEVEL);
    IoFreeWorkItem(a);
    IoFreeWorkItem(b);
}

static PIO_WORKITEM queued_from_dispatch;
static NTSTATUS queue_in_ioctl(PDEVICE_OBJECT dev, PIRP irp)
{
    queued_from_dispatch = IoAllocateWorkItem(dev);
    IoQueueWorkItem(queued_from_dispatch, io_routine, DelayedWorkQueue, (PVOID) "w");
    /* A nested top-level call does not run the queue. */
    HANDLE inner;
    EXPECT_STATUS(td_open(NULL, TD_DEVICE_NAME, &inner), STATUS_SUCCESS);
    EXPECT_STATUS(ZwClose(inner), STATUS_SUCCESS);
    EXPECT_EQ(strlen(order), 0);
    return td_complete(irp, STATUS_SUCCESS, 0);
}

KTEST(io, work_items_run_at_end_of_top_level_call_not_nested)
{
    td_load();
    td_on[IRP_MJ_DEVICE_CONTROL] = queue_in_ioctl;
    HANDLE h;
    ASSERT_STATUS(td_open(NULL, TD_DEVICE_NAME, &h), STATUS_SUCCESS);
    IO_STATUS_BLOCK iosb;
    EXPECT_STATUS(td_ioctl(h, TD_IOCTL(1, METHOD_NEITHER), NULL, 0, NULL, 0, &iosb), STATUS_SUCCESS);
    EXPECT_TRUE(strcmp(order, "w") == 0);
    IoFreeWorkItem(queued_from_dispatch);
    ZwClose(h);
}

KTEST_NEGATIVE(io, IoAllocateWorkItem_never_freed_is_a_pool_leak, POOL_LEAK)
{
    td_load();
    (void)IoAllocateWorkItem(td_device);
}

KTEST_NEGATIVE(io, IoQueueWorkItem_above_dispatch, IRQL_TOO_HIGH)
{
    td_load();
    PIO_WORKITEM w = IoAllocateWorkItem(td_device);
    KIRQL old;
    KeRaiseIrql(HIGH_LEVEL, &old);
    IoQueueWorkItem(w, io_routine, DelayedWorkQueue, NULL);
}

static VOID leaves_irql_raised(PVOID ctx)
{
    KIRQL old;
    KeRaiseIrql(APC_LEVEL, &old);
}

KTEST_NEGATIVE(io, work_item_returning_at_raised_irql, IRQL_NOT_RESTORED)
{
    static WORK_QUEUE_ITEM ex;
    ExInitializeWorkItem(&ex, leaves_irql_raised, NULL);
    ExQueueWorkItem(&ex, DelayedWorkQueue);
    km_run_work_items();
}
