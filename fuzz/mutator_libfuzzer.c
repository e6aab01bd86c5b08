/* mutator_libfuzzer.c: libFuzzer's custom mutator hooks over the structure-aware mutator (mutator.h).
 * Link this object into a libFuzzer target to turn it on (without it the target gets libFuzzer's
 * plain byte mutations). The raw path (about one mutation in ten) calls back into libFuzzer's own
 * mutators through LLVMFuzzerMutate, declared weak so the object also links without libFuzzer (then,
 * and when LLVMFuzzerMutate returns 0 as libAFLDriver's stub does, the built-in byte havoc is used). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mutator.h"

size_t LLVMFuzzerMutate(uint8_t *Data, size_t Size, size_t MaxSize) __attribute__((weak));
size_t LLVMFuzzerCustomMutator(uint8_t *Data, size_t Size, size_t MaxSize, unsigned int Seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *Data1, size_t Size1, const uint8_t *Data2, size_t Size2,
                                 uint8_t *Out, size_t MaxOutSize, unsigned int Seed);

/* libFuzzer calls its mutators from one thread; the state lives for the whole process. */
static op_mutator *op_libfuzzer_mutator(void)
{
    static op_mutator *m;
    if (m == NULL) {
        m = op_mutator_new();
        if (m != NULL && LLVMFuzzerMutate != NULL)
            op_mutator_set_raw(m, LLVMFuzzerMutate);
    }
    return m;
}

size_t LLVMFuzzerCustomMutator(uint8_t *Data, size_t Size, size_t MaxSize, unsigned int Seed)
{
    op_mutator *m = op_libfuzzer_mutator();
    if (m == NULL) /* out of memory: leave it to libFuzzer's own mutators */
        return LLVMFuzzerMutate != NULL ? LLVMFuzzerMutate(Data, Size, MaxSize) : (Size < MaxSize ? Size : MaxSize);
    return op_mutate(m, Data, Size, Data, MaxSize, Seed, OP_MUT_ANY, NULL);
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *Data1, size_t Size1, const uint8_t *Data2, size_t Size2,
                                 uint8_t *Out, size_t MaxOutSize, unsigned int Seed)
{
    op_mutator *m = op_libfuzzer_mutator();
    if (m == NULL)
        return 0;
    return op_crossover(m, Data1, Size1, Data2, Size2, Out, MaxOutSize, Seed);
}
