/* ks_test_filter.h: a small KS filter driver that hosts allocators for tests: device
 * "\Device\KsTestFilter" -> filter (KSSTRING_Filter) -> pin (KSSTRING_Pin) -> allocator
 * (KSSTRING_Allocator, created by KsCreateDefaultAllocator or KsCreateDefaultAllocatorEx with a
 * configurable callback set). */
#ifndef KS_TEST_FILTER_H
#define KS_TEST_FILTER_H

#include <ntddk.h>
#include <ks.h>

#define KSTF_DEVICE_NAME L"\\Device\\KsTestFilter"

/* Which of KsCreateDefaultAllocatorEx's five optional arguments the allocator create passes, and
 * how the driver's callbacks behave. All-zero = KsCreateDefaultAllocatorEx(Irp, NULL x5);
 * `plain` = KsCreateDefaultAllocator(Irp) (the pass_* fields are then ignored). */
typedef struct {
    BOOLEAN plain;
    BOOLEAN pass_initialize_context;
    BOOLEAN pass_default_allocate;
    BOOLEAN pass_default_free;
    BOOLEAN pass_initialize_allocator;
    BOOLEAN pass_delete_allocator;
    NTSTATUS initialize_status;   /* what InitializeAllocator returns (STATUS_SUCCESS = works) */
    BOOLEAN allocate_fails;       /* DefaultAllocate returns NULL */
    BOOLEAN allocate_misaligned;  /* DefaultAllocate returns a frame one byte off its alignment */
    BOOLEAN (*allocate_hook)(VOID); /* called first by DefaultAllocate, if set: a test acts while the
                                     * allocator has a slot reserved; TRUE makes DefaultAllocate fail */
} kstf_allocator_config;

/* Calls the driver's callbacks received, for tests to compare against the rules. */
typedef struct {
    ULONG initialize_calls;
    ULONG allocate_calls;
    ULONG free_calls;
    ULONG delete_calls;
    PVOID last_initialize_context;  /* InitializeContext as InitializeAllocator saw it */
    PVOID last_context;             /* Context as DefaultAllocate/DefaultFree/DeleteAllocator saw it */
    KSALLOCATOR_FRAMING last_framing; /* the framing InitializeAllocator saw */
} kstf_callback_counts;

/* The InitializeContext value the driver passes when pass_initialize_context is set, and the
 * allocator context its InitializeAllocator returns. */
#define KSTF_INITIALIZE_CONTEXT ((PVOID)(ULONG_PTR)0x1C0FFEE0)

VOID kstf_configure_allocator(const kstf_allocator_config *Config);

/* Which allocator the pin's KSSTRING_Allocator create item hosts: the default allocator
 * (KsCreateDefaultAllocatorEx with the callback set above) or the pin's own filter-specific allocator
 * (KSTF_FILTER_SPECIFIC_CREATE, see below), which ignores the callback set. */
typedef enum { KSTF_PIN_DEFAULT_ALLOCATOR = 0, KSTF_PIN_FILTER_SPECIFIC = 1 } kstf_pin_allocator;
VOID kstf_configure_pin_allocator(kstf_pin_allocator Which);

/* The filter-specific allocator's create-item handler (a DRIVER_DISPATCH that completes the IRP):
 * allocator_fs/'s FsaCreateAllocator, or the routine a seam build names in KM_ALLOCATOR_CREATE_HANDLER. */
#ifndef KSTF_FILTER_SPECIFIC_CREATE
#define KSTF_FILTER_SPECIFIC_CREATE FsaCreateAllocator
#endif
DRIVER_DISPATCH KSTF_FILTER_SPECIFIC_CREATE;
VOID kstf_get_callback_counts(kstf_callback_counts *Counts);
/* The pin's KSALLOCATOR_FRAMING_EX, also served as KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX. */
const KSALLOCATOR_FRAMING_EX *kstf_pin_framing_ex(void);

DRIVER_INITIALIZE kstf_driver_entry;

#endif /* KS_TEST_FILTER_H */
