/* km_wdk_prelude.h: what code written for the real WDK needs besides include/'s headers, force-
 * included into KM_ALLOCATOR_SOURCES (docs/fuzzing-your-own-allocator.md). Only MSVC-compiler
 * features live here; every routine and type a driver uses comes from the WDK headers themselves. */
#ifndef KM_WDK_PRELUDE_H
#define KM_WDK_PRELUDE_H

/* Structured exception handling: the harness has no SEH. ProbeForRead/Write never raise here (there
 * is no user address space to fault on), so the guarded block always runs to its end and an
 * __except block is dead code. __leave is NOT papered over (it would need a jump target): code using
 * it does not compile, on purpose. */
#define __try if (1)
#define __except(filter) else if (((void)sizeof(filter), 0))
#define __finally if (1)
#define _exception_code() 0
#define GetExceptionCode() 0
#define EXCEPTION_EXECUTE_HANDLER 1
#define EXCEPTION_CONTINUE_SEARCH 0
#define EXCEPTION_CONTINUE_EXECUTION (-1)

/* #pragma alloc_text / code_seg / data_seg place code in pageable sections (MSVC). The model does
 * not page, and PAGED_CODE() still checks the IRQL rule, so the pragmas only need to compile:
 * clang does not know them outside -fms-extensions. ALLOC_PRAGMA is what WDK samples test. */
#define ALLOC_PRAGMA 1
#pragma clang diagnostic ignored "-Wunknown-pragmas"

/* MSVC spellings the WDK headers use in driver code. */
#ifndef __forceinline
#define __forceinline inline __attribute__((always_inline))
#endif
#ifndef DECLSPEC_NOINLINE
#define DECLSPEC_NOINLINE __attribute__((noinline))
#endif

#endif /* KM_WDK_PRELUDE_H */
