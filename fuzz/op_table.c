/* op_table.c: the operation table of fuzz/ops.def as C data (operations, fields, value classes, named
 * constants and GUIDs), and compile-time checks that every WDK name in ops.def has its include/ value. */
#include <ntddk.h>
#include <ks.h>

#include "op_program.h"

/* A WDK name whose value in ops.def differs from include/ is a build error, not a silent mismatch. */
#define OP_CONST(cls, name, value) \
    _Static_assert((long long)(name) == (long long)(value), "ops.def: " #name " differs from include/");
#include "op_def_include.h"

/* Opcodes are bytes, and the decoder's table below is indexed by them. */
#define OP_BEGIN(opcode, ID, name) _Static_assert((opcode) >= 0 && (opcode) <= 0xFF, "ops.def: opcode of " #name);
#include "op_def_include.h"

#define OP_DFLT_REQ true, 0
#define OP_DFLT_D(value) false, (value)

#define OP_BEGIN(opcode, ID, name) static const op_field_info op_fields_##name[] = {
#define OP_FIELD(op, field, type, cls, dflt) \
    { #field, OP_T_##type, OP_C_##cls, OP_DFLT_##dflt, offsetof(op_args_##op, field) },
#define OP_END(name) };
#include "op_def_include.h"

enum {
#define OP_BEGIN(opcode, ID, name) OP_IDX_##ID,
#include "op_def_include.h"
    OP_IDX_COUNT
};

static const op_info op_infos[] = {
#define OP_BEGIN(opcode, ID, name) \
    { OP_##ID, #name, sizeof op_fields_##name / sizeof op_fields_##name[0], op_fields_##name },
#include "op_def_include.h"
};

/* opcode -> index + 1 (0 = unknown). A duplicate opcode is a build error (-Winitializer-overrides). */
static const uint8_t op_index_of[256] = {
#define OP_BEGIN(opcode, ID, name) [opcode] = OP_IDX_##ID + 1,
#include "op_def_include.h"
};

static const op_class_kind op_class_kinds[] = {
#define OP_CLASS(cls, kind) [OP_C_##cls] = OP_K_##kind,
#include "op_def_include.h"
};

static const op_constant op_constants[] = {
#define OP_CONST(cls, name, value) { OP_C_##cls, #name, (value) },
#define OP_NAME(cls, name, value) { OP_C_##cls, #name, (value) },
#include "op_def_include.h"
};

static const op_guid_name op_guid_names[] = {
#define OP_GUID(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8) \
    { #name, { (l), (w1), (w2), { (b1), (b2), (b3), (b4), (b5), (b6), (b7), (b8) } } },
#include "op_def_include.h"
};

const op_info *op_info_get(unsigned opcode)
{
    if (opcode > 0xFF || op_index_of[opcode] == 0)
        return NULL;
    return &op_infos[op_index_of[opcode] - 1];
}

size_t op_info_count(void) { return OP_IDX_COUNT; }

const op_info *op_info_at(size_t index) { return index < OP_IDX_COUNT ? &op_infos[index] : NULL; }

const char *op_name(op_code code)
{
    if (code == OP_RAW)
        return "raw";
    const op_info *info = op_info_get((unsigned)code);
    return info != NULL ? info->name : "?";
}

op_class_kind op_class_kind_of(op_class cls) { return cls < OP_C_COUNT ? op_class_kinds[cls] : OP_K_HEX; }

size_t op_constant_count(void) { return sizeof op_constants / sizeof op_constants[0]; }

const op_constant *op_constant_at(size_t index) { return index < op_constant_count() ? &op_constants[index] : NULL; }

size_t op_guid_name_count(void) { return sizeof op_guid_names / sizeof op_guid_names[0]; }

const op_guid_name *op_guid_name_at(size_t index)
{
    return index < op_guid_name_count() ? &op_guid_names[index] : NULL;
}
