/* decoder: the operation-language codec itself. Decoding is total, so op_encode(op_decode(x)) must give x
 * back byte for byte and op_format must print any decoded program; a mismatch aborts with one stable line
 * (no pointers or offsets that vary between runs of the same input). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_target.h"

static op_program prog; /* ~60 KiB: static, not on the stack */

static void mismatch(const char *what) {
    fprintf(stderr, "DECODER_MISMATCH: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 65536 + 64)
        return 0;
    op_decode(data, size, &prog);
    size_t n = op_encode(&prog, NULL, 0);
    if (n != size)
        mismatch("op_encode(op_decode(input)) has a different size than the input");
    uint8_t *again = malloc(n ? n : 1);
    if (again == NULL)
        abort();
    if (op_encode(&prog, again, n) != n)
        mismatch("op_encode returned different sizes for the same program");
    if (n && memcmp(again, data, n) != 0)
        mismatch("op_encode(op_decode(input)) differs from the input");
    free(again);

    size_t text_len = op_format(&prog, NULL, 0);
    char *text = malloc(text_len + 1);
    if (text == NULL)
        abort();
    if (op_format(&prog, text, text_len + 1) != text_len || strlen(text) != text_len)
        mismatch("op_format returned a length that is not the text's");
    free(text);
    return 0;
}
