/* irql.c: the per-thread context (IRQL, previous mode, thread identity) and the IRQL routines.
 * IRQL masks nothing here (there are no interrupts); it exists for the verifier's IRQL rules. */
#include "irql_internal.h"

_Thread_local km_thread_ctx km_current_thread; /* irql_internal.h */
unsigned km_thread_ids;                         /* last thread number handed out */

void km_thread_assign_id(km_thread_ctx *t) { t->id = __atomic_add_fetch(&km_thread_ids, 1, __ATOMIC_SEQ_CST); }

/* KeGetCurrentIrql (DDI wdm/nf-wdm-kegetcurrentirql). */
KIRQL KeGetCurrentIrql(VOID) { return km_thread_current()->irql; }

/* KeRaiseIrql (DDI wdm/nf-wdm-keraiseirql): raising to a lower level is a bugcheck on Windows. */
VOID KeRaiseIrql(KIRQL NewIrql, PKIRQL OldIrql)
{
    km_thread_ctx *t = km_thread_current();
    KM_VERIFY(API_INVALID_PARAMETER, NewIrql <= HIGH_LEVEL, "KeRaiseIrql to %u", NewIrql);
    KM_VERIFY(IRQL_RAISE_TO_LOWER, NewIrql >= t->irql, "KeRaiseIrql from %u to %u", t->irql, NewIrql);
    *OldIrql = t->irql;
    t->irql = NewIrql;
}

/* KeLowerIrql (DDI wdm/nf-wdm-kelowerirql). */
VOID KeLowerIrql(KIRQL NewIrql)
{
    km_thread_ctx *t = km_thread_current();
    KM_VERIFY(IRQL_LOWER_TO_HIGHER, NewIrql <= t->irql, "KeLowerIrql from %u to %u", t->irql, NewIrql);
    t->irql = NewIrql;
}

/* KeRaiseIrqlToDpcLevel (DDI wdm/nf-wdm-keraiseirqltodpclevel). */
KIRQL KeRaiseIrqlToDpcLevel(VOID)
{
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    return old;
}

/* PAGED_CODE(): a checked-build assertion on Windows, a verifier check in every build of the model. */
VOID KmPagedCodeCheck(const char *Function)
{
    KIRQL irql = km_thread_current()->irql;
    KM_VERIFY(IRQL_PAGED_CODE, irql <= APC_LEVEL, "%s at IRQL %u", Function != NULL ? Function : "?", irql);
}

/* ExGetPreviousMode (DDI wdm/nf-wdm-exgetpreviousmode): set per thread by km_set_previous_mode. */
KPROCESSOR_MODE ExGetPreviousMode(VOID) { return km_thread_current()->previous_mode; }

void km_set_previous_mode(KPROCESSOR_MODE mode)
{
    KM_VERIFY(API_INVALID_PARAMETER, mode == KernelMode || mode == UserMode, "km_set_previous_mode(%d)", mode);
    km_thread_current()->previous_mode = mode;
}

/* KeGetCurrentThread (DDI wdm/nf-wdm-kegetcurrentthread): the thread context stands in for the
 * KTHREAD; callers only compare it (mutex ownership), so its contents are never exposed. */
PKTHREAD KeGetCurrentThread(VOID) { return (PKTHREAD)(void *)km_thread_current(); }

/* A fresh model starts the calling thread at PASSIVE_LEVEL in KernelMode holding nothing, as thread 1. */
static void km_irql_reset(void)
{
    __atomic_store_n(&km_thread_ids, 0, __ATOMIC_SEQ_CST);
    km_current_thread = (km_thread_ctx){ .irql = PASSIVE_LEVEL, .previous_mode = KernelMode };
    (void)km_thread_current();
}

KM_MODULE(irql, 50, km_irql_reset, NULL, NULL, NULL, km_irql_reset)
