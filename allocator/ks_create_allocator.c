/* ks_create_allocator.c: KsCreateAllocator (kernel) and KsUserCreateAllocator (the ksuser.dll
 * form): open an allocator relative to a sink pin handle (facts §1.2, §2.1; decisions Q7). */
#include "ksa_internal.h"

/* Builds KSSTRING_Allocator + '\' + the raw 24-byte framing, Length == MaximumLength == 102. */
static VOID ksa_init_name(UNICODE_STRING *Name, WCHAR Buffer[KSA_NAME_BYTES / sizeof(WCHAR)],
                          const KSALLOCATOR_FRAMING *Framing)
{
    ksa_build_create_name(Buffer, Framing);
    Name->Length = Name->MaximumLength = (USHORT)KSA_NAME_BYTES;
    Name->Buffer = Buffer;
}

/* KsCreateAllocator, kernel form (DDI nf-ks-kscreateallocator). ZwCreateFile(GENERIC_READ,
 * FILE_ATTRIBUTE_NORMAL, no sharing, FILE_OPEN, no options) relative to ConnectionHandle with
 * OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE. The framing is sent as given: the sink validates it.
 * *AllocatorHandle is NULL on failure. Not modelled: IO_FORCE_ACCESS_CHECK (Q20). PASSIVE_LEVEL. */
NTSTATUS NTAPI KsCreateAllocator(HANDLE ConnectionHandle, PKSALLOCATOR_FRAMING AllocatorFraming,
                                 PHANDLE AllocatorHandle)
{
    PAGED_CODE();
    if (AllocatorHandle == NULL)
        return STATUS_INVALID_PARAMETER;
    *AllocatorHandle = NULL; /* before any other check: NULL on every failure (decisions Q7) */
    if (AllocatorFraming == NULL)
        return STATUS_INVALID_PARAMETER;
    WCHAR buffer[KSA_NAME_BYTES / sizeof(WCHAR)];
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    HANDLE handle = NULL;
    ksa_init_name(&name, buffer, AllocatorFraming);
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, ConnectionHandle, NULL);
    NTSTATUS status = ZwCreateFile(&handle, GENERIC_READ, &attributes, &iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0,
                                   FILE_OPEN, 0, NULL, 0);
    if (NT_SUCCESS(status))
        *AllocatorHandle = handle;
    return status;
}

/* KsCreateAllocator, user-mode form (ksuser.dll; DWORD per MINGW/MS-META). NtCreateFile with the
 * same arguments but OBJ_CASE_INSENSITIVE only (the calling thread's previous mode applies).
 * Returns 0 whenever a handle is returned (any success status: a handle with an error code would
 * leak), else RtlNtStatusToDosError(status) and *AllocatorHandle = INVALID_HANDLE_VALUE; NULL
 * arguments give ERROR_INVALID_PARAMETER (decisions Q7). */
DWORD WINAPI KsUserCreateAllocator(HANDLE ConnectionHandle, PKSALLOCATOR_FRAMING AllocatorFraming,
                                   PHANDLE AllocatorHandle)
{
    if (AllocatorHandle == NULL)
        return ERROR_INVALID_PARAMETER;
    *AllocatorHandle = INVALID_HANDLE_VALUE;
    if (AllocatorFraming == NULL)
        return ERROR_INVALID_PARAMETER;
    WCHAR buffer[KSA_NAME_BYTES / sizeof(WCHAR)];
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    HANDLE handle = NULL;
    ksa_init_name(&name, buffer, AllocatorFraming);
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE, ConnectionHandle, NULL);
    NTSTATUS status = NtCreateFile(&handle, GENERIC_READ, &attributes, &iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0,
                                   FILE_OPEN, 0, NULL, 0);
    if (!NT_SUCCESS(status))
        return RtlNtStatusToDosError(status);
    *AllocatorHandle = handle;
    return ERROR_SUCCESS;
}
