/* test_alloc_automation.c: KsPropertyHandler / KsMethodHandler answers on an allocator handle
 * (decisions Q8, Q14): unknown set and id, flags, buffer sizes, size queries, support queries, a
 * failed request copy. */
#include "alloc_fixture.h"

KTEST(alloc_automation, KsPropertyHandler_unknown_set_and_id)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    UCHAR out[64];
    ULONG_PTR info = 1;
    EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_Connection, 0, KSPROPERTY_TYPE_GET, out, sizeof out, &info, FALSE),
                  STATUS_PROPSET_NOT_FOUND);
    EXPECT_EQ(info, 0);
    GUID off_by_one = KSPROPSETID_StreamAllocator;
    off_by_one.Data4[7] ^= 1;
    EXPECT_STATUS(fx_property(fx.alloc, &off_by_one, 1, KSPROPERTY_TYPE_GET, out, sizeof out, &info, FALSE),
                  STATUS_PROPSET_NOT_FOUND);
    static const ULONG ids[] = { 2, 3, 0xFFFFFFFF };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, ids[i], KSPROPERTY_TYPE_GET, out,
                                  sizeof out, &info, FALSE),
                      STATUS_NOT_FOUND);
    fx_close_all(&fx);
}

KTEST(alloc_automation, KsPropertyHandler_set_on_get_only_and_bad_flags)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    KSSTREAMALLOCATOR_STATUS st;
    ULONG_PTR info = 1;
    EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_STATUS,
                              KSPROPERTY_TYPE_SET, &st, sizeof st, &info, FALSE),
                  STATUS_INVALID_DEVICE_REQUEST);
    static const ULONG bad[] = { 0, KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_SET, KSPROPERTY_TYPE_RELATIONS,
                                 KSPROPERTY_TYPE_SERIALIZESET, 0x80000000, KSPROPERTY_TYPE_BASICSUPPORT | 1 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_STATUS, bad[i],
                                  &st, sizeof st, &info, FALSE),
                      STATUS_INVALID_PARAMETER);
    /* TOPOLOGY is ignored */
    EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_STATUS,
                              KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_TOPOLOGY, &st, sizeof st, &info, FALSE),
                  STATUS_SUCCESS);
    fx_close_all(&fx);
}

KTEST(alloc_automation, KsPropertyHandler_input_sizes)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    KSPROPERTY p;
    memset(&p, 0, sizeof p);
    p.Set = KSPROPSETID_StreamAllocator;
    p.Id = KSPROPERTY_STREAMALLOCATOR_STATUS;
    p.Flags = KSPROPERTY_TYPE_GET;
    KSSTREAMALLOCATOR_STATUS st;
    ULONG_PTR info = 1;
    static const ULONG lens[] = { 0, 1, 16, 23 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_PROPERTY, &p, lens[i], &st, sizeof st, &info, FALSE),
                      STATUS_INVALID_BUFFER_SIZE);
    EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_PROPERTY, NULL, 24, &st, sizeof st, &info, FALSE),
                  STATUS_INVALID_PARAMETER); /* a length with no buffer (decisions Q14) */
    UCHAR big[40];
    memset(big, 0, sizeof big);
    memcpy(big, &p, sizeof p);
    EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_PROPERTY, big, sizeof big, &st, sizeof st, &info, FALSE), STATUS_SUCCESS);
    EXPECT_EQ(info, sizeof st);
    fx_close_all(&fx);
}

KTEST(alloc_automation, KsPropertyHandler_output_sizes)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    UCHAR out[40];
    ULONG_PTR info = 1;
    EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_STATUS,
                              KSPROPERTY_TYPE_GET, NULL, 0, &info, FALSE),
                  STATUS_BUFFER_OVERFLOW);
    EXPECT_EQ(info, sizeof(KSSTREAMALLOCATOR_STATUS));
    static const ULONG lens[] = { 1, 4, 8, 16, 31 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_STATUS,
                                  KSPROPERTY_TYPE_GET, out, lens[i], &info, FALSE),
                      STATUS_BUFFER_TOO_SMALL);
        EXPECT_EQ(info, 0);
    }
    EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_STATUS,
                              KSPROPERTY_TYPE_GET, out, 40, &info, FALSE),
                  STATUS_SUCCESS);
    EXPECT_EQ(info, 32);
    EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE,
                              KSPROPERTY_TYPE_GET, out, 15, &info, FALSE),
                  STATUS_BUFFER_TOO_SMALL);
    fx_close_all(&fx);
}

/* Decisions Q14: a GET with no output is the size query; for FUNCTIONTABLE that is
 * STATUS_BUFFER_OVERFLOW with Information 16, the table's size, and the handler is not reached. */
KTEST(alloc_automation, KsPropertyHandler_function_table_size_query)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    ULONG_PTR info = 1;
    EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE,
                              KSPROPERTY_TYPE_GET, NULL, 0, &info, FALSE),
                  STATUS_BUFFER_OVERFLOW);
    EXPECT_EQ(info, 16);
    EXPECT_EQ(info, sizeof(KSSTREAMALLOCATOR_FUNCTIONTABLE));
    fx_close_all(&fx);
}

KTEST(alloc_automation, KsPropertyHandler_support_queries)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    UCHAR out[64];
    ULONG_PTR info = 1;
    EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_STATUS,
                              KSPROPERTY_TYPE_SETSUPPORT, NULL, 0, &info, FALSE),
                  STATUS_SUCCESS);
    EXPECT_EQ(info, 0);
    EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_STATUS,
                              KSPROPERTY_TYPE_BASICSUPPORT, NULL, 0, &info, FALSE),
                  STATUS_BUFFER_OVERFLOW);
    EXPECT_EQ(info, sizeof(KSPROPERTY_DESCRIPTION));
    EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_STATUS,
                              KSPROPERTY_TYPE_BASICSUPPORT, out, 3, &info, FALSE),
                  STATUS_BUFFER_TOO_SMALL);
    ULONG access = 0;
    EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_STATUS,
                              KSPROPERTY_TYPE_BASICSUPPORT, &access, sizeof access, &info, FALSE),
                  STATUS_SUCCESS);
    EXPECT_EQ(info, 4);
    EXPECT_EQ(access, KSPROPERTY_TYPE_GET);
    KSPROPERTY_DESCRIPTION d;
    memset(&d, 0xEE, sizeof d);
    EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE,
                              KSPROPERTY_TYPE_BASICSUPPORT, &d, sizeof d, &info, FALSE),
                  STATUS_SUCCESS);
    EXPECT_EQ(info, sizeof d);
    EXPECT_EQ(d.AccessFlags, KSPROPERTY_TYPE_GET);
    EXPECT_EQ(d.DescriptionSize, sizeof d);
    EXPECT_EQ(d.MembersListCount, 0);
    EXPECT_EQ(d.Reserved, 0);
    EXPECT_TRUE(IsEqualGUID(&d.PropTypeSet.Set, &KS_TYPE_DONT_CARE) && d.PropTypeSet.Id == 0 &&
                d.PropTypeSet.Flags == 0);
    fx_close_all(&fx);
}

KTEST(alloc_automation, status_property_user_mode_allowed_function_table_refused)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    KSSTREAMALLOCATOR_STATUS st;
    ULONG_PTR info = 0;
    EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_STATUS,
                              KSPROPERTY_TYPE_GET, &st, sizeof st, &info, TRUE),
                  STATUS_SUCCESS);
    EXPECT_EQ(info, sizeof st);
    KSSTREAMALLOCATOR_FUNCTIONTABLE t;
    memset(&t, 0, sizeof t);
    EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE,
                              KSPROPERTY_TYPE_GET, &t, sizeof t, &info, TRUE),
                  STATUS_INVALID_DEVICE_REQUEST);
    EXPECT_EQ(info, 0);
    EXPECT_TRUE(t.AllocateFrame == NULL && t.FreeFrame == NULL);
    fx_close_all(&fx);
}

KTEST(alloc_automation, KsMethodHandler_flags)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    PVOID frame = NULL;
    ULONG_PTR info = 0;
    /* The MS samples' form: the item's own type (WRITE for ALLOC, READ for FREE) is accepted. */
    ASSERT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_TYPE_WRITE, &frame, sizeof frame, &info,
                            FALSE),
                  STATUS_SUCCESS);
    EXPECT_EQ(info, sizeof frame);
    EXPECT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_FREE, KSMETHOD_TYPE_READ, &frame, sizeof frame, &info,
                            FALSE),
                  STATUS_SUCCESS);
    static const ULONG bad[] = { 0, KSMETHOD_TYPE_MODIFY, KSMETHOD_TYPE_SOURCE, 0x400, 0x80000000 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_ALLOC, bad[i], &frame, sizeof frame, &info, FALSE),
                      STATUS_INVALID_PARAMETER);
    EXPECT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_TYPE_SETSUPPORT, NULL, 0, &info, FALSE),
                  STATUS_SUCCESS);
    ULONG type = 0;
    EXPECT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_TYPE_BASICSUPPORT, &type, sizeof type,
                            &info, FALSE),
                  STATUS_SUCCESS);
    EXPECT_EQ(type, KSMETHOD_TYPE_WRITE);
    EXPECT_EQ(info, 4);
    EXPECT_STATUS(fx_method(fx.alloc, 2, KSMETHOD_TYPE_SEND, &frame, sizeof frame, &info, FALSE), STATUS_NOT_FOUND);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    fx_close_all(&fx);
}

KTEST(alloc_automation, KsMethodHandler_data_sizes)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    UCHAR out[8];
    ULONG_PTR info = 1;
    EXPECT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_TYPE_SEND, NULL, 0, &info, FALSE),
                  STATUS_BUFFER_OVERFLOW);
    EXPECT_EQ(info, sizeof(PVOID));
    EXPECT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_TYPE_SEND, out, 7, &info, FALSE),
                  STATUS_BUFFER_TOO_SMALL);
    EXPECT_EQ(info, 0);
    EXPECT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_FREE, KSMETHOD_TYPE_SEND, out, 4, &info, FALSE),
                  STATUS_BUFFER_TOO_SMALL);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0); /* nothing was handed out by the refused requests */
    KSMETHOD m;
    memset(&m, 0, sizeof m);
    m.Set = KSMETHODSETID_StreamAllocator;
    m.Flags = KSMETHOD_TYPE_SEND;
    EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_METHOD, &m, 23, out, sizeof out, &info, FALSE),
                  STATUS_INVALID_BUFFER_SIZE);
    m.Set = KSPROPSETID_StreamAllocator;
    EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_METHOD, &m, sizeof m, out, sizeof out, &info, FALSE),
                  STATUS_PROPSET_NOT_FOUND);
    fx_close_all(&fx);
}

/* Decisions Q14: a method's BASICSUPPORT answers a ULONG: no output is the size query
 * (STATUS_BUFFER_OVERFLOW, Information 4), 1-3 bytes are STATUS_BUFFER_TOO_SMALL, Information 0. */
KTEST(alloc_automation, KsMethodHandler_basic_support_sizes)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    static const ULONG ids[] = { KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_STREAMALLOCATOR_FREE };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        ULONG_PTR info = 1;
        EXPECT_STATUS(fx_method(fx.alloc, ids[i], KSMETHOD_TYPE_BASICSUPPORT, NULL, 0, &info, FALSE),
                      STATUS_BUFFER_OVERFLOW);
        EXPECT_EQ(info, 4);
        for (ULONG len = 1; len <= 3; len++) {
            UCHAR out[4] = { 0xEE, 0xEE, 0xEE, 0xEE };
            info = 1;
            EXPECT_STATUS(fx_method(fx.alloc, ids[i], KSMETHOD_TYPE_BASICSUPPORT, out, len, &info, FALSE),
                          STATUS_BUFFER_TOO_SMALL);
            EXPECT_EQ(info, 0);
            EXPECT_EQ(out[0], 0xEE);
        }
    }
    ULONG type = 0;
    ULONG_PTR info = 1;
    EXPECT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_FREE, KSMETHOD_TYPE_BASICSUPPORT, &type, sizeof type,
                            &info, FALSE),
                  STATUS_SUCCESS);
    EXPECT_EQ(info, 4);
    EXPECT_EQ(type, KSMETHOD_TYPE_READ);
    fx_close_all(&fx);
}

/* Decisions Q8: the KSMETHOD_TYPE_TOPOLOGY bit in the request Flags is ignored: with it, SEND, the
 * item's own type and the support queries are accepted as without it, and refused Flags stay refused. */
KTEST(alloc_automation, KsMethodHandler_topology_flag_ignored)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    PVOID frame = NULL;
    ULONG_PTR info = 0;
    ASSERT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_TYPE_SEND | KSMETHOD_TYPE_TOPOLOGY,
                            &frame, sizeof frame, &info, FALSE),
                  STATUS_SUCCESS);
    EXPECT_EQ(info, sizeof frame);
    EXPECT_TRUE(frame != NULL);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 1);
    EXPECT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_FREE, KSMETHOD_TYPE_READ | KSMETHOD_TYPE_TOPOLOGY,
                            &frame, sizeof frame, &info, FALSE),
                  STATUS_SUCCESS);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    ASSERT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_TYPE_WRITE | KSMETHOD_TYPE_TOPOLOGY,
                            &frame, sizeof frame, &info, FALSE),
                  STATUS_SUCCESS);
    EXPECT_STATUS(fx_free(fx.alloc, frame), STATUS_SUCCESS);
    info = 1;
    EXPECT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_TYPE_SETSUPPORT | KSMETHOD_TYPE_TOPOLOGY,
                            NULL, 0, &info, FALSE),
                  STATUS_SUCCESS);
    EXPECT_EQ(info, 0);
    ULONG type = 0;
    EXPECT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_ALLOC,
                            KSMETHOD_TYPE_BASICSUPPORT | KSMETHOD_TYPE_TOPOLOGY, &type, sizeof type, &info, FALSE),
                  STATUS_SUCCESS);
    EXPECT_EQ(info, 4);
    EXPECT_EQ(type, KSMETHOD_TYPE_WRITE);
    static const ULONG bad[] = { KSMETHOD_TYPE_TOPOLOGY, KSMETHOD_TYPE_MODIFY | KSMETHOD_TYPE_TOPOLOGY };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_ALLOC, bad[i], &frame, sizeof frame, &info, FALSE),
                      STATUS_INVALID_PARAMETER);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    fx_close_all(&fx);
}

/* Decisions Q14 (the same rules for methods): a NULL input buffer with a length that would hold a
 * KSMETHOD is STATUS_INVALID_PARAMETER, Information 0; a NULL one with no length is too short. */
KTEST(alloc_automation, KsMethodHandler_null_input_buffer)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    PVOID frame = NULL;
    ULONG_PTR info = 1;
    EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_METHOD, NULL, sizeof(KSMETHOD), &frame, sizeof frame, &info, FALSE),
                  STATUS_INVALID_PARAMETER);
    EXPECT_EQ(info, 0);
    EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_METHOD, NULL, 64, &frame, sizeof frame, &info, FALSE),
                  STATUS_INVALID_PARAMETER);
    EXPECT_STATUS(fx_ioctl(fx.alloc, IOCTL_KS_METHOD, NULL, 0, &frame, sizeof frame, &info, FALSE),
                  STATUS_INVALID_BUFFER_SIZE);
    EXPECT_TRUE(frame == NULL);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    fx_close_all(&fx);
}

/* Decisions Q8: user-mode ALLOC and FREE are refused by the method handler, after KsMethodHandler's
 * size checks, so a user-mode size query gets the standard answer: no output is
 * STATUS_BUFFER_OVERFLOW, Information 8 (a pointer); 4 bytes are STATUS_BUFFER_TOO_SMALL. */
KTEST(alloc_automation, user_mode_alloc_free_size_queries_answered)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    static const ULONG ids[] = { KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_STREAMALLOCATOR_FREE };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        ULONG_PTR info = 1;
        EXPECT_STATUS(fx_method(fx.alloc, ids[i], KSMETHOD_TYPE_SEND, NULL, 0, &info, TRUE), STATUS_BUFFER_OVERFLOW);
        EXPECT_EQ(info, 8);
        EXPECT_EQ(info, sizeof(PVOID));
        UCHAR out[8];
        memset(out, 0xEE, sizeof out);
        info = 1;
        EXPECT_STATUS(fx_method(fx.alloc, ids[i], KSMETHOD_TYPE_SEND, out, 4, &info, TRUE), STATUS_BUFFER_TOO_SMALL);
        EXPECT_EQ(info, 0);
        /* A full-size request reaches the handler, which refuses it. */
        EXPECT_STATUS(fx_method(fx.alloc, ids[i], KSMETHOD_TYPE_SEND, out, sizeof out, &info, TRUE),
                      STATUS_INVALID_DEVICE_REQUEST);
        EXPECT_EQ(info, 0);
        static const UCHAR untouched[8] = { 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE };
        EXPECT_MEM_EQ(out, untouched, sizeof out);
    }
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    fx_close_all(&fx);
}

KTEST(alloc_automation, pin_framing_ex_property_validates)
{
    alloc_fx fx;
    fx_open_pin(&fx, NULL);
    KSALLOCATOR_FRAMING_EX fx_ex;
    ULONG_PTR info = 0;
    ASSERT_STATUS(fx_property(fx.pin, &KSPROPSETID_Connection, KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX,
                              KSPROPERTY_TYPE_GET, &fx_ex, sizeof fx_ex, &info, FALSE),
                  STATUS_SUCCESS);
    EXPECT_EQ(info, sizeof fx_ex);
    EXPECT_MEM_EQ(&fx_ex, kstf_pin_framing_ex(), sizeof fx_ex);
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&fx_ex, (ULONG)info, kstf_pin_framing_ex()), STATUS_SUCCESS);
    KS_FRAMING_ITEM *item = fx_ex.FramingItem;
    item->FileAlignment = FILE_WORD_ALIGNMENT; /* weaker than the pin's */
    EXPECT_STATUS(KsValidateAllocatorFramingEx(&fx_ex, (ULONG)info, kstf_pin_framing_ex()), STATUS_NOT_SUPPORTED);
    fx_close_all(&fx);
}

KTEST(alloc_automation, null_output_buffer_with_a_length_is_refused)
{
    /* METHOD_NEITHER passes the caller's NULL through; a length that claims data must not reach a
     * handler (found by the session seed ioctls.ops: the STATUS handler wrote through NULL). */
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    ULONG_PTR info = 1;
    EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_STATUS,
                              KSPROPERTY_TYPE_GET, NULL, sizeof(KSSTREAMALLOCATOR_STATUS), &info, FALSE),
                  STATUS_INVALID_PARAMETER);
    EXPECT_EQ(info, 0);
    EXPECT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_TYPE_SEND, NULL, sizeof(PVOID),
                            &info, FALSE),
                  STATUS_INVALID_PARAMETER);
    EXPECT_STATUS(fx_event_enable(fx.alloc, KSEVENT_STREAMALLOCATOR_FREEFRAME, KSEVENT_TYPE_ENABLE, NULL,
                                  sizeof(KSEVENTDATA), &info, FALSE),
                  STATUS_INVALID_PARAMETER);
    /* A zero length with NULL is still the size query. */
    EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_STATUS,
                              KSPROPERTY_TYPE_GET, NULL, 0, &info, FALSE),
                  STATUS_BUFFER_OVERFLOW);
    EXPECT_EQ(info, sizeof(KSSTREAMALLOCATOR_STATUS));
    fx_close_all(&fx);
}

/* Decisions Q14: the request is copied once into pool ('KsPr'); when that fails, the property,
 * method and event requests all answer STATUS_INSUFFICIENT_RESOURCES, Information 0, and nothing
 * reaches a handler (no output written, no frame handed out, no event enabled). */
KTEST(alloc_automation, request_copy_pool_failure_insufficient_resources)
{
    alloc_fx fx;
    fx_open(&fx, NULL, NULL);
    km_fault_plan plan = { .site = "KsPr" };
    km_fault_arm(&plan);
    KSSTREAMALLOCATOR_STATUS st, untouched;
    memset(&st, 0xEE, sizeof st);
    memset(&untouched, 0xEE, sizeof untouched);
    ULONG_PTR info = 1;
    EXPECT_STATUS(fx_property(fx.alloc, &KSPROPSETID_StreamAllocator, KSPROPERTY_STREAMALLOCATOR_STATUS,
                              KSPROPERTY_TYPE_GET, &st, sizeof st, &info, FALSE),
                  STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_EQ(info, 0);
    EXPECT_MEM_EQ(&st, &untouched, sizeof st);
    PVOID frame = (PVOID)1;
    info = 1;
    EXPECT_STATUS(fx_method(fx.alloc, KSMETHOD_STREAMALLOCATOR_ALLOC, KSMETHOD_TYPE_SEND, &frame, sizeof frame, &info,
                            FALSE),
                  STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_EQ(info, 0);
    EXPECT_TRUE(frame == (PVOID)1);
    KEVENT ev;
    KSEVENTDATA data;
    fx_event_object_data(&data, &ev);
    info = 1;
    EXPECT_STATUS(fx_event_enable(fx.alloc, KSEVENT_STREAMALLOCATOR_FREEFRAME, KSEVENT_TYPE_ENABLE, &data,
                                  sizeof data, &info, FALSE),
                  STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_EQ(info, 0);
    EXPECT_EQ(km_fault_injected(), 3);
    km_fault_disarm();
    EXPECT_EQ(km_pool_outstanding_for_tag(0x7250734B /* KsPr */), 0);
    EXPECT_EQ(km_pool_outstanding_for_tag(0x7645734B /* KsEv */), 0);
    EXPECT_EQ(fx_allocated_frames(fx.alloc), 0);
    ASSERT_STATUS(fx_alloc(fx.alloc, &frame), STATUS_SUCCESS);
    EXPECT_STATUS(fx_free(fx.alloc, frame), STATUS_SUCCESS);
    EXPECT_EQ(KeReadStateEvent(&ev), 0); /* the refused ENABLE left no event */
    fx_close_all(&fx);
}
