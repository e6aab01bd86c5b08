/* kc_record.h: the recording writer (JSON Lines, schema ks-conformance/1); portable C, no Windows headers. */
#ifndef KC_RECORD_H
#define KC_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Only a Windows build may claim Windows provenance: anything else (the host-side unit test) writes
 * "host-test", so no recording made off Windows can pass for an observation of Windows. */
#ifdef _WIN32
#define KC_SOURCE_KIND "windows"
#else
#define KC_SOURCE_KIND "host-test"
#endif

#define KC_TOOL "kscapture 0.1"

typedef struct kc_header {
    const char *description;
    const char *windows_build;  /* "10.0.22631.4037"; NULL when unknown */
    const char *arch;           /* the OS's native architecture: "amd64", "x86", "arm64" */
    int caller_bitness;         /* 32 or 64: this process */
    bool wow64;
    const char *ks_sys_version;     /* file versions; NULL when unreadable */
    const char *ksuser_dll_version;
    const uint16_t *device;     /* the filter interface path, UTF-16 */
    size_t device_units;
    uint32_t pin;
    const char *pin_format;     /* how the pin's data format was chosen */
} kc_header;

/* What was observed of one operation, in the conformance loader's expectation keys
 * (tools/conformance/recording.py EXPECT_KEYS); a key whose `has_` flag is false is not written. */
typedef struct kc_expect {
    size_t op;
    const char *status;     /* "STATUS_SUCCESS", "0x12345678", "win32:87", "success"; NULL: not written */
    bool has_info;
    uint64_t info;
    const char *out;        /* hex with pointer tokens (kc_format_out); NULL or "" when no bytes came back */
    bool has_slot, slot;    /* the op has a result slot; it filled it */
    bool has_signal, signal; /* events could be signalled; one was, during this op */
    bool has_done;          /* the request pended and its completion was seen: */
    const char *done_status;
    uint64_t done_info;
    bool has_done_during;   /* false when it completed during the final rundown */
    size_t done_during;     /* the op during which the completion was seen */
} kc_expect;

typedef struct kc_writer {
    FILE *f;
    size_t expects; /* entries written in the current case */
} kc_writer;

/* JSON string literals: `text` is UTF-8 (invalid sequences become U+FFFD); `units` is UTF-16. */
void kc_json_string(FILE *f, const char *text);
void kc_json_wstring(FILE *f, const uint16_t *units, size_t count);

void kc_write_header(kc_writer *w, const kc_header *h);
void kc_case_begin(kc_writer *w, const char *id, const char *program);
void kc_case_expect(kc_writer *w, const kc_expect *e);
void kc_case_end(kc_writer *w, const char *comment);
/* true when everything so far reached the stream */
bool kc_writer_ok(const kc_writer *w);

/* A status as the harness's traces name it: the ntstatus.h name, else 0x%08X. buf >= 16 bytes. */
const char *kc_format_status(char *buf, size_t size, uint32_t status);

/* Pointer-word layout of an output buffer (the trace's out= rules). */
typedef enum kc_out_kind { KC_OUT_PLAIN, KC_OUT_FRAME0, KC_OUT_TABLE } kc_out_kind;

/* What the frame slots hold, for [fN] tokens. */
typedef struct kc_frame_slots {
    uint64_t addr[16];
    bool filled[16];
    bool live[16];
} kc_frame_slots;

/* Lower-case hex of out[0, n); pointer words (ptr_size bytes: offset 0 for FRAME0, the first two
 * entries for TABLE) print as [fN] (a live frame preferred) / [fn] / [ptr] when non-NULL. Returns a
 * malloc'd string (the caller frees it), NULL when out of memory. */
char *kc_format_out(const uint8_t *out, size_t n, kc_out_kind kind, size_t ptr_size, const kc_frame_slots *frames);

#endif
