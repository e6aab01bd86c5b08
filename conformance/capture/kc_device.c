/* kc_device.c: finding and opening the KS target: --list (SetupDi over the KS categories), the filter
 * open, and the pin every case creates (KsCreatePin with a format derived from the pin's first data
 * range: the driver's DATAINTERSECTION answer when it gives one, else the range bytes themselves). */
#include "kc_win.h"

#include <setupapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

DWORD kc_ks_request(HANDLE h, DWORD code, void *in, DWORD in_size, void *out, DWORD out_size, DWORD *returned)
{
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (ov.hEvent == NULL)
        return GetLastError();
    DWORD err = ERROR_SUCCESS;
    *returned = 0;
    if (!DeviceIoControl(h, code, in, in_size, out, out_size, returned, &ov)) {
        err = GetLastError();
        if (err == ERROR_IO_PENDING)
            err = GetOverlappedResult(h, &ov, returned, TRUE) ? ERROR_SUCCESS : GetLastError();
    }
    CloseHandle(ov.hEvent);
    return err;
}

HANDLE kc_open_filter(const WCHAR *path, DWORD *error)
{
    HANDLE h = CreateFileW(path, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                           FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, NULL);
    *error = h == INVALID_HANDLE_VALUE ? GetLastError() : ERROR_SUCCESS;
    return h == INVALID_HANDLE_VALUE ? NULL : h;
}

static DWORD kc_pin_count(HANDLE filter, ULONG *count)
{
    KSPROPERTY p = { .Set = KC_GUID(STATIC_KSPROPSETID_Pin), .Id = KSPROPERTY_PIN_CTYPES,
                     .Flags = KSPROPERTY_TYPE_GET };
    DWORD got = 0;
    *count = 0;
    DWORD err = kc_ks_request(filter, IOCTL_KS_PROPERTY, &p, sizeof p, count, sizeof *count, &got);
    return err == ERROR_SUCCESS && got != sizeof *count ? ERROR_INVALID_DATA : err;
}

/* A variable-size pin property (KSMULTIPLE_ITEM) in a malloc'd buffer: size query, then the data. */
static void *kc_pin_property(HANDLE filter, ULONG pin, ULONG id, void *extra, DWORD extra_size, DWORD *size,
                             DWORD *err)
{
    DWORD in_size = sizeof(KSP_PIN) + extra_size;
    KSP_PIN *in = calloc(1, in_size);
    if (in == NULL) {
        *err = ERROR_NOT_ENOUGH_MEMORY;
        return NULL;
    }
    in->Property.Set = (GUID)KC_GUID(STATIC_KSPROPSETID_Pin);
    in->Property.Id = id;
    in->Property.Flags = KSPROPERTY_TYPE_GET;
    in->PinId = pin;
    if (extra_size != 0)
        memcpy(in + 1, extra, extra_size);
    DWORD need = 0;
    *err = kc_ks_request(filter, IOCTL_KS_PROPERTY, in, in_size, NULL, 0, &need);
    void *out = NULL;
    if ((*err == ERROR_MORE_DATA || *err == ERROR_INSUFFICIENT_BUFFER || *err == ERROR_SUCCESS) && need != 0 &&
        need <= (1u << 20) && (out = calloc(1, need)) != NULL) {
        *err = kc_ks_request(filter, IOCTL_KS_PROPERTY, in, in_size, out, need, size);
        if (*err != ERROR_SUCCESS) {
            free(out);
            out = NULL;
        }
    } else if (*err == ERROR_SUCCESS) {
        *err = ERROR_INVALID_DATA; /* the driver gave no size */
    }
    free(in);
    return out;
}

bool kc_prepare_pin(kc_target *t, char *why, size_t why_size)
{
    DWORD err;
    HANDLE filter = kc_open_filter(t->device, &err);
    if (filter == NULL) {
        snprintf(why, why_size, "cannot open the filter: Win32 error %lu", err);
        return false;
    }
    ULONG count = 0;
    if ((err = kc_pin_count(filter, &count)) != ERROR_SUCCESS || t->pin >= count) {
        snprintf(why, why_size, err != ERROR_SUCCESS ? "KSPROPERTY_PIN_CTYPES failed: Win32 error %lu"
                                                     : "the filter has %lu pin types; --pin %lu does not exist",
                 err != ERROR_SUCCESS ? err : count, (unsigned long)t->pin);
        CloseHandle(filter);
        return false;
    }
    DWORD size = 0;
    KSMULTIPLE_ITEM *ranges = kc_pin_property(filter, t->pin, KSPROPERTY_PIN_DATARANGES, NULL, 0, &size, &err);
    KSDATARANGE *first = ranges != NULL && ranges->Count != 0 && size >= sizeof *ranges + sizeof(KSDATARANGE)
                             ? (KSDATARANGE *)(ranges + 1) : NULL;
    if (first == NULL || first->FormatSize < sizeof(KSDATARANGE) ||
        first->FormatSize > size - sizeof *ranges) {
        snprintf(why, why_size, "pin %lu has no usable data range (KSPROPERTY_PIN_DATARANGES: Win32 error %lu)",
                 (unsigned long)t->pin, err);
        free(ranges);
        CloseHandle(filter);
        return false;
    }
    /* Ask the driver for a format inside the first range (the range alone, attributes dropped). */
    DWORD range_size = first->FormatSize;
    size_t req_size = sizeof(KSMULTIPLE_ITEM) + range_size;
    KSMULTIPLE_ITEM *req = calloc(1, req_size);
    const void *format = first;
    DWORD format_size = range_size;
    KSDATAFORMAT *chosen = NULL;
    t->format_how = "data range 0 used as the format";
    if (req != NULL) {
        req->Size = (ULONG)req_size;
        req->Count = 1;
        memcpy(req + 1, first, range_size);
        ((KSDATARANGE *)(req + 1))->Flags &= ~(ULONG)KSDATARANGE_ATTRIBUTES;
        DWORD got = 0;
        chosen = kc_pin_property(filter, t->pin, KSPROPERTY_PIN_DATAINTERSECTION, req, (DWORD)req_size, &got, &err);
        if (chosen != NULL && got >= sizeof(KSDATAFORMAT) && chosen->FormatSize >= sizeof(KSDATAFORMAT) &&
            chosen->FormatSize <= got) {
            format = chosen;
            format_size = chosen->FormatSize;
            t->format_how = "KSPROPERTY_PIN_DATAINTERSECTION of data range 0";
        }
    }
    t->connect = calloc(1, sizeof(KSPIN_CONNECT) + format_size);
    if (t->connect != NULL) {
        t->connect->Interface = (KSPIN_INTERFACE){ .Set = KC_GUID(STATIC_KSINTERFACESETID_Standard),
                                                   .Id = KSINTERFACE_STANDARD_STREAMING };
        t->connect->Medium = (KSPIN_MEDIUM){ .Set = KC_GUID(STATIC_KSMEDIUMSETID_Standard),
                                             .Id = KSMEDIUM_TYPE_ANYINSTANCE };
        t->connect->PinId = t->pin;
        t->connect->PinToHandle = NULL;
        t->connect->Priority.PriorityClass = KSPRIORITY_NORMAL;
        t->connect->Priority.PrioritySubClass = KSPRIORITY_NORMAL;
        memcpy(t->connect + 1, format, format_size);
        ((KSDATAFORMAT *)(t->connect + 1))->Flags &= ~(ULONG)KSDATAFORMAT_ATTRIBUTES;
    }
    free(chosen);
    free(req);
    free(ranges);
    if (t->connect == NULL) {
        snprintf(why, why_size, "out of memory");
        CloseHandle(filter);
        return false;
    }
    HANDLE pin = kc_create_pin(t, filter, &err);
    if (pin == NULL)
        snprintf(why, why_size,
                 "KsCreatePin on pin %lu failed: Win32 error %lu (87: the format is refused; 22 or 170: the pin "
                 "is in use; 5: access denied, e.g. camera privacy settings)", (unsigned long)t->pin, err);
    else
        CloseHandle(pin);
    CloseHandle(filter);
    return pin != NULL;
}

HANDLE kc_create_pin(const kc_target *t, HANDLE filter, DWORD *error)
{
    HANDLE pin = NULL;
    *error = KsCreatePin(filter, t->connect, GENERIC_READ | GENERIC_WRITE, &pin);
    if (*error != ERROR_SUCCESS || pin == INVALID_HANDLE_VALUE)
        return NULL;
    return pin;
}

/* --list: every present KS filter interface of the four categories, each path once, with its pin count. */
int kc_list_filters(void)
{
    static const struct { const char *name; GUID guid; } cats[] = {
        { "capture", KC_GUID(STATIC_KSCATEGORY_CAPTURE) },
        { "render", KC_GUID(STATIC_KSCATEGORY_RENDER) },
        { "audio", KC_GUID(STATIC_KSCATEGORY_AUDIO) },
        { "video", KC_GUID(STATIC_KSCATEGORY_VIDEO) },
    };
    WCHAR *seen[512];
    size_t nseen = 0, total = 0;
    for (size_t c = 0; c < sizeof cats / sizeof cats[0]; c++) {
        HDEVINFO set = SetupDiGetClassDevsW(&cats[c].guid, NULL, NULL, DIGCF_PRESENT | DIGCF_DEVICEINTERFACE);
        if (set == INVALID_HANDLE_VALUE) {
            fprintf(stderr, "kscapture: SetupDiGetClassDevs(%s) failed: Win32 error %lu\n", cats[c].name,
                    GetLastError());
            continue;
        }
        SP_DEVICE_INTERFACE_DATA itf = { .cbSize = sizeof itf };
        for (DWORD i = 0; SetupDiEnumDeviceInterfaces(set, NULL, &cats[c].guid, i, &itf); i++) {
            DWORD need = 0;
            SetupDiGetDeviceInterfaceDetailW(set, &itf, NULL, 0, &need, NULL);
            SP_DEVICE_INTERFACE_DETAIL_DATA_W *detail = need >= sizeof *detail ? malloc(need) : NULL;
            if (detail == NULL)
                continue;
            detail->cbSize = sizeof *detail;
            if (!SetupDiGetDeviceInterfaceDetailW(set, &itf, detail, need, NULL, NULL)) {
                free(detail);
                continue;
            }
            bool dup = false;
            for (size_t k = 0; k < nseen && !dup; k++)
                dup = _wcsicmp(seen[k], detail->DevicePath) == 0;
            if (dup) {
                free(detail);
                continue;
            }
            DWORD err;
            ULONG pins = 0;
            HANDLE f = kc_open_filter(detail->DevicePath, &err);
            if (f != NULL) {
                err = kc_pin_count(f, &pins);
                CloseHandle(f);
            }
            if (err == ERROR_SUCCESS)
                printf("%-8s %lu pins  %ls\n", cats[c].name, (unsigned long)pins, detail->DevicePath);
            else
                printf("%-8s (Win32 error %lu)  %ls\n", cats[c].name, err, detail->DevicePath);
            total++;
            if (nseen < sizeof seen / sizeof seen[0])
                seen[nseen++] = _wcsdup(detail->DevicePath);
            free(detail);
        }
        SetupDiDestroyDeviceInfoList(set);
    }
    for (size_t k = 0; k < nseen; k++)
        free(seen[k]);
    printf("%lu KS filter(s)\n", (unsigned long)total);
    return 0;
}
