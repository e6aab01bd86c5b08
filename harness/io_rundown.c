/* io_rundown.c: the I/O manager's place in the model lifecycle (KM_MODULE order 10, registered in
 * io_objects.c): reset, process rundown (close every handle newest first, run work items, unload
 * drivers) and the teardown check IRP_PENDING_AT_TEARDOWN. */
#include "io_internal.h"

void io_reset(void)
{
    io_irp_free_all();
    io_work_reset();
    io_files_free_all();
    io_handles_reset();
    io_objects_free_all();
}

void io_rundown(void)
{
    for (;;) {
        io_lock();
        HANDLE h = io_handle_newest_locked();
        io_unlock();
        if (h == NULL)
            break;
        (void)ZwClose(h);
    }
    km_run_work_items();
    io_driver_rundown();
    km_run_work_items();
}

void io_census(km_census *census)
{
    census->handles += km_handle_count();
    census->irps += km_io_pending_count();
    io_files_census(census);
    io_devices_census(census);
}

/* An event handle's KEVENT belongs to its caller and may be freed once the handle is closed. */
void io_rerun(void) { io_events_forget(); }

void io_check(void)
{
    ULONG pending = km_io_pending_count();
    KM_VERIFY(IRP_PENDING_AT_TEARDOWN, pending == 0, "%u IRP(s) never completed", (unsigned)pending);
    io_reset();
}
