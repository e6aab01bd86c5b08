/* kc_record.c: writes kscapture's recording (JSON Lines, schema ks-conformance/1, docs/capture-kit.md). */
#include "kc_record.h"

#include <stdlib.h>
#include <string.h>

#include "kc_cases.h"

static void kc_unit(FILE *f, unsigned u)
{
    switch (u) {
    case '"': fputs("\\\"", f); return;
    case '\\': fputs("\\\\", f); return;
    case '\n': fputs("\\n", f); return;
    case '\r': fputs("\\r", f); return;
    case '\t': fputs("\\t", f); return;
    case '\b': fputs("\\b", f); return;
    case '\f': fputs("\\f", f); return;
    default: break;
    }
    if (u < 0x20 || u == 0x7F || u > 0x7F)
        fprintf(f, "\\u%04x", u); /* everything outside printable ASCII is escaped: the file stays ASCII */
    else
        fputc((int)u, f);
}

/* Length of the valid UTF-8 sequence at p (1..4), and its code point; 0 when invalid. */
static size_t kc_utf8(const unsigned char *p, unsigned long *cp)
{
    unsigned char c = p[0];
    size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0)
        return 0;
    unsigned long v = n == 1 ? c : c & (0x7Fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        v = (v << 6) | (p[i] & 0x3Fu);
    }
    static const unsigned long min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (v < min[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0; /* overlong, out of range, or a surrogate */
    *cp = v;
    return n;
}

void kc_json_string(FILE *f, const char *text)
{
    fputc('"', f);
    const unsigned char *p = (const unsigned char *)(text != NULL ? text : "");
    while (*p != 0) {
        unsigned long cp;
        size_t n = kc_utf8(p, &cp);
        if (n == 0) {
            kc_unit(f, 0xFFFD);
            p++;
            continue;
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            kc_unit(f, 0xD800u + (unsigned)(cp >> 10));
            kc_unit(f, 0xDC00u + (unsigned)(cp & 0x3FF));
        } else {
            kc_unit(f, (unsigned)cp);
        }
        p += n;
    }
    fputc('"', f);
}

void kc_json_wstring(FILE *f, const uint16_t *units, size_t count)
{
    fputc('"', f);
    for (size_t i = 0; i < count; i++)
        kc_unit(f, units[i]); /* UTF-16 maps onto \u escapes one unit at a time, surrogates included */
    fputc('"', f);
}

static void kc_key(FILE *f, const char *key, bool first)
{
    if (!first)
        fputc(',', f);
    kc_json_string(f, key);
    fputc(':', f);
}

static void kc_opt_string(FILE *f, const char *key, const char *value, bool first)
{
    kc_key(f, key, first);
    if (value != NULL)
        kc_json_string(f, value);
    else
        fputs("null", f);
}

void kc_write_header(kc_writer *w, const kc_header *h)
{
    FILE *f = w->f;
    fputs("{\"record\":\"header\",\"schema\":\"ks-conformance/1\",\"source\":{\"kind\":\"" KC_SOURCE_KIND
          "\",\"description\":", f);
    kc_json_string(f, h->description);
    fputs("},\"capture\":{", f);
    kc_key(f, "windowsBuild", true);
    kc_json_string(f, h->windows_build != NULL ? h->windows_build : "unknown");
    kc_opt_string(f, "arch", h->arch, false);
    fprintf(f, ",\"callerBitness\":%d,\"wow64\":%s", h->caller_bitness, h->wow64 ? "true" : "false");
    fputs(",\"ksSys\":{\"version\":", f);
    kc_json_string(f, h->ks_sys_version != NULL ? h->ks_sys_version : "unknown"); /* the loader wants a string */
    fputs("},\"ksuserDll\":{\"version\":", f);
    kc_json_string(f, h->ksuser_dll_version != NULL ? h->ksuser_dll_version : "unknown");
    fputs("},\"target\":{\"device\":", f);
    kc_json_wstring(f, h->device, h->device_units);
    fprintf(f, ",\"pin\":%lu", (unsigned long)h->pin);
    kc_opt_string(f, "pinFormat", h->pin_format, false);
    fputs("},\"tool\":\"" KC_TOOL "\"}}\n", f);
}

void kc_case_begin(kc_writer *w, const char *id, const char *program)
{
    fputs("{\"record\":\"case\",\"id\":", w->f);
    kc_json_string(w->f, id);
    fputs(",\"program\":", w->f);
    kc_json_string(w->f, program);
    fputs(",\"expect\":[", w->f);
    w->expects = 0;
}

void kc_case_expect(kc_writer *w, const kc_expect *e)
{
    FILE *f = w->f;
    fputs(w->expects++ != 0 ? ",{" : "{", f);
    fprintf(f, "\"op\":%lu", (unsigned long)e->op);
    if (e->status != NULL)
        kc_opt_string(f, "status", e->status, false);
    if (e->has_info)
        fprintf(f, ",\"info\":%llu", (unsigned long long)e->info);
    if (e->out != NULL && e->out[0] != 0)
        kc_opt_string(f, "out", e->out, false);
    if (e->has_slot)
        fprintf(f, ",\"slot\":%s", e->slot ? "true" : "false");
    if (e->has_signal)
        fprintf(f, ",\"signal\":%s", e->signal ? "true" : "false");
    if (e->has_done) {
        fputs(",\"done\":{", f);
        kc_opt_string(f, "status", e->done_status, true);
        fprintf(f, ",\"info\":%llu", (unsigned long long)e->done_info);
        if (e->has_done_during)
            fprintf(f, ",\"during\":%lu", (unsigned long)e->done_during);
        fputc('}', f);
    }
    fputc('}', f);
}

void kc_case_end(kc_writer *w, const char *comment)
{
    FILE *f = w->f;
    fputs("],\"provenance\":{\"class\":\"" KC_SOURCE_KIND "\",\"cite\":\"capture header\","
          "\"statement\":\"observed by " KC_TOOL "\"},\"user_reachable\":true,\"comment\":", f);
    kc_json_string(f, comment);
    fputs("}\n", f);
    fflush(f);
}

bool kc_writer_ok(const kc_writer *w) { return !ferror(w->f); }

const char *kc_format_status(char *buf, size_t size, uint32_t status)
{
    const char *name = kc_status_name(status);
    if (name != NULL)
        return name;
    snprintf(buf, size, "0x%08X", (unsigned)status);
    return buf;
}

static uint64_t kc_word(const uint8_t *p, size_t size)
{
    uint64_t v = 0;
    for (size_t i = 0; i < size; i++)
        v |= (uint64_t)p[i] << (8 * i); /* little endian, whatever the host */
    return v;
}

char *kc_format_out(const uint8_t *out, size_t n, kc_out_kind kind, size_t ptr_size, const kc_frame_slots *frames)
{
    if (ptr_size != 4)
        ptr_size = 8; /* callers are 32- or 64-bit */
    char *s = malloc(2 * n + 1); /* a token ("[f15]", 5) is never longer than the 2 * ptr_size hex it replaces */
    if (s == NULL)
        return NULL;
    size_t len = 0;
    for (size_t i = 0; i < n;) {
        bool word = (kind == KC_OUT_FRAME0 && i == 0) || (kind == KC_OUT_TABLE && (i == 0 || i == ptr_size));
        uint64_t v = word && n - i >= ptr_size ? kc_word(out + i, ptr_size) : 0;
        if (v != 0) {
            const char *token = kind == KC_OUT_TABLE ? "[fn]" : "[ptr]";
            char slot[8];
            for (int pass = 0; pass < 2 && kind == KC_OUT_FRAME0 && frames != NULL; pass++)
                for (unsigned k = 0; k < 16; k++)
                    if (token[1] == 'p' && frames->filled[k] && frames->addr[k] == v && (pass == 1 || frames->live[k])) {
                        snprintf(slot, sizeof slot, "[f%u]", k);
                        token = slot;
                    }
            len += (size_t)sprintf(s + len, "%s", token);
            i += ptr_size;
            continue;
        }
        len += (size_t)sprintf(s + len, "%02x", out[i]);
        i++;
    }
    s[len] = 0;
    return s;
}
