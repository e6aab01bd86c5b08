/* interp_fixture.h: building small programs in C for the interpreter's tests (the text codec is
 * Python): P_ADD(ID, name, fields...) appends one operation with designated-initialiser fields. */
#ifndef INTERP_FIXTURE_H
#define INTERP_FIXTURE_H

#include <string.h>

#include "interp.h"
#include "ktest.h"

#define P_CUR 0xFF /* `current` mode / irql */
#define P_ADD(prog, ID, name, ...) \
    ((prog)->ops[(prog)->count++] = (op_op){ .code = OP_##ID, .u.name = { __VA_ARGS__ } })

static inline void p_reset(op_program *p)
{
    memset(p, 0, sizeof *p);
    p->version = OP_FORMAT_VERSION;
}

/* filter h0, pin h1, allocator h2 with the given framing (kernel mode, PASSIVE_LEVEL). */
static inline void p_session(op_program *p, uint32_t pool, uint32_t frames, uint32_t size, uint32_t align)
{
    P_ADD(p, OPEN_FILTER, open_filter, .out = 0);
    P_ADD(p, OPEN_PIN, open_pin, .filter = 0, .out = 1);
    P_ADD(p, CREATE_FRAMING, create_framing, .parent = 1, .options = 2, .pool = pool, .frames = frames,
          .frame_size = size, .alignment = align, .mode = P_CUR, .irql = P_CUR, .out = 2);
}

/* Runs the program (reference model on) and compares the whole trace. */
#define EXPECT_TRACE(prog, config, expected) \
    do { \
        op_trace t_ = { 0 }; \
        op_run((prog), (config), &t_); \
        if (t_.text == NULL || strcmp(t_.text, (expected)) != 0) \
            ktest_fail_at(__FILE__, __LINE__, "trace differs:\n--- got\n%s--- expected\n%s", \
                          t_.text ? t_.text : "(null)\n", (expected)); \
        op_trace_free(&t_); \
    } while (0)

#endif /* INTERP_FIXTURE_H */
