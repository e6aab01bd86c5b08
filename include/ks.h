/* ks.h: the Kernel Streaming subset around allocators: identifiers, framing structures, create
 * items, dispatch tables, property/method/event tables and the allocator routines. Layouts are the
 * Windows x64 ones (facts file §3; checked by static assertions here and by the mingw ABI probe). */
#ifndef KM_KS_H
#define KM_KS_H

#include "wdm.h"
#include "winerror.h"

#if defined(_NTDDK_) || defined(_WDMDDK_)
#define KM_KS_KERNEL 1
#endif

#define KSDDKAPI

/* GUIDs are static objects here, so no translation unit has to define INITGUID for them. */
#define KM_KS_GUID_(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8) \
    static const GUID name __attribute__((unused)) = { l, w1, w2, { b1, b2, b3, b4, b5, b6, b7, b8 } }
#define KM_KS_GUID(name, ...) KM_KS_GUID_(name, __VA_ARGS__)
#define DEFINE_GUIDSTRUCT(g, n) /* named GUIDs are declared by KM_KS_GUID */
#define DEFINE_GUIDNAMED(n) n
#define STATICGUIDOF(n) STATIC_##n

/* ---- Identifiers (KSPROPERTY = KSMETHOD = KSEVENT = KSIDENTIFIER) -------------------------- */
typedef struct {
    union {
        struct {
            GUID Set;
            ULONG Id;
            ULONG Flags;
        };
        LONGLONG Alignment;
    };
} KSIDENTIFIER, *PKSIDENTIFIER;
typedef KSIDENTIFIER KSPROPERTY, *PKSPROPERTY, KSMETHOD, *PKSMETHOD, KSEVENT, *PKSEVENT;

typedef struct {
    KSPROPERTY Property;
    ULONG NodeId;
    ULONG Reserved;
} KSP_NODE, *PKSP_NODE;
typedef struct {
    KSMETHOD Method;
    ULONG NodeId;
    ULONG Reserved;
} KSM_NODE, *PKSM_NODE;
typedef struct {
    KSEVENT Event;
    ULONG NodeId;
    ULONG Reserved;
} KSE_NODE, *PKSE_NODE;

#define KSPROPERTY_TYPE_GET             0x00000001
#define KSPROPERTY_TYPE_SET             0x00000002
#define KSPROPERTY_TYPE_SETSUPPORT      0x00000100
#define KSPROPERTY_TYPE_BASICSUPPORT    0x00000200
#define KSPROPERTY_TYPE_RELATIONS       0x00000400
#define KSPROPERTY_TYPE_SERIALIZESET    0x00000800
#define KSPROPERTY_TYPE_UNSERIALIZESET  0x00001000
#define KSPROPERTY_TYPE_SERIALIZERAW    0x00002000
#define KSPROPERTY_TYPE_UNSERIALIZERAW  0x00004000
#define KSPROPERTY_TYPE_SERIALIZESIZE   0x00008000
#define KSPROPERTY_TYPE_DEFAULTVALUES   0x00010000
#define KSPROPERTY_TYPE_TOPOLOGY        0x10000000

#define KSMETHOD_TYPE_NONE         0x00000000
#define KSMETHOD_TYPE_READ         0x00000001
#define KSMETHOD_TYPE_WRITE        0x00000002
#define KSMETHOD_TYPE_MODIFY       0x00000003
#define KSMETHOD_TYPE_SOURCE       0x00000004
#define KSMETHOD_TYPE_SEND         0x00000001
#define KSMETHOD_TYPE_SETSUPPORT   0x00000100
#define KSMETHOD_TYPE_BASICSUPPORT 0x00000200
#define KSMETHOD_TYPE_TOPOLOGY     0x10000000

#define KSEVENT_TYPE_ENABLE         0x00000001
#define KSEVENT_TYPE_ONESHOT        0x00000002
#define KSEVENT_TYPE_ENABLEBUFFERED 0x00000004
#define KSEVENT_TYPE_SETSUPPORT     0x00000100
#define KSEVENT_TYPE_BASICSUPPORT   0x00000200
#define KSEVENT_TYPE_QUERYBUFFER    0x00000400
#define KSEVENT_TYPE_TOPOLOGY       0x10000000

#define KSEVENTF_EVENT_HANDLE     0x00000001
#define KSEVENTF_SEMAPHORE_HANDLE 0x00000002
#define KSEVENTF_EVENT_OBJECT     0x00000004
#define KSEVENTF_SEMAPHORE_OBJECT 0x00000008
#define KSEVENTF_DPC              0x00000010
#define KSEVENTF_WORKITEM         0x00000020
#define KSEVENTF_KSWORKITEM       0x00000080

#define KSPROPERTY_TYPE_ALL (KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_SET)

/* ---- IOCTLs (all METHOD_NEITHER) ----------------------------------------------------------- */
#define IOCTL_KS_PROPERTY      CTL_CODE(FILE_DEVICE_KS, 0x000, METHOD_NEITHER, FILE_ANY_ACCESS)
#define IOCTL_KS_ENABLE_EVENT  CTL_CODE(FILE_DEVICE_KS, 0x001, METHOD_NEITHER, FILE_ANY_ACCESS)
#define IOCTL_KS_DISABLE_EVENT CTL_CODE(FILE_DEVICE_KS, 0x002, METHOD_NEITHER, FILE_ANY_ACCESS)
#define IOCTL_KS_METHOD        CTL_CODE(FILE_DEVICE_KS, 0x003, METHOD_NEITHER, FILE_ANY_ACCESS)
#define IOCTL_KS_WRITE_STREAM  CTL_CODE(FILE_DEVICE_KS, 0x004, METHOD_NEITHER, FILE_WRITE_ACCESS)
#define IOCTL_KS_READ_STREAM   CTL_CODE(FILE_DEVICE_KS, 0x005, METHOD_NEITHER, FILE_READ_ACCESS)
#define IOCTL_KS_RESET_STATE   CTL_CODE(FILE_DEVICE_KS, 0x006, METHOD_NEITHER, FILE_ANY_ACCESS)
#define IOCTL_KS_HANDSHAKE     CTL_CODE(FILE_DEVICE_KS, 0x007, METHOD_NEITHER, FILE_ANY_ACCESS)

/* ---- Object classes ------------------------------------------------------------------------ */
#define STATIC_KSNAME_Filter 0x9b365890L, 0x165f, 0x11d0, 0xa1, 0x95, 0x00, 0x20, 0xaf, 0xd1, 0x56, 0xe4
KM_KS_GUID(KSNAME_Filter, STATIC_KSNAME_Filter);
#define KSSTRING_Filter L"{9B365890-165F-11D0-A195-0020AFD156E4}"
#define STATIC_KSNAME_Pin 0x146F1A80L, 0x4791, 0x11D0, 0xA5, 0xD6, 0x28, 0xDB, 0x04, 0xC1, 0x00, 0x00
KM_KS_GUID(KSNAME_Pin, STATIC_KSNAME_Pin);
#define KSSTRING_Pin L"{146F1A80-4791-11D0-A5D6-28DB04C10000}"
#define STATIC_KSNAME_Clock 0x53172480L, 0x4791, 0x11D0, 0xA5, 0xD6, 0x28, 0xDB, 0x04, 0xC1, 0x00, 0x00
KM_KS_GUID(KSNAME_Clock, STATIC_KSNAME_Clock);
#define KSSTRING_Clock L"{53172480-4791-11D0-A5D6-28DB04C10000}"
#define STATIC_KSNAME_Allocator 0x642F5D00L, 0x4791, 0x11D0, 0xA5, 0xD6, 0x28, 0xDB, 0x04, 0xC1, 0x00, 0x00
KM_KS_GUID(KSNAME_Allocator, STATIC_KSNAME_Allocator);
#define KSSTRING_Allocator L"{642F5D00-4791-11D0-A5D6-28DB04C10000}"
#define STATIC_KSNAME_AllocatorEx 0x091BB63BL, 0x603F, 0x11D1, 0xB0, 0x67, 0x00, 0xA0, 0xC9, 0x06, 0x28, 0x02
KM_KS_GUID(KSNAME_AllocatorEx, STATIC_KSNAME_AllocatorEx);
#define KSSTRING_AllocatorEx L"{091BB63B-603F-11D1-B067-00A0C9062802}"

/* ---- Allocator framing --------------------------------------------------------------------- */
#define KSALLOCATOR_REQUIREMENTF_INPLACE_MODIFIER 0x00000001
#define KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY    0x00000002
#define KSALLOCATOR_REQUIREMENTF_FRAME_INTEGRITY  0x00000004
#define KSALLOCATOR_REQUIREMENTF_MUST_ALLOCATE    0x00000008
#define KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY_CUSTOM_ALLOCATION 0x00000010
#define KSALLOCATOR_REQUIREMENTF_PREFERENCES_ONLY 0x80000000
#define KSALLOCATOR_OPTIONF_COMPATIBLE    0x00000001
#define KSALLOCATOR_OPTIONF_SYSTEM_MEMORY 0x00000002
#define KSALLOCATOR_OPTIONF_VALID         0x00000003
#define KSALLOCATOR_FLAG_PARTIAL_READ_SUPPORT     0x00000010
#define KSALLOCATOR_FLAG_DEVICE_SPECIFIC          0x00000020
#define KSALLOCATOR_FLAG_CAN_ALLOCATE             0x00000040
#define KSALLOCATOR_FLAG_INSIST_ON_FRAMESIZE_RATIO 0x00000080
#define KSALLOCATOR_FLAG_NO_FRAME_INTEGRITY       0x00000100
#define KSALLOCATOR_FLAG_MULTIPLE_OUTPUT          0x00000200
#define KSALLOCATOR_FLAG_CYCLE                    0x00000400
#define KSALLOCATOR_FLAG_ALLOCATOR_EXISTS         0x00000800
#define KSALLOCATOR_FLAG_INDEPENDENT_RANGES       0x00001000
#define KSALLOCATOR_FLAG_ATTENTION_STEPPING       0x00002000
#define KSALLOCATOR_FLAG_ENABLE_CACHED_MDL        0x00004000
#define KSALLOCATOR_FLAG_2D_BUFFER_REQUIRED       0x00008000

typedef struct {
    union {
        ULONG OptionsFlags;
        ULONG RequirementsFlags;
    };
#ifdef KM_KS_KERNEL
    POOL_TYPE PoolType;
#else
    ULONG PoolType;
#endif
    ULONG Frames;
    ULONG FrameSize;
    union {
        ULONG FileAlignment;
        LONG FramePitch;
    };
    ULONG Reserved;
} KSALLOCATOR_FRAMING, *PKSALLOCATOR_FRAMING;

typedef struct {
    ULONG MinFrameSize;
    ULONG MaxFrameSize;
    ULONG Stepping;
} KS_FRAMING_RANGE, *PKS_FRAMING_RANGE;

typedef struct {
    KS_FRAMING_RANGE Range;
    ULONG InPlaceWeight;
    ULONG NotInPlaceWeight;
} KS_FRAMING_RANGE_WEIGHTED, *PKS_FRAMING_RANGE_WEIGHTED;

typedef struct {
    ULONG RatioNumerator;
    ULONG RatioDenominator;
    ULONG RatioConstantMargin;
} KS_COMPRESSION, *PKS_COMPRESSION;

typedef struct {
    GUID MemoryType;
    GUID BusType;
    ULONG MemoryFlags;
    ULONG BusFlags;
    ULONG Flags;
    ULONG Frames;
    union {
        ULONG FileAlignment;
        LONG FramePitch;
    };
    ULONG MemoryTypeWeight;
    KS_FRAMING_RANGE PhysicalRange;
    KS_FRAMING_RANGE_WEIGHTED FramingRange;
} KS_FRAMING_ITEM, *PKS_FRAMING_ITEM;

typedef struct {
    ULONG CountItems;
    ULONG PinFlags;
    KS_COMPRESSION OutputCompression;
    ULONG PinWeight;
    KS_FRAMING_ITEM FramingItem[1];
} KSALLOCATOR_FRAMING_EX, *PKSALLOCATOR_FRAMING_EX;

#define STATIC_KSMEMORY_TYPE_SYSTEM 0x091bb638L, 0x603f, 0x11d1, 0xb0, 0x67, 0x00, 0xa0, 0xc9, 0x06, 0x28, 0x02
KM_KS_GUID(KSMEMORY_TYPE_SYSTEM, STATIC_KSMEMORY_TYPE_SYSTEM);
#define STATIC_KSMEMORY_TYPE_USER 0x8cb0fc28L, 0x7893, 0x11d1, 0xb0, 0x69, 0x00, 0xa0, 0xc9, 0x06, 0x28, 0x02
KM_KS_GUID(KSMEMORY_TYPE_USER, STATIC_KSMEMORY_TYPE_USER);
#define STATIC_KSMEMORY_TYPE_KERNEL_PAGED 0xd833f8f8L, 0x7894, 0x11d1, 0xb0, 0x69, 0x00, 0xa0, 0xc9, 0x06, 0x28, 0x02
KM_KS_GUID(KSMEMORY_TYPE_KERNEL_PAGED, STATIC_KSMEMORY_TYPE_KERNEL_PAGED);
#define STATIC_KSMEMORY_TYPE_KERNEL_NONPAGED 0x4a6d5fc4L, 0x7895, 0x11d1, 0xb0, 0x69, 0x00, 0xa0, 0xc9, 0x06, 0x28, 0x02
KM_KS_GUID(KSMEMORY_TYPE_KERNEL_NONPAGED, STATIC_KSMEMORY_TYPE_KERNEL_NONPAGED);
#define STATIC_KSMEMORY_TYPE_DEVICE_UNKNOWN 0x091bb639L, 0x603f, 0x11d1, 0xb0, 0x67, 0x00, 0xa0, 0xc9, 0x06, 0x28, 0x02
KM_KS_GUID(KSMEMORY_TYPE_DEVICE_UNKNOWN, STATIC_KSMEMORY_TYPE_DEVICE_UNKNOWN);
#define STATIC_KS_TYPE_DONT_CARE 0x00000000L, 0x0000, 0x0000, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00
KM_KS_GUID(KS_TYPE_DONT_CARE, STATIC_KS_TYPE_DONT_CARE);
#define KSMEMORY_TYPE_WILDCARD KS_TYPE_DONT_CARE
#define KSMEMORY_TYPE_DONT_CARE KS_TYPE_DONT_CARE

typedef struct {
    KSALLOCATOR_FRAMING Framing;
    ULONG AllocatedFrames;
    ULONG Reserved;
} KSSTREAMALLOCATOR_STATUS, *PKSSTREAMALLOCATOR_STATUS;

typedef struct {
    KSALLOCATOR_FRAMING_EX Framing;
    ULONG AllocatedFrames;
    ULONG Reserved;
} KSSTREAMALLOCATOR_STATUS_EX, *PKSSTREAMALLOCATOR_STATUS_EX;

/* ---- Allocator property, method and event sets --------------------------------------------- */
#define STATIC_KSPROPSETID_StreamAllocator 0x0cf6e4342L, 0xec87, 0x11cf, 0xa1, 0x30, 0x00, 0x20, 0xaf, 0xd1, 0x56, 0xe4
KM_KS_GUID(KSPROPSETID_StreamAllocator, STATIC_KSPROPSETID_StreamAllocator);
typedef enum {
    KSPROPERTY_STREAMALLOCATOR_FUNCTIONTABLE,
    KSPROPERTY_STREAMALLOCATOR_STATUS
} KSPROPERTY_STREAMALLOCATOR;

#define STATIC_KSMETHODSETID_StreamAllocator 0xcf6e4341L, 0xec87, 0x11cf, 0xa1, 0x30, 0x00, 0x20, 0xaf, 0xd1, 0x56, 0xe4
KM_KS_GUID(KSMETHODSETID_StreamAllocator, STATIC_KSMETHODSETID_StreamAllocator);
typedef enum {
    KSMETHOD_STREAMALLOCATOR_ALLOC,
    KSMETHOD_STREAMALLOCATOR_FREE
} KSMETHOD_STREAMALLOCATOR;

#define STATIC_KSEVENTSETID_StreamAllocator 0x75d95571L, 0x073c, 0x11d0, 0xa1, 0x61, 0x00, 0x20, 0xaf, 0xd1, 0x56, 0xe4
KM_KS_GUID(KSEVENTSETID_StreamAllocator, STATIC_KSEVENTSETID_StreamAllocator);
typedef enum {
    KSEVENT_STREAMALLOCATOR_INTERNAL_FREEFRAME,
    KSEVENT_STREAMALLOCATOR_FREEFRAME
} KSEVENT_STREAMALLOCATOR;

#define STATIC_KSPROPSETID_Connection 0x1D58C920L, 0xAC9B, 0x11CF, 0xA5, 0xD6, 0x28, 0xDB, 0x04, 0xC1, 0x00, 0x00
KM_KS_GUID(KSPROPSETID_Connection, STATIC_KSPROPSETID_Connection);
typedef enum {
    KSPROPERTY_CONNECTION_STATE,
    KSPROPERTY_CONNECTION_PRIORITY,
    KSPROPERTY_CONNECTION_DATAFORMAT,
    KSPROPERTY_CONNECTION_ALLOCATORFRAMING,
    KSPROPERTY_CONNECTION_PROPOSEDATAFORMAT,
    KSPROPERTY_CONNECTION_ACQUIREORDERING,
    KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX,
    KSPROPERTY_CONNECTION_STARTAT
} KSPROPERTY_CONNECTION;

#define STATIC_KSPROPSETID_Stream 0x65aaba60L, 0x98ae, 0x11cf, 0xa1, 0x0d, 0x00, 0x20, 0xaf, 0xd1, 0x56, 0xe4
KM_KS_GUID(KSPROPSETID_Stream, STATIC_KSPROPSETID_Stream);
#define KSPROPERTY_STREAM_ALLOCATOR 0

#ifdef KM_KS_KERNEL
typedef NTSTATUS (*PFNALLOCATOR_ALLOCATEFRAME)(PFILE_OBJECT FileObject, PVOID *Frame);
typedef VOID (*PFNALLOCATOR_FREEFRAME)(PFILE_OBJECT FileObject, PVOID Frame);
typedef struct {
    PFNALLOCATOR_ALLOCATEFRAME AllocateFrame;
    PFNALLOCATOR_FREEFRAME FreeFrame;
} KSSTREAMALLOCATOR_FUNCTIONTABLE, *PKSSTREAMALLOCATOR_FUNCTIONTABLE;
#endif

/* ---- Create items, object headers and dispatch tables -------------------------------------- */
#ifdef KM_KS_KERNEL
typedef PVOID KSDEVICE_HEADER, KSOBJECT_HEADER;

typedef struct {
    PDRIVER_DISPATCH DeviceIoControl;
    PDRIVER_DISPATCH Read;
    PDRIVER_DISPATCH Write;
    PDRIVER_DISPATCH Flush;
    PDRIVER_DISPATCH Close;
    PDRIVER_DISPATCH QuerySecurity;
    PDRIVER_DISPATCH SetSecurity;
    PFAST_IO_DEVICE_CONTROL FastDeviceIoControl;
    PFAST_IO_READ FastRead;
    PFAST_IO_WRITE FastWrite;
} KSDISPATCH_TABLE, *PKSDISPATCH_TABLE;

#define DEFINE_KSDISPATCH_TABLE(tablename, DeviceIoControl, Read, Write, Flush, Close, QuerySecurity, SetSecurity, \
                                FastDeviceIoControl, FastRead, FastWrite) \
    const KSDISPATCH_TABLE tablename = { DeviceIoControl, Read, Write, Flush, Close, QuerySecurity, SetSecurity, \
                                         FastDeviceIoControl, FastRead, FastWrite }

#define KSCREATE_ITEM_SECURITYCHANGED 0x00000001
#define KSCREATE_ITEM_WILDCARD        0x00000002
#define KSCREATE_ITEM_NOPARAMETERS    0x00000004
#define KSCREATE_ITEM_FREEONSTOP      0x00000008

typedef struct {
    PDRIVER_DISPATCH Create;
    PVOID Context;
    UNICODE_STRING ObjectClass;
    PSECURITY_DESCRIPTOR SecurityDescriptor;
    ULONG Flags;
} KSOBJECT_CREATE_ITEM, *PKSOBJECT_CREATE_ITEM;

typedef struct {
    ULONG CreateItemsCount;
    PKSOBJECT_CREATE_ITEM CreateItemsList;
} KSOBJECT_CREATE, *PKSOBJECT_CREATE;

#define DEFINE_KSCREATE_DISPATCH_TABLE(tablename) const KSOBJECT_CREATE_ITEM tablename[] =
#define DEFINE_KSCREATE_ITEM(DispatchCreate, TypeName, Context) \
    { (DispatchCreate), (PVOID)(Context), \
      { sizeof(TypeName) - sizeof(UNICODE_NULL), sizeof(TypeName), (PWCHAR)(TypeName) }, NULL, 0 }
#define DEFINE_KSCREATE_ITEMEX(DispatchCreate, TypeName, Context, Flags) \
    { (DispatchCreate), (PVOID)(Context), \
      { sizeof(TypeName) - sizeof(UNICODE_NULL), sizeof(TypeName), (PWCHAR)(TypeName) }, NULL, (Flags) }
#define DEFINE_KSCREATE_ITEMNULL(DispatchCreate, Context) \
    { (DispatchCreate), (PVOID)(Context), { 0, 0, NULL }, NULL, 0 }

#define KSDISPATCH_FASTIO 0x80000000

/* The IRP storage slots KS uses in Tail.Overlay.DriverContext. */
#define KSCREATE_ITEM_IRP_STORAGE(Irp) (*(PKSOBJECT_CREATE_ITEM *)&(Irp)->Tail.Overlay.DriverContext[0])
#define KSEVENT_SET_IRP_STORAGE(Irp) (*(const KSEVENT_SET **)&(Irp)->Tail.Overlay.DriverContext[0])
#define KSEVENT_ITEM_IRP_STORAGE(Irp) (*(const KSEVENT_ITEM **)&(Irp)->Tail.Overlay.DriverContext[3])
#define KSEVENT_ENTRY_IRP_STORAGE(Irp) (*(PKSEVENT_ENTRY *)&(Irp)->Tail.Overlay.DriverContext[0])
#define KSMETHOD_SET_IRP_STORAGE(Irp) (*(const KSMETHOD_SET **)&(Irp)->Tail.Overlay.DriverContext[0])
#define KSMETHOD_ITEM_IRP_STORAGE(Irp) (*(const KSMETHOD_ITEM **)&(Irp)->Tail.Overlay.DriverContext[3])
#define KSMETHOD_TYPE_IRP_STORAGE(Irp) (*(ULONG_PTR *)(&(Irp)->Tail.Overlay.DriverContext[2]))
#define KSPROPERTY_SET_IRP_STORAGE(Irp) (*(const KSPROPERTY_SET **)&(Irp)->Tail.Overlay.DriverContext[0])
#define KSPROPERTY_ITEM_IRP_STORAGE(Irp) (*(const KSPROPERTY_ITEM **)&(Irp)->Tail.Overlay.DriverContext[3])

/* ---- Property, method and event tables ----------------------------------------------------- */
typedef NTSTATUS (*PFNKSHANDLER)(PIRP Irp, PKSIDENTIFIER Request, PVOID Data);

typedef struct {
    ULONG AccessFlags;
    ULONG DescriptionSize;
    KSIDENTIFIER PropTypeSet;
    ULONG MembersListCount;
    ULONG Reserved;
} KSPROPERTY_DESCRIPTION, *PKSPROPERTY_DESCRIPTION;

typedef struct {
    ULONG MembersFlags;
    ULONG MembersSize;
    ULONG MembersCount;
    ULONG Flags;
} KSPROPERTY_MEMBERSHEADER, *PKSPROPERTY_MEMBERSHEADER;

typedef struct {
    KSPROPERTY_MEMBERSHEADER MembersHeader;
    const VOID *Members;
} KSPROPERTY_MEMBERSLIST, *PKSPROPERTY_MEMBERSLIST;

typedef struct {
    KSIDENTIFIER PropTypeSet;
    ULONG MembersListCount;
    const KSPROPERTY_MEMBERSLIST *MembersList;
} KSPROPERTY_VALUES, *PKSPROPERTY_VALUES;

typedef struct {
    ULONG PropertyId;
    union {
        PFNKSHANDLER GetPropertyHandler;
        BOOLEAN GetSupported;
    };
    ULONG MinProperty;
    ULONG MinData;
    union {
        PFNKSHANDLER SetPropertyHandler;
        BOOLEAN SetSupported;
    };
    const KSPROPERTY_VALUES *Values;
    ULONG RelationsCount;
    const KSPROPERTY *Relations;
    PFNKSHANDLER SupportHandler;
    ULONG SerializedSize;
} KSPROPERTY_ITEM, *PKSPROPERTY_ITEM;

typedef struct KSFASTPROPERTY_ITEM *PKSFASTPROPERTY_ITEM;
typedef struct {
    const GUID *Set;
    ULONG PropertiesCount;
    const KSPROPERTY_ITEM *PropertyItem;
    ULONG FastIoCount;
    const struct KSFASTPROPERTY_ITEM *FastIoTable;
} KSPROPERTY_SET, *PKSPROPERTY_SET;

#define DEFINE_KSPROPERTY_ITEM(PropertyId, GetHandler, MinProperty, MinData, SetHandler, Values, RelationsCount, \
                               Relations, SupportHandler, SerializedSize) \
    { (PropertyId), { (PFNKSHANDLER)(GetHandler) }, (MinProperty), (MinData), { (PFNKSHANDLER)(SetHandler) }, \
      (PKSPROPERTY_VALUES)(Values), (RelationsCount), (PKSPROPERTY)(Relations), (PFNKSHANDLER)(SupportHandler), \
      (ULONG)(SerializedSize) }
#define DEFINE_KSPROPERTY_TABLE(tablename) const KSPROPERTY_ITEM tablename[] =
#define DEFINE_KSPROPERTY_SET(Set, PropertiesCount, PropertyItem, FastIoCount, FastIoTable) \
    { (Set), (PropertiesCount), (PropertyItem), (FastIoCount), (FastIoTable) }
#define DEFINE_KSPROPERTY_SET_TABLE(tablename) const KSPROPERTY_SET tablename[] =

typedef struct {
    ULONG MethodId;
    union {
        PFNKSHANDLER MethodHandler;
        BOOLEAN MethodSupported;
    };
    ULONG MinMethod;
    ULONG MinData;
    PFNKSHANDLER SupportHandler;
    ULONG Flags;
} KSMETHOD_ITEM, *PKSMETHOD_ITEM;

typedef struct KSFASTMETHOD_ITEM *PKSFASTMETHOD_ITEM;
typedef struct {
    const GUID *Set;
    ULONG MethodsCount;
    const KSMETHOD_ITEM *MethodItem;
    ULONG FastIoCount;
    const struct KSFASTMETHOD_ITEM *FastIoTable;
} KSMETHOD_SET, *PKSMETHOD_SET;

#define DEFINE_KSMETHOD_ITEM(MethodId, Flags, MethodHandler, MinMethod, MinData, SupportHandler) \
    { (MethodId), { (PFNKSHANDLER)(MethodHandler) }, (MinMethod), (MinData), (PFNKSHANDLER)(SupportHandler), (Flags) }
#define DEFINE_KSMETHOD_TABLE(tablename) const KSMETHOD_ITEM tablename[] =
#define DEFINE_KSMETHOD_SET(Set, MethodsCount, MethodItem, FastIoCount, FastIoTable) \
    { (Set), (MethodsCount), (MethodItem), (FastIoCount), (FastIoTable) }
#define DEFINE_KSMETHOD_SET_TABLE(tablename) const KSMETHOD_SET tablename[] =

typedef struct _KSDPC_ITEM *PKSDPC_ITEM;
typedef struct _KSBUFFER_ITEM *PKSBUFFER_ITEM;
typedef struct _KDPC *PKDPC;
typedef PVOID PKSWORKER;

typedef struct {
    ULONG NotificationType;
    union {
        struct {
            HANDLE Event;
            ULONG_PTR Reserved[2];
        } EventHandle;
        struct {
            HANDLE Semaphore;
            ULONG Reserved;
            LONG Adjustment;
        } SemaphoreHandle;
        struct {
            PVOID Event;
            KPRIORITY Increment;
            ULONG_PTR Reserved;
        } EventObject;
        struct {
            PVOID Semaphore;
            KPRIORITY Increment;
            LONG Adjustment;
        } SemaphoreObject;
        struct {
            PKDPC Dpc;
            ULONG ReferenceCount;
            ULONG_PTR Reserved;
        } Dpc;
        struct {
            PWORK_QUEUE_ITEM WorkQueueItem;
            WORK_QUEUE_TYPE WorkQueueType;
            ULONG_PTR Reserved;
        } WorkItem;
        struct {
            PWORK_QUEUE_ITEM WorkQueueItem;
            PKSWORKER KsWorkerObject;
            ULONG_PTR Reserved;
        } KsWorkItem;
        struct {
            PVOID Unused;
            LONG_PTR Alignment[2];
        } Alignment;
    };
} KSEVENTDATA, *PKSEVENTDATA;

typedef struct _KSEVENT_ENTRY KSEVENT_ENTRY, *PKSEVENT_ENTRY;
typedef NTSTATUS (*PFNKSADDEVENT)(PIRP Irp, PKSEVENTDATA EventData, struct _KSEVENT_ENTRY *EventEntry);
typedef VOID (*PFNKSREMOVEEVENT)(PFILE_OBJECT FileObject, struct _KSEVENT_ENTRY *EventEntry);

typedef struct {
    ULONG EventId;
    ULONG DataInput;
    ULONG ExtraEntryData;
    PFNKSADDEVENT AddHandler;
    PFNKSREMOVEEVENT RemoveHandler;
    PFNKSHANDLER SupportHandler;
} KSEVENT_ITEM, *PKSEVENT_ITEM;

typedef struct {
    const GUID *Set;
    ULONG EventsCount;
    const KSEVENT_ITEM *EventItem;
} KSEVENT_SET, *PKSEVENT_SET;

#define DEFINE_KSEVENT_ITEM(EventId, DataInput, ExtraEntryData, AddHandler, RemoveHandler, SupportHandler) \
    { (EventId), (DataInput), (ExtraEntryData), (PFNKSADDEVENT)(AddHandler), (PFNKSREMOVEEVENT)(RemoveHandler), \
      (PFNKSHANDLER)(SupportHandler) }
#define DEFINE_KSEVENT_TABLE(tablename) const KSEVENT_ITEM tablename[] =
#define DEFINE_KSEVENT_SET(Set, EventsCount, EventItem) { (Set), (EventsCount), (EventItem) }
#define DEFINE_KSEVENT_SET_TABLE(tablename) const KSEVENT_SET tablename[] =

struct _KSEVENT_ENTRY {
    LIST_ENTRY ListEntry;
    PVOID Object;
    union {
        PKSDPC_ITEM DpcItem;
        PKSBUFFER_ITEM BufferItem;
    };
    PKSEVENTDATA EventData;
    ULONG NotificationType;
    const KSEVENT_SET *EventSet;
    const KSEVENT_ITEM *EventItem;
    PFILE_OBJECT FileObject;
    ULONG SemaphoreAdjustment;
    ULONG Reserved;
    ULONG Flags;
};

typedef enum {
    KSEVENTS_NONE,
    KSEVENTS_SPINLOCK,
    KSEVENTS_MUTEX,
    KSEVENTS_FMUTEX,
    KSEVENTS_FMUTEXUNSAFE,
    KSEVENTS_INTERRUPT,
    KSEVENTS_ERESOURCE
} KSEVENTS_LOCKTYPE;

/* ---- Default allocator callbacks ----------------------------------------------------------- */
typedef PVOID (*PFNKSDEFAULTALLOCATE)(PVOID Context);
typedef VOID (*PFNKSDEFAULTFREE)(PVOID Context, PVOID Buffer);
typedef NTSTATUS (*PFNKSINITIALIZEALLOCATOR)(PVOID InitialContext, PKSALLOCATOR_FRAMING AllocatorFraming,
                                             PVOID *Context);
typedef VOID (*PFNKSDELETEALLOCATOR)(PVOID Context);

/* ---- Routines: KS framework (provided by the kernel model, harness/) ----------------------- */
KSDDKAPI NTSTATUS NTAPI KsAllocateDeviceHeader(KSDEVICE_HEADER *Header, ULONG ItemsCount,
                                               PKSOBJECT_CREATE_ITEM ItemsList);
KSDDKAPI VOID NTAPI KsFreeDeviceHeader(KSDEVICE_HEADER Header);
KSDDKAPI NTSTATUS NTAPI KsAllocateObjectHeader(KSOBJECT_HEADER *Header, ULONG ItemsCount,
                                               PKSOBJECT_CREATE_ITEM ItemsList, PIRP Irp,
                                               const KSDISPATCH_TABLE *Table);
KSDDKAPI VOID NTAPI KsFreeObjectHeader(KSOBJECT_HEADER Header);
KSDDKAPI NTSTATUS NTAPI KsDispatchIrp(PDEVICE_OBJECT DeviceObject, PIRP Irp);
KSDDKAPI NTSTATUS NTAPI KsSetMajorFunctionHandler(PDRIVER_OBJECT DriverObject, ULONG MajorFunction);
KSDDKAPI NTSTATUS NTAPI KsDispatchInvalidDeviceRequest(PDEVICE_OBJECT DeviceObject, PIRP Irp);
KSDDKAPI BOOLEAN NTAPI KsDispatchFastIoDeviceControlFailure(PFILE_OBJECT FileObject, BOOLEAN Wait,
                                                            PVOID InputBuffer, ULONG InputBufferLength,
                                                            PVOID OutputBuffer, ULONG OutputBufferLength,
                                                            ULONG IoControlCode, PIO_STATUS_BLOCK IoStatus,
                                                            PDEVICE_OBJECT DeviceObject);
KSDDKAPI BOOLEAN NTAPI KsDispatchFastReadFailure(PFILE_OBJECT FileObject, PLARGE_INTEGER FileOffset, ULONG Length,
                                                 BOOLEAN Wait, ULONG LockKey, PVOID Buffer,
                                                 PIO_STATUS_BLOCK IoStatus, PDEVICE_OBJECT DeviceObject);
#define KsDispatchFastWriteFailure KsDispatchFastReadFailure
KSDDKAPI NTSTATUS NTAPI KsPropertyHandler(PIRP Irp, ULONG PropertySetsCount, const KSPROPERTY_SET *PropertySet);
KSDDKAPI NTSTATUS NTAPI KsMethodHandler(PIRP Irp, ULONG MethodSetsCount, const KSMETHOD_SET *MethodSet);
KSDDKAPI NTSTATUS NTAPI KsEnableEvent(PIRP Irp, ULONG EventSetsCount, const KSEVENT_SET *EventSet,
                                      PLIST_ENTRY EventsList, KSEVENTS_LOCKTYPE EventsFlags, PVOID EventsLock);
KSDDKAPI NTSTATUS NTAPI KsDisableEvent(PIRP Irp, PLIST_ENTRY EventsList, KSEVENTS_LOCKTYPE EventsFlags,
                                       PVOID EventsLock);
KSDDKAPI VOID NTAPI KsFreeEventList(PFILE_OBJECT FileObject, PLIST_ENTRY EventsList, KSEVENTS_LOCKTYPE EventsFlags,
                                    PVOID EventsLock);
KSDDKAPI NTSTATUS NTAPI KsGenerateEvent(PKSEVENT_ENTRY EntryEvent);
KSDDKAPI VOID NTAPI KsDiscardEvent(PKSEVENT_ENTRY EventEntry);

/* ---- Routines: the allocator API (the code under test, allocator/) -------------------------- */
KSDDKAPI NTSTATUS NTAPI KsCreateAllocator(HANDLE ConnectionHandle, PKSALLOCATOR_FRAMING AllocatorFraming,
                                          PHANDLE AllocatorHandle);
KSDDKAPI NTSTATUS NTAPI KsCreateDefaultAllocator(PIRP Irp);
KSDDKAPI NTSTATUS NTAPI KsCreateDefaultAllocatorEx(PIRP Irp, PVOID InitializeContext,
                                                   PFNKSDEFAULTALLOCATE DefaultAllocate,
                                                   PFNKSDEFAULTFREE DefaultFree,
                                                   PFNKSINITIALIZEALLOCATOR InitializeAllocator,
                                                   PFNKSDELETEALLOCATOR DeleteAllocator);
KSDDKAPI NTSTATUS NTAPI KsValidateAllocatorCreateRequest(PIRP Irp, PKSALLOCATOR_FRAMING *AllocatorFraming);
KSDDKAPI NTSTATUS KsValidateAllocatorFramingEx(PKSALLOCATOR_FRAMING_EX Framing, ULONG BufferSize,
                                               const KSALLOCATOR_FRAMING_EX *PinFraming);
#else
/* User-mode form (ksuser.dll): returns a Win32 error code. It links as KsUserCreateAllocator so that
 * both forms can live in one harness process; user-mode source calls it as KsCreateAllocator. */
#define KsCreateAllocator KsUserCreateAllocator
#endif /* KM_KS_KERNEL */

KSDDKAPI DWORD WINAPI KsUserCreateAllocator(HANDLE ConnectionHandle, PKSALLOCATOR_FRAMING AllocatorFraming,
                                           PHANDLE AllocatorHandle);

/* ---- Layout assertions (Windows x64 values, facts file §3) ----------------------------------- */
C_ASSERT(sizeof(GUID) == 16);
C_ASSERT(sizeof(KSIDENTIFIER) == 24 && _Alignof(KSIDENTIFIER) == 8);
C_ASSERT(offsetof(KSIDENTIFIER, Id) == 16 && offsetof(KSIDENTIFIER, Flags) == 20);
C_ASSERT(sizeof(KSP_NODE) == 32);
C_ASSERT(sizeof(KSALLOCATOR_FRAMING) == 24 && _Alignof(KSALLOCATOR_FRAMING) == 4);
C_ASSERT(offsetof(KSALLOCATOR_FRAMING, PoolType) == 4 && offsetof(KSALLOCATOR_FRAMING, Frames) == 8);
C_ASSERT(offsetof(KSALLOCATOR_FRAMING, FrameSize) == 12 && offsetof(KSALLOCATOR_FRAMING, FileAlignment) == 16);
C_ASSERT(offsetof(KSALLOCATOR_FRAMING, Reserved) == 20);
C_ASSERT(sizeof(KS_FRAMING_RANGE) == 12 && sizeof(KS_FRAMING_RANGE_WEIGHTED) == 20 && sizeof(KS_COMPRESSION) == 12);
C_ASSERT(sizeof(KS_FRAMING_ITEM) == 88 && offsetof(KS_FRAMING_ITEM, Flags) == 40);
C_ASSERT(offsetof(KS_FRAMING_ITEM, FileAlignment) == 48 && offsetof(KS_FRAMING_ITEM, PhysicalRange) == 56);
C_ASSERT(offsetof(KS_FRAMING_ITEM, FramingRange) == 68);
C_ASSERT(sizeof(KSALLOCATOR_FRAMING_EX) == 112 && offsetof(KSALLOCATOR_FRAMING_EX, FramingItem) == 24);
C_ASSERT(offsetof(KSALLOCATOR_FRAMING_EX, PinWeight) == 20);
C_ASSERT(sizeof(KSSTREAMALLOCATOR_STATUS) == 32 && offsetof(KSSTREAMALLOCATOR_STATUS, AllocatedFrames) == 24);
C_ASSERT(sizeof(KSSTREAMALLOCATOR_STATUS_EX) == 120 && offsetof(KSSTREAMALLOCATOR_STATUS_EX, AllocatedFrames) == 112);
#ifdef KM_KS_KERNEL
C_ASSERT(sizeof(KSSTREAMALLOCATOR_FUNCTIONTABLE) == 16);
C_ASSERT(sizeof(KSDISPATCH_TABLE) == 80);
C_ASSERT(sizeof(KSOBJECT_CREATE_ITEM) == 48 && offsetof(KSOBJECT_CREATE_ITEM, ObjectClass) == 16);
C_ASSERT(offsetof(KSOBJECT_CREATE_ITEM, SecurityDescriptor) == 32 && offsetof(KSOBJECT_CREATE_ITEM, Flags) == 40);
C_ASSERT(sizeof(KSMETHOD_ITEM) == 40 && offsetof(KSMETHOD_ITEM, Flags) == 32);
C_ASSERT(sizeof(KSEVENTDATA) == 32 && _Alignof(KSEVENTDATA) == 8);
C_ASSERT(offsetof(IRP, Tail.Overlay.DriverContext) == 0x78 && sizeof(IRP) == 0xD0);
C_ASSERT(sizeof(IO_STACK_LOCATION) == 0x48);
C_ASSERT(offsetof(IO_STACK_LOCATION, Parameters.DeviceIoControl.Type3InputBuffer) == 0x20);
C_ASSERT(offsetof(FILE_OBJECT, FsContext) == 0x18 && offsetof(FILE_OBJECT, RelatedFileObject) == 0x40);
C_ASSERT(offsetof(FILE_OBJECT, FileName) == 0x58 && sizeof(FILE_OBJECT) == 0xD8);
#endif
C_ASSERT(IOCTL_KS_PROPERTY == 0x002F0003 && IOCTL_KS_ENABLE_EVENT == 0x002F0007);
C_ASSERT(IOCTL_KS_DISABLE_EVENT == 0x002F000B && IOCTL_KS_METHOD == 0x002F000F);
C_ASSERT(IOCTL_KS_WRITE_STREAM == 0x002F8013 && IOCTL_KS_READ_STREAM == 0x002F4017);
C_ASSERT(IOCTL_KS_RESET_STATE == 0x002F001B && IOCTL_KS_HANDSHAKE == 0x002F001F);

#endif /* KM_KS_H */
