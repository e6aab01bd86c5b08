/* op_program.h: the decoded form of an operation-language program and its codecs (binary decode and
 * encode, canonical text printing). The format is specified in docs/operation-language.md; the
 * operations and their fields are declared once, in fuzz/ops.def. */
#ifndef OP_PROGRAM_H
#define OP_PROGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <ntdef.h>

#define OP_FORMAT_VERSION 1      /* the first byte of every binary program */
#define OP_VERSION_ABSENT (-1)   /* op_program.version of the empty input (it has no version byte) */
#define OP_MAX_OPS 256           /* operations per program, raw ones included; see op_decode */
#define OP_SLOT_COUNT 16         /* slots per kind (handles, frames, events); a slot byte s names s % 16 */
#define OP_REF_CLOSED 0xFD       /* reference: the most recently closed handle / freed frame / disabled event */
#define OP_REF_BOGUS 0xFE        /* reference: a value that was never issued */
#define OP_REF_NULL 0xFF         /* reference: NULL */

typedef enum op_code {
#define OP_BEGIN(opcode, ID, name) OP_##ID = opcode,
#include "op_def_include.h"
    OP_RAW = 0x100, /* bytes the decoder skipped (unknown opcode, truncated record, past the cap) */
} op_code;

/* A handle/frame/event reference (HREF/FREF/EREF): a slot (s % OP_SLOT_COUNT) or an OP_REF_* value. */
typedef uint8_t op_ref;
/* The slot that receives a result (HOUT/FOUT/EOUT): always slot s % OP_SLOT_COUNT. */
typedef uint8_t op_slot;
/* A BYTES field. data points into the buffer given to op_decode (valid while that buffer lives);
 * the interpreter copies it into an exact-size allocation before handing it to driver code. */
typedef struct op_bytes {
    const uint8_t *data;
    uint16_t len;
} op_bytes;

#define OP_CTYPE_U8 uint8_t
#define OP_CTYPE_U16 uint16_t
#define OP_CTYPE_U32 uint32_t
#define OP_CTYPE_U64 uint64_t
#define OP_CTYPE_GUID GUID
#define OP_CTYPE_BYTES op_bytes
#define OP_CTYPE_HREF op_ref
#define OP_CTYPE_FREF op_ref
#define OP_CTYPE_EREF op_ref
#define OP_CTYPE_HOUT op_slot
#define OP_CTYPE_FOUT op_slot
#define OP_CTYPE_EOUT op_slot

/* One argument struct per operation, fields in ops.def order: op_args_create_raw and so on. */
#define OP_BEGIN(opcode, ID, name) typedef struct op_args_##name {
#define OP_FIELD(op, field, type, cls, dflt) OP_CTYPE_##type field;
#define OP_END(name) } op_args_##name;
#include "op_def_include.h"

typedef struct op_args_raw {
    const uint8_t *data; /* into the decoded buffer, like op_bytes */
    size_t len;
} op_args_raw;

typedef struct op_op {
    op_code code;
    size_t offset; /* where the record starts in the binary program */
    size_t size;   /* its encoded size in bytes (opcode included) */
    union {
#define OP_BEGIN(opcode, ID, name) op_args_##name name;
#include "op_def_include.h"
        op_args_raw raw;
    } u;
} op_op;

typedef struct op_program {
    int version;  /* the version byte, or OP_VERSION_ABSENT for the empty input */
    size_t count; /* ops[0..count) */
    op_op ops[OP_MAX_OPS];
} op_program;

/* ---- Codecs ---------------------------------------------------------------------------------- */
/* Decodes any byte string; never fails. Unknown opcodes and truncated records become OP_RAW
 * operations (consecutive skipped bytes merge into one); when version != OP_FORMAT_VERSION the
 * whole body is one OP_RAW; when OP_MAX_OPS - 1 operations are decoded, the rest of the input is
 * the last one, an OP_RAW. Re-encoding reproduces the input byte for byte. */
void op_decode(const uint8_t *data, size_t size, op_program *prog);
/* Encodes prog into out[0..cap) and returns the full encoded size (like snprintf: nothing past cap
 * is written, so call with cap 0 to size the buffer). */
size_t op_encode(const op_program *prog, uint8_t *out, size_t cap);
/* The canonical text form (one operation per line, "version N" first), NUL-terminated in buf
 * when cap > 0; returns the full length without the NUL (snprintf semantics). Byte-identical to
 * `tools/opcodec.py decode` for the same binary. */
size_t op_format(const op_program *prog, char *buf, size_t cap);
/* op_format to a stream (crash reports print the decoded program this way). */
void op_print(const op_program *prog, FILE *out);
/* Reads a whole file (a binary program) for a command-line tool; on failure prints
 * "TOOL: PATH: reason" to stderr and returns NULL. Only regular files are read: a directory, FIFO or
 * device is refused without waiting for a writer or reading. max_size > 0 refuses larger files
 * unread and never reads more than max_size + 1 bytes (a file can grow while it is read). */
uint8_t *op_read_file(const char *tool, const char *path, long long max_size, size_t *size);
/* The same for standard input, read to its end whatever it is (a pipe delivers in pieces): the tool's
 * user chose it. Messages name it OP_STDIN_NAME. */
uint8_t *op_read_stdin(const char *tool, long long max_size, size_t *size);
#define OP_STDIN_NAME "(standard input)"

/* The largest program file km_replay and op_print read: the largest meaningful program is about 33 MB
 * (256 ioctl records with two full blobs), so bigger inputs are refused before they are read.
 * tools/opcodec.py MAX_INPUT says the same. */
#define OP_MAX_PROGRAM_FILE ((long long)64 << 20)

/* The most a fuzz target's own main (standalone_main.c, afl_main.c) reads from one file argument: far
 * above what any target takes (they ignore inputs over 64 KiB but get them whole, as from libFuzzer), it
 * only stops a read without end. */
#define OP_TARGET_MAX_FILE ((long long)1 << 30)

/* Flushes stdout; false after "TOOL: cannot write WHAT: reason" on stderr when it or an earlier write
 * failed (a full disk, a closed pipe), so a tool does not exit 0 having written nothing. */
bool op_flush_stdout(const char *tool, const char *what);

/* argv0 without its directories, naming the tool in messages ("fuzz" when there is none). */
const char *op_tool_name(const char *argv0);

/* ---- The table, for generic walkers (printer, mutators, the interpreter's trace) ---------------- */
typedef enum op_type {
    OP_T_U8, OP_T_U16, OP_T_U32, OP_T_U64, OP_T_GUID, OP_T_BYTES,
    OP_T_HREF, OP_T_FREF, OP_T_EREF, OP_T_HOUT, OP_T_FOUT, OP_T_EOUT,
} op_type;

typedef enum op_class_kind { OP_K_DEC, OP_K_HEX, OP_K_ENUM, OP_K_FLAGS, OP_K_REQFLAGS } op_class_kind;

typedef enum op_class {
#define OP_CLASS(cls, kind) OP_C_##cls,
#include "op_def_include.h"
    OP_C_COUNT
} op_class;

typedef struct op_field_info {
    const char *name;
    op_type type;
    op_class cls;
    bool required;  /* no default: always printed, must be given in text */
    uint64_t dflt;  /* the default (0 = zero GUID / empty bytes) */
    size_t offset;  /* of the field in the op's argument struct */
} op_field_info;

typedef struct op_info {
    op_code code;
    const char *name;
    size_t field_count;
    const op_field_info *fields;
} op_info;

typedef struct op_constant {
    op_class cls;
    const char *name;
    uint64_t value;
} op_constant;

typedef struct op_guid_name {
    const char *name;
    GUID guid;
} op_guid_name;

/* The operation with this opcode byte, or NULL (OP_RAW is not in the table). */
const op_info *op_info_get(unsigned opcode);
/* All operations in table order: op_info_at(0 .. op_info_count()-1). */
size_t op_info_count(void);
const op_info *op_info_at(size_t index);
const char *op_name(op_code code); /* "raw" for OP_RAW, "?" for a value not in the table */
op_class_kind op_class_kind_of(op_class cls);
size_t op_constant_count(void);
const op_constant *op_constant_at(size_t index);
size_t op_guid_name_count(void);
const op_guid_name *op_guid_name_at(size_t index);

/* The slot index a reference or result byte names (callers check OP_REF_* first for references). */
static inline unsigned op_slot_index(uint8_t slot) { return slot % OP_SLOT_COUNT; }

#endif /* OP_PROGRAM_H */
