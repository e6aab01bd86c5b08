/* alloc_fixture.h: shared set-up for the allocator tests: loads the KS test filter, opens
 * filter -> pin -> allocator, and issues KS IOCTLs as a kernel or user-mode caller. */
#ifndef ALLOC_FIXTURE_H
#define ALLOC_FIXTURE_H

#include "ktest.h"
#include "ks_test_filter.h"

#include <string.h>

typedef struct {
    HANDLE filter, pin, alloc;
} alloc_fx;

static const KSALLOCATOR_FRAMING fx_default_framing __attribute__((unused)) = {
    { KSALLOCATOR_OPTIONF_SYSTEM_MEMORY }, NonPagedPool, 4, 256, { FILE_64_BYTE_ALIGNMENT }, 0
};

static inline NTSTATUS fx_open_relative(HANDLE root, const WCHAR *name, USHORT bytes, HANDLE *out)
{
    UNICODE_STRING us = { bytes, bytes, (PWSTR)name };
    OBJECT_ATTRIBUTES oa;
    IO_STATUS_BLOCK iosb;
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, root, NULL);
    return ZwCreateFile(out, GENERIC_READ, &oa, &iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0, FILE_OPEN, 0, NULL, 0);
}

/* Loads the driver and opens filter and pin (no allocator yet). */
static inline void fx_open_pin(alloc_fx *fx, const kstf_allocator_config *config)
{
    static const kstf_allocator_config none;
    PDRIVER_OBJECT driver;
    memset(fx, 0, sizeof *fx);
    kstf_configure_allocator(config != NULL ? config : &none);
    ASSERT_STATUS(km_driver_load(L"\\Driver\\KsTestFilter", kstf_driver_entry, &driver), STATUS_SUCCESS);
    static const WCHAR filter_name[] = KSTF_DEVICE_NAME L"\\" KSSTRING_Filter;
    ASSERT_STATUS(fx_open_relative(NULL, filter_name, sizeof filter_name - sizeof(WCHAR), &fx->filter), STATUS_SUCCESS);
    static const WCHAR pin_name[] = KSSTRING_Pin;
    ASSERT_STATUS(fx_open_relative(fx->filter, pin_name, sizeof pin_name - sizeof(WCHAR), &fx->pin), STATUS_SUCCESS);
}

static inline void fx_open(alloc_fx *fx, const KSALLOCATOR_FRAMING *framing, const kstf_allocator_config *config)
{
    fx_open_pin(fx, config);
    KSALLOCATOR_FRAMING f = framing != NULL ? *framing : fx_default_framing;
    ASSERT_STATUS(KsCreateAllocator(fx->pin, &f, &fx->alloc), STATUS_SUCCESS);
    ASSERT_TRUE(fx->alloc != NULL);
}

/* An IOCTL from the kernel (Zw) or, with user = TRUE, from user mode (Nt with previous mode UserMode). */
static inline NTSTATUS fx_ioctl(HANDLE h, ULONG code, const void *in, ULONG in_len, void *out, ULONG out_len,
                                ULONG_PTR *information, BOOLEAN user)
{
    IO_STATUS_BLOCK iosb = { { STATUS_UNSUCCESSFUL }, 0xDEAD };
    NTSTATUS status;
    if (user) {
        km_set_previous_mode(UserMode);
        status = NtDeviceIoControlFile(h, NULL, NULL, NULL, &iosb, code, (PVOID)in, in_len, out, out_len);
        km_set_previous_mode(KernelMode);
    } else {
        status = ZwDeviceIoControlFile(h, NULL, NULL, NULL, &iosb, code, (PVOID)in, in_len, out, out_len);
    }
    if (information != NULL)
        *information = status == STATUS_PENDING ? 0 : iosb.Information;
    return status;
}

static inline NTSTATUS fx_property(HANDLE h, const GUID *set, ULONG id, ULONG flags, void *out, ULONG out_len,
                                   ULONG_PTR *information, BOOLEAN user)
{
    KSPROPERTY p;
    memset(&p, 0, sizeof p);
    p.Set = *set;
    p.Id = id;
    p.Flags = flags;
    return fx_ioctl(h, IOCTL_KS_PROPERTY, &p, sizeof p, out, out_len, information, user);
}

static inline NTSTATUS fx_method(HANDLE h, ULONG id, ULONG flags, void *data, ULONG data_len,
                                 ULONG_PTR *information, BOOLEAN user)
{
    KSMETHOD m;
    memset(&m, 0, sizeof m);
    m.Set = KSMETHODSETID_StreamAllocator;
    m.Id = id;
    m.Flags = flags;
    return fx_ioctl(h, IOCTL_KS_METHOD, &m, sizeof m, data, data_len, information, user);
}

static inline NTSTATUS fx_event_enable(HANDLE h, ULONG id, ULONG flags, void *data, ULONG data_len,
                                       ULONG_PTR *information, BOOLEAN user)
{
    KSEVENT e;
    memset(&e, 0, sizeof e);
    e.Set = KSEVENTSETID_StreamAllocator;
    e.Id = id;
    e.Flags = flags;
    return fx_ioctl(h, IOCTL_KS_ENABLE_EVENT, &e, sizeof e, data, data_len, information, user);
}

/* A KSEVENTDATA that signals `ev` (a notification event, initialised here, not signalled). KsDisableEvent
 * identifies the event by this buffer's address (as on Windows with METHOD_NEITHER), so it must
 * outlive the enable. */
static inline void fx_event_object_data(KSEVENTDATA *data, KEVENT *ev)
{
    KeInitializeEvent(ev, NotificationEvent, FALSE);
    memset(data, 0, sizeof *data);
    data->NotificationType = KSEVENTF_EVENT_OBJECT;
    data->EventObject.Event = ev;
}

/* FREEFRAME enabled by a kernel caller (KSEVENT_TYPE_ENABLE), signalling `ev`. */
static inline NTSTATUS fx_enable_freeframe(HANDLE h, KSEVENTDATA *data, KEVENT *ev)
{
    fx_event_object_data(data, ev);
    return fx_event_enable(h, KSEVENT_STREAMALLOCATOR_FREEFRAME, KSEVENT_TYPE_ENABLE, data, sizeof *data, NULL, FALSE);
}

static inline NTSTATUS fx_alloc(HANDLE h, PVOID *frame)
{
    ULONG_PTR info;
    *frame = NULL;
    NTSTATUS s = fx_method(h, KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_TYPE_SEND, frame, sizeof *frame, &info, FALSE);
    if (s == STATUS_SUCCESS && info != sizeof(PVOID))
        ktest_fail_at(__FILE__, __LINE__, "ALLOC Information %lu", (unsigned long)info);
    return s;
}

/* An ALLOC that may pend: *frame and *iosb are written when it completes, so they must outlive it
 * (the KSMETHOD itself is copied by the I/O manager). */
static inline NTSTATUS fx_alloc_async(HANDLE h, PVOID *frame, PIO_STATUS_BLOCK iosb)
{
    KSMETHOD m;
    memset(&m, 0, sizeof m);
    m.Set = KSMETHODSETID_StreamAllocator;
    m.Id = KSMETHOD_STREAMALLOCATOR_ALLOC;
    m.Flags = KSMETHOD_TYPE_SEND;
    return ZwDeviceIoControlFile(h, NULL, NULL, NULL, iosb, IOCTL_KS_METHOD, &m, sizeof m, frame, sizeof *frame);
}

static inline NTSTATUS fx_free(HANDLE h, PVOID frame)
{
    return fx_method(h, KSMETHOD_STREAMALLOCATOR_FREE, KSMETHOD_TYPE_SEND, &frame, sizeof frame, NULL, FALSE);
}

static inline ULONG fx_allocated_frames(HANDLE h)
{
    KSSTREAMALLOCATOR_STATUS st;
    memset(&st, 0xEE, sizeof st);
    ULONG_PTR info = 0;
    NTSTATUS s = fx_property(h, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_STATUS,
                             KSPROPERTY_TYPE_GET, &st, sizeof st, &info, FALSE);
    if (s != STATUS_SUCCESS || info != sizeof st)
        ktest_fail_at(__FILE__, __LINE__, "STATUS query failed: 0x%08X", (unsigned)s);
    return st.AllocatedFrames;
}

static inline void fx_function_table(HANDLE h, KSSTREAMALLOCATOR_FUNCTIONTABLE *table)
{
    ULONG_PTR info = 0;
    ASSERT_STATUS(fx_property(h, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE,
                              KSPROPERTY_TYPE_GET, table, sizeof *table, &info, FALSE),
                  STATUS_SUCCESS);
    ASSERT_TRUE(info == sizeof *table);
}

/* What a direct-call client holds: the allocator's function table and its file object. */
static inline PFILE_OBJECT fx_direct(HANDLE h, KSSTREAMALLOCATOR_FUNCTIONTABLE *table)
{
    fx_function_table(h, table);
    return km_handle_to_file(h);
}

static inline void fx_close_all(alloc_fx *fx)
{
    if (fx->alloc != NULL)
        EXPECT_STATUS(ZwClose(fx->alloc), STATUS_SUCCESS);
    EXPECT_STATUS(ZwClose(fx->pin), STATUS_SUCCESS);
    EXPECT_STATUS(ZwClose(fx->filter), STATUS_SUCCESS);
    fx->alloc = fx->pin = fx->filter = NULL;
}

#endif /* ALLOC_FIXTURE_H */
