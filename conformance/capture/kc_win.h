/* kc_win.h: kscapture's Windows-side declarations (mingw-w64 user-mode headers: windows, winternl, ks). */
#ifndef KC_WIN_H
#define KC_WIN_H

#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <winioctl.h>
#include <winternl.h>
#include <ks.h>
#include <ksmedia.h>

#include <stdbool.h>

#include "kc_cases.h"
#include "kc_record.h"

/* A GUID from a mingw STATIC_<name> list (the headers' own initialisers lack the inner braces). */
#define KC_GUID_(l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8) { l, w1, w2, { b1, b2, b3, b4, b5, b6, b7, b8 } }
#define KC_GUID(...) KC_GUID_(__VA_ARGS__)

#ifndef STATUS_PENDING
#define STATUS_PENDING ((NTSTATUS)0x00000103L)
#endif

/* The pin every case's open_pin creates: chosen once (kc_device.c) and reused. */
typedef struct kc_target {
    const WCHAR *device;   /* the filter's interface path */
    ULONG pin;
    KSPIN_CONNECT *connect; /* KSPIN_CONNECT followed by the KSDATAFORMAT */
    const char *format_how; /* how the format was obtained, for the header */
    const char *id_prefix;  /* prepended to every case id written ("" by default) */
} kc_target;

/* kc_device.c */
int kc_list_filters(void);
HANDLE kc_open_filter(const WCHAR *path, DWORD *error);
bool kc_prepare_pin(kc_target *t, char *why, size_t why_size);
HANDLE kc_create_pin(const kc_target *t, HANDLE filter, DWORD *error);
/* A synchronous KS property request on an overlapped handle (setup queries only). */
DWORD kc_ks_request(HANDLE h, DWORD code, void *in, DWORD in_size, void *out, DWORD out_size, DWORD *returned);

/* kc_winver.c: fills the header's Windows fields (strings live in static storage). */
void kc_fill_header(kc_header *h);

/* kc_run.c: runs one case; true when it ran (the case line is written), false when skipped (why). */
bool kc_run_case(const kc_case *c, const kc_target *t, kc_writer *w, char *why, size_t why_size);

#endif
