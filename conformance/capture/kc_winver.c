/* kc_winver.c: the recording header's facts about this Windows: build (RtlGetVersion + UBR), native
 * architecture, caller bitness and WOW64, and the file versions of ks.sys and the loaded ksuser.dll. */
#include "kc_win.h"

#include <stdio.h>
#include <stdlib.h>

typedef LONG(WINAPI *kc_rtl_get_version)(OSVERSIONINFOW *);
typedef BOOL(WINAPI *kc_is_wow64_process2)(HANDLE, USHORT *, USHORT *);

/* GetProcAddress through a plain function-pointer type, so -Wcast-function-type stays quiet. */
static void (*kc_proc(const WCHAR *module, const char *name))(void)
{
    HMODULE m = GetModuleHandleW(module);
    return m != NULL ? (void (*)(void))GetProcAddress(m, name) : NULL;
}

/* "a.b.c.d" from the file's VS_FIXEDFILEINFO, or NULL when the file has none / cannot be read. */
static const char *kc_file_version(const WCHAR *path, char *buf, size_t size)
{
    DWORD ignored = 0, n = GetFileVersionInfoSizeW(path, &ignored);
    if (n == 0)
        return NULL;
    void *data = malloc(n);
    VS_FIXEDFILEINFO *info = NULL;
    UINT len = 0;
    const char *result = NULL;
    if (data != NULL && GetFileVersionInfoW(path, 0, n, data) &&
        VerQueryValueW(data, L"\\", (void **)&info, &len) && len >= sizeof *info) {
        snprintf(buf, size, "%u.%u.%u.%u", (unsigned)HIWORD(info->dwFileVersionMS),
                 (unsigned)LOWORD(info->dwFileVersionMS), (unsigned)HIWORD(info->dwFileVersionLS),
                 (unsigned)LOWORD(info->dwFileVersionLS));
        result = buf;
    }
    free(data);
    return result;
}

static const char *kc_machine(USHORT machine)
{
    switch (machine) {
    case IMAGE_FILE_MACHINE_AMD64: return "amd64";
    case IMAGE_FILE_MACHINE_I386: return "x86";
    case 0xAA64: return "arm64"; /* IMAGE_FILE_MACHINE_ARM64 */
    default: return "unknown";
    }
}

void kc_fill_header(kc_header *h)
{
    static char build[64], ks_version[48], ksuser_version[48];
    OSVERSIONINFOW v = { .dwOSVersionInfoSize = sizeof v };
    kc_rtl_get_version get = (kc_rtl_get_version)kc_proc(L"ntdll.dll", "RtlGetVersion");
    if (get != NULL && get(&v) == 0) {
        /* UBR (the revision after the build number) is only in the registry. */
        DWORD ubr = 0, size = sizeof ubr;
        if (RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion", L"UBR",
                         RRF_RT_REG_DWORD, NULL, &ubr, &size) != ERROR_SUCCESS)
            ubr = 0;
        snprintf(build, sizeof build, "%lu.%lu.%lu.%lu", v.dwMajorVersion, v.dwMinorVersion, v.dwBuildNumber, ubr);
        h->windows_build = build;
    }

    h->caller_bitness = (int)(sizeof(void *) * 8);
    BOOL wow64 = FALSE;
    h->wow64 = IsWow64Process(GetCurrentProcess(), &wow64) && wow64;
    USHORT process = 0, native = 0;
    kc_is_wow64_process2 wow2 = (kc_is_wow64_process2)kc_proc(L"kernel32.dll", "IsWow64Process2");
    if (wow2 != NULL && wow2(GetCurrentProcess(), &process, &native)) {
        h->arch = kc_machine(native);
    } else {
        SYSTEM_INFO si;
        GetNativeSystemInfo(&si);
        h->arch = si.wProcessorArchitecture == PROCESSOR_ARCHITECTURE_AMD64   ? "amd64"
                  : si.wProcessorArchitecture == PROCESSOR_ARCHITECTURE_INTEL ? "x86"
                                                                              : "unknown";
    }

    /* ks.sys lives in the native System32\drivers; a WOW64 process reaches it through Sysnative. */
    WCHAR path[MAX_PATH + 64];
    UINT n = GetWindowsDirectoryW(path, MAX_PATH);
    if (n != 0 && n < MAX_PATH) {
        wcscat(path, h->wow64 ? L"\\Sysnative\\drivers\\ks.sys" : L"\\System32\\drivers\\ks.sys");
        h->ks_sys_version = kc_file_version(path, ks_version, sizeof ks_version);
    }
    /* The ksuser.dll this process loaded (SysWOW64's for a 32-bit caller) is the one that ran. */
    HMODULE ksuser = GetModuleHandleW(L"ksuser.dll");
    DWORD len = ksuser != NULL ? GetModuleFileNameW(ksuser, path, MAX_PATH) : 0;
    if (len != 0 && len < MAX_PATH)
        h->ksuser_dll_version = kc_file_version(path, ksuser_version, sizeof ksuser_version);
}
