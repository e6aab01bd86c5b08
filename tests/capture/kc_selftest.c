/* kc_selftest.c: host-side driver of the capture kit's writer and case table;
 * tools/runner/capture_suite.py checks what it prints with Python's json module (the kit itself only
 * runs on Windows). With --glob it runs the --cases matcher instead (compared there with fnmatch). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc_cases.h"
#include "kc_glob.h"
#include "kc_record.h"

static void print_blob(FILE *f, const char *key, kc_blob b)
{
    fprintf(f, ",\"%s\":\"", key);
    for (size_t i = 0; i < b.size; i++)
        fprintf(f, "%02x", b.data[i]);
    fputc('"', f);
}

/* Every decoded field of every compiled-in case, so the test can compare them with tools/opcodec.py. */
static void dump_table(FILE *f)
{
    for (size_t c = 0; c < kc_case_count; c++) {
        const kc_case *k = &kc_cases[c];
        fputs("{\"record\":\"table\",\"id\":", f);
        kc_json_string(f, k->id);
        fputs(",\"program\":", f);
        kc_json_string(f, k->program);
        fputs(",\"ops\":[", f);
        for (size_t i = 0; i < k->op_count; i++) {
            const kc_op *o = &k->ops[i];
            fprintf(f, "%s{\"name\":\"%s\",\"kind\":%d,\"ref\":%u,\"out\":%u,\"frame\":%u,\"event\":%u,\"mode\":%u,"
                       "\"device\":%u,\"pin_id\":%lu,\"length\":%u,\"max_length\":%u,\"code\":%lu,\"id\":%lu,"
                       "\"flags\":%lu,\"in_size\":%lu,\"out_size\":%lu,\"buffers\":%u,\"event_id\":%lu,"
                       "\"event_flags\":%lu,\"notify\":%lu,\"framing\":[%lu,%lu,%lu,%lu,%lu,%lu]",
                    i != 0 ? "," : "", o->name, (int)o->kind, o->ref, o->out, o->frame, o->event, o->mode, o->device,
                    (unsigned long)o->pin_id, o->length, o->max_length, (unsigned long)o->code, (unsigned long)o->id,
                    (unsigned long)o->flags, (unsigned long)o->in_size, (unsigned long)o->out_size, o->buffers,
                    (unsigned long)o->event_id, (unsigned long)o->event_flags, (unsigned long)o->notify,
                    (unsigned long)o->framing[0], (unsigned long)o->framing[1], (unsigned long)o->framing[2],
                    (unsigned long)o->framing[3], (unsigned long)o->framing[4], (unsigned long)o->framing[5]);
            print_blob(f, "name_bytes", o->name_bytes);
            print_blob(f, "extra", o->extra);
            print_blob(f, "data", o->data);
            fputs(",\"set\":\"", f);
            for (size_t b = 0; b < sizeof o->set; b++)
                fprintf(f, "%02x", o->set[b]);
            fputs("\"}", f);
        }
        fputs("]}\n", f);
    }
}

static void out_case(FILE *f, const char *label, const uint8_t *bytes, size_t n, kc_out_kind kind, size_t ptr,
                     const kc_frame_slots *frames)
{
    char *s = kc_format_out(bytes, n, kind, ptr, frames);
    fputs("{\"record\":\"out\",\"label\":", f);
    kc_json_string(f, label);
    fputs(",\"text\":", f);
    kc_json_string(f, s);
    fputs("}\n", f);
    free(s);
}

/* --glob: reads "PATTERN<TAB>ID" lines from stdin and prints 1 or 0 for each: whether kc_glob matches. */
static int glob_lines(void)
{
    static char line[1 << 16];
    while (fgets(line, sizeof line, stdin) != NULL) {
        line[strcspn(line, "\n")] = 0;
        char *tab = strchr(line, '\t');
        if (tab == NULL) {
            fprintf(stderr, "kc_selftest --glob: a line without a tab: '%s'\n", line);
            return 2;
        }
        *tab = 0;
        printf("%d\n", kc_glob(line, tab + 1));
    }
    return fflush(stdout) == 0 && !ferror(stdin) ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--glob") == 0)
        return glob_lines();
    if (argc != 1) {
        fprintf(stderr, "usage: kc_selftest [--glob]\n");
        return 2;
    }
    FILE *f = stdout;
    kc_writer w = { f, 0 };
    /* "quote \" backslash \\ newline, tab, a control byte, é (UTF-8), an invalid byte, and U+1F600" */
    static const char description[] = "q\"b\\n\nt\tc\x01 \xc3\xa9 \xff \xf0\x9f\x98\x80";
    static const uint16_t device[] = { '\\', '\\', '?', '\\', 'u', 's', 'b', '#', 0x00e9, 0xd800, '"' };
    kc_header h = { .description = description, .windows_build = "10.0.1.2", .arch = "amd64", .caller_bitness = 32,
                    .wow64 = true, .ks_sys_version = "10.0.1.2", .ksuser_dll_version = NULL, .device = device,
                    .device_units = sizeof device / sizeof device[0], .pin = 3, .pin_format = "first data range" };
    kc_write_header(&w, &h);

    kc_case_begin(&w, "sample.case", "set_mode mode=UserMode\nclose handle=null\nclose handle=bogus\n"
                                     "close handle=null\n");
    char buf[16];
    kc_expect e1 = { .op = 1, .status = kc_format_status(buf, sizeof buf, 0xC0000008u), .has_info = true, .info = 0 };
    kc_case_expect(&w, &e1);
    kc_expect e2 = { .op = 2, .status = "win32:87", .has_slot = true, .slot = false, .has_signal = true,
                     .signal = true };
    kc_case_expect(&w, &e2);
    char unknown[16];
    kc_expect e3 = { .op = 3, .status = kc_format_status(unknown, sizeof unknown, 0x12345678u), .has_info = true,
                     .info = 4294967296ull, .out = "00ff", .has_slot = true, .slot = true, .has_done = true,
                     .done_status = "STATUS_CANCELLED", .done_info = 8, .has_done_during = true, .done_during = 3 };
    kc_case_expect(&w, &e3);
    kc_expect e4 = { .op = 0, .status = "success", .has_done = true, .done_status = "0xC0000120" };
    kc_case_expect(&w, &e4);
    kc_case_end(&w, "comment with \"quotes\"");

    kc_case_begin(&w, "empty.case", "");
    kc_case_end(&w, "");

    static const uint8_t frame8[] = { 0x10, 0x20, 0, 0, 0, 0x80, 0xff, 0xff, 0xaa };
    static const uint8_t zero8[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0x01 };
    static const uint8_t table[] = { 1, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 7 };
    kc_frame_slots slots = { 0 };
    slots.addr[2] = 0xffff800000002010ull; /* a freed frame in f2, the same frame live in f5 */
    slots.filled[2] = true;
    slots.addr[5] = slots.addr[2];
    slots.filled[5] = slots.live[5] = true;
    out_case(f, "frame-live", frame8, sizeof frame8, KC_OUT_FRAME0, 8, &slots);
    slots.live[5] = false;
    out_case(f, "frame-any", frame8, sizeof frame8, KC_OUT_FRAME0, 8, &slots);
    out_case(f, "frame-unknown", frame8, sizeof frame8, KC_OUT_FRAME0, 8, NULL);
    out_case(f, "frame-null", zero8, sizeof zero8, KC_OUT_FRAME0, 8, &slots);
    out_case(f, "frame-short", frame8, 4, KC_OUT_FRAME0, 8, &slots);
    out_case(f, "plain", frame8, sizeof frame8, KC_OUT_PLAIN, 8, &slots);
    out_case(f, "table64", table, sizeof table, KC_OUT_TABLE, 8, NULL);
    out_case(f, "table32", table, sizeof table, KC_OUT_TABLE, 4, NULL);
    out_case(f, "empty", table, 0, KC_OUT_PLAIN, 8, NULL);

    dump_table(f);
    return kc_writer_ok(&w) ? 0 : 1;
}
