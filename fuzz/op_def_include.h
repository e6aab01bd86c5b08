/* op_def_include.h: expands fuzz/ops.def with whichever OP_* macros the includer defined (the others
 * expand to nothing), then undefines them all, so each X-macro use is three lines at its site. */
#ifndef OP_CLASS
#define OP_CLASS(cls, kind)
#endif
#ifndef OP_CONST
#define OP_CONST(cls, name, value)
#endif
#ifndef OP_NAME
#define OP_NAME(cls, name, value)
#endif
#ifndef OP_GUID
#define OP_GUID(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8)
#endif
#ifndef OP_BEGIN
#define OP_BEGIN(opcode, ID, name)
#endif
#ifndef OP_FIELD
#define OP_FIELD(op, field, type, cls, dflt)
#endif
#ifndef OP_END
#define OP_END(name)
#endif

#include "ops.def"

#undef OP_CLASS
#undef OP_CONST
#undef OP_NAME
#undef OP_GUID
#undef OP_BEGIN
#undef OP_FIELD
#undef OP_END
