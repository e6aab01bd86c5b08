/* kscapture.c: the capture kit's command line: lists KS filters, or runs the compiled-in user-reachable
 * cases against one pin of a real filter and writes a ks-conformance/1 recording (docs/capture-kit.md). */
#include "kc_win.h"
#include "kc_glob.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

static const char usage[] =
    "usage: kscapture --list\n"
    "       kscapture --list-cases [--cases GLOB[,GLOB...]]\n"
    "       kscapture --device PATH [--pin N] [--out FILE.jsonl] [--cases GLOB[,GLOB...]] [--id-prefix P]\n"
    "  --list        KS filters of the capture, render, audio and video categories (paths for --device)\n"
    "  --list-cases  the compiled-in case ids\n"
    "  --device      the filter's device interface path, as --list prints it\n"
    "  --pin         the pin type to create (default 0)\n"
    "  --out         the recording to write (default kscapture.jsonl; overwritten)\n"
    "  --cases       run only the cases whose id matches one of the globs (* and ?)\n"
    "  --id-prefix   written before every case id (a-z 0-9 . _ -), e.g. win.22631.x64. so the file can sit\n"
    "                next to the curated recordings, whose ids it would otherwise repeat\n";

static bool kc_selected(const char *filter, const char *id)
{
    if (filter == NULL)
        return true;
    char glob[256];
    for (const char *p = filter; *p != 0;) {
        size_t n = strcspn(p, ",");
        if (n < sizeof glob) {
            memcpy(glob, p, n);
            glob[n] = 0;
            if (kc_glob(glob, id))
                return true;
        }
        p += n + (p[n] == ',');
    }
    return false;
}

static int kc_bad_usage(const char *fmt, const WCHAR *arg)
{
    fprintf(stderr, "kscapture: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    return 2;
}

int wmain(int argc, WCHAR **argv)
{
    const WCHAR *device = NULL, *out = L"kscapture.jsonl";
    char filter_buf[1024];
    const char *filter = NULL;
    char prefix_buf[64] = "";
    bool list = false, list_cases = false;
    unsigned long pin = 0;
    for (int i = 1; i < argc; i++) {
        const WCHAR *a = argv[i];
        bool has_value = i + 1 < argc;
        if (wcscmp(a, L"--list") == 0) {
            list = true;
        } else if (wcscmp(a, L"--list-cases") == 0) {
            list_cases = true;
        } else if (wcscmp(a, L"--help") == 0 || wcscmp(a, L"-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (!has_value && (wcscmp(a, L"--device") == 0 || wcscmp(a, L"--pin") == 0 ||
                                  wcscmp(a, L"--out") == 0 || wcscmp(a, L"--cases") == 0 ||
                                  wcscmp(a, L"--id-prefix") == 0)) {
            return kc_bad_usage("%ls needs a value", a);
        } else if (wcscmp(a, L"--device") == 0) {
            device = argv[++i];
        } else if (wcscmp(a, L"--out") == 0) {
            out = argv[++i];
        } else if (wcscmp(a, L"--pin") == 0) {
            WCHAR *end = NULL;
            pin = wcstoul(argv[++i], &end, 10);
            if (end == argv[i] || *end != 0 || pin > 0xFFFF)
                return kc_bad_usage("--pin needs a pin number (0..65535), not '%ls'", argv[i]);
        } else if (wcscmp(a, L"--id-prefix") == 0) {
            const WCHAR *p = argv[++i];
            size_t n = wcslen(p);
            if (n >= sizeof prefix_buf || wcsspn(p, L"abcdefghijklmnopqrstuvwxyz0123456789._-") != n)
                return kc_bad_usage("--id-prefix: '%ls' must be at most 63 of a-z 0-9 . _ -", p);
            for (size_t k = 0; k <= n; k++)
                prefix_buf[k] = (char)p[k];
        } else if (wcscmp(a, L"--cases") == 0) {
            int n = WideCharToMultiByte(CP_UTF8, 0, argv[++i], -1, filter_buf, sizeof filter_buf, NULL, NULL);
            if (n == 0)
                return kc_bad_usage("--cases: the filter '%ls' is too long", argv[i]);
            filter = filter_buf;
        } else {
            return kc_bad_usage("unknown argument '%ls'", a);
        }
    }
    if (list)
        return kc_list_filters();
    if (list_cases) {
        for (size_t i = 0; i < kc_case_count; i++)
            if (kc_selected(filter, kc_cases[i].id))
                printf("%s\n", kc_cases[i].id);
        return 0;
    }
    if (device == NULL)
        return kc_bad_usage("%lsgive --device PATH (see --list) or --list", L"");

    kc_target target = { .device = device, .pin = pin, .id_prefix = prefix_buf };
    char why[512];
    if (!kc_prepare_pin(&target, why, sizeof why)) {
        fprintf(stderr, "kscapture: %ls pin %lu: %s\nNothing was recorded.\n", device, pin, why);
        return 3;
    }
    FILE *f = _wfopen(out, L"wb");
    if (f == NULL) {
        fprintf(stderr, "kscapture: cannot write %ls\n", out);
        return 2;
    }
    kc_header h = { .description = "kscapture run: user-mode requests to one KS pin on this machine",
                    .device = (const uint16_t *)device, .device_units = wcslen(device), .pin = (uint32_t)pin,
                    .pin_format = target.format_how };
    kc_fill_header(&h);
    kc_writer w = { f, 0 };
    kc_write_header(&w, &h);
    printf("kscapture: Windows %s (%s), %d-bit caller%s; ks.sys %s; pin %lu: %s\n",
           h.windows_build != NULL ? h.windows_build : "?", h.arch, h.caller_bitness, h.wow64 ? " (WOW64)" : "",
           h.ks_sys_version != NULL ? h.ks_sys_version : "?", pin, target.format_how);
    size_t ran = 0, skipped = 0;
    for (size_t i = 0; i < kc_case_count; i++) {
        if (!kc_selected(filter, kc_cases[i].id))
            continue;
        if (kc_run_case(&kc_cases[i], &target, &w, why, sizeof why)) {
            printf("RECORDED %s\n", kc_cases[i].id);
            ran++;
        } else {
            printf("SKIP %s: %s\n", kc_cases[i].id, why);
            skipped++;
        }
    }
    bool ok = kc_writer_ok(&w);
    if (fclose(f) != 0)
        ok = false;
    printf("%lu recorded, %lu skipped -> %ls\n", (unsigned long)ran, (unsigned long)skipped, out);
    if (!ok)
        fprintf(stderr, "kscapture: writing %ls failed; the recording is incomplete\n", out);
    free(target.connect);
    return ok ? 0 : 1;
}
