/* io_objects.c: drivers, devices and the object namespace of named devices (\Device\X), plus the
 * harness lock. Driver and device objects are harness memory, not driver pool, so a driver's pool
 * accounting (leaks, fault plans) sees only what the driver itself allocates. */
#include "io_internal.h"

#include <stdlib.h>
#include <string.h>

static pthread_mutex_t io_mutex = PTHREAD_MUTEX_INITIALIZER;

void io_lock(void) { pthread_mutex_lock(&io_mutex); }
void io_unlock(void) { pthread_mutex_unlock(&io_mutex); }

typedef struct io_driver {
    DRIVER_OBJECT obj;
    struct io_driver *next; /* load order */
} io_driver;

static io_driver *io_drivers;
static io_device *io_devices;

static void *io_xcalloc(size_t n)
{
    void *p = calloc(1, n != 0 ? n : 1);
    if (p == NULL)
        abort(); /* the model's own memory is not faultable */
    return p;
}

/* The default for every major function a driver leaves unset (Windows: IopInvalidDeviceRequest). */
static NTSTATUS io_invalid_device_request(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    Irp->IoStatus.Status = STATUS_INVALID_DEVICE_REQUEST;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_INVALID_DEVICE_REQUEST;
}

static bool io_name_equal_ci(const WCHAR *a, const WCHAR *b, size_t chars)
{
    for (size_t i = 0; i < chars; i++)
        if (RtlUpcaseUnicodeChar(a[i]) != RtlUpcaseUnicodeChar(b[i]))
            return false;
    return true;
}

io_device *io_device_lookup_locked(const WCHAR *name, size_t chars, size_t *prefix_chars)
{
    for (io_device *d = io_devices; d != NULL; d = d->next) {
        if (d->name == NULL || d->name_chars > chars)
            continue;
        if (d->name_chars < chars && name[d->name_chars] != L'\\')
            continue;
        if (io_name_equal_ci(d->name, name, d->name_chars)) {
            *prefix_chars = d->name_chars;
            return d;
        }
    }
    return NULL;
}

static io_device *io_device_find_locked(PDEVICE_OBJECT dev)
{
    for (io_device *d = io_devices; d != NULL; d = d->next)
        if (&d->obj == dev)
            return d;
    return NULL;
}

static void io_device_unlink_free_locked(io_device *dev)
{
    for (io_device **link = &io_devices; *link != NULL; link = &(*link)->next)
        if (*link == dev) {
            *link = dev->next;
            break;
        }
    free(dev->obj.DeviceExtension);
    free(dev->name);
    free(dev);
}

void io_device_ref_locked(PDEVICE_OBJECT dev) { dev->ReferenceCount++; }

void io_device_deref(PDEVICE_OBJECT dev)
{
    io_lock();
    io_device *d = (io_device *)dev;
    if (--dev->ReferenceCount == 0 && d->deleted)
        io_device_unlink_free_locked(d);
    io_unlock();
}

/* IoCreateDevice (DDI wdm/nf-wdm-iocreatedevice). The extension is its own exact-size zeroed block
 * so ASan sees an overrun. Not modelled: device stacks (StackSize stays 1), security, Vpb. */
NTSTATUS IoCreateDevice(PDRIVER_OBJECT DriverObject, ULONG DeviceExtensionSize, PUNICODE_STRING DeviceName,
                        ULONG DeviceType, ULONG DeviceCharacteristics, BOOLEAN Exclusive,
                        PDEVICE_OBJECT *DeviceObject)
{
    km_require_irql_at_most(PASSIVE_LEVEL, "IoCreateDevice");
    if (DriverObject == NULL || DeviceObject == NULL)
        return STATUS_INVALID_PARAMETER;
    *DeviceObject = NULL;
    size_t chars = 0;
    if (DeviceName != NULL) {
        if (DeviceName->Length > DeviceName->MaximumLength || (DeviceName->Buffer == NULL && DeviceName->Length != 0))
            return STATUS_OBJECT_NAME_INVALID;
        chars = DeviceName->Length / sizeof(WCHAR);
    }
    io_device *d = io_xcalloc(sizeof *d);
    io_lock();
    if (chars != 0) {
        /* The object manager compares names case-insensitively; an exact-length match collides. */
        for (io_device *o = io_devices; o != NULL; o = o->next)
            if (o->name != NULL && o->name_chars == chars && io_name_equal_ci(o->name, DeviceName->Buffer, chars)) {
                io_unlock();
                free(d);
                return STATUS_OBJECT_NAME_COLLISION;
            }
        d->name = io_xcalloc(chars * sizeof(WCHAR));
        memcpy(d->name, DeviceName->Buffer, chars * sizeof(WCHAR));
        d->name_chars = (USHORT)chars;
    }
    d->obj.Type = 3; /* IO_TYPE_DEVICE */
    d->obj.Size = (USHORT)(sizeof(DEVICE_OBJECT) + DeviceExtensionSize);
    d->obj.DriverObject = DriverObject;
    d->obj.DeviceExtension = DeviceExtensionSize != 0 ? io_xcalloc(DeviceExtensionSize) : NULL;
    d->obj.DeviceType = DeviceType;
    d->obj.Characteristics = DeviceCharacteristics;
    d->obj.StackSize = 1;
    d->obj.Flags = DO_DEVICE_INITIALIZING | (Exclusive ? DO_EXCLUSIVE : 0);
    /* Windows links a new device at the head of the driver's list. */
    d->obj.NextDevice = DriverObject->DeviceObject;
    DriverObject->DeviceObject = &d->obj;
    d->next = io_devices;
    io_devices = d;
    io_unlock();
    *DeviceObject = &d->obj;
    return STATUS_SUCCESS;
}

/* IoDeleteDevice (DDI wdm/nf-wdm-iodeletedevice): the name goes at once; the object lives on while
 * file objects or queued work items reference it, as on Windows. */
VOID IoDeleteDevice(PDEVICE_OBJECT DeviceObject)
{
    km_require_irql_at_most(PASSIVE_LEVEL, "IoDeleteDevice");
    io_lock();
    io_device *d = io_device_find_locked(DeviceObject);
    if (d == NULL || d->deleted) {
        io_unlock();
        km_verifier_fail(KM_V_API_INVALID_PARAMETER, "IoDeleteDevice of a device that is not live");
    }
    PDRIVER_OBJECT drv = DeviceObject->DriverObject;
    for (PDEVICE_OBJECT *link = &drv->DeviceObject; *link != NULL; link = &(*link)->NextDevice)
        if (*link == DeviceObject) {
            *link = DeviceObject->NextDevice;
            break;
        }
    free(d->name);
    d->name = NULL;
    d->deleted = true;
    if (DeviceObject->ReferenceCount == 0)
        io_device_unlink_free_locked(d);
    io_unlock();
}

/* IoGetRelatedDeviceObject (DDI wdm/nf-wdm-iogetrelateddeviceobject): no attached devices are
 * modelled, so the file object's device is the top of its stack. */
PDEVICE_OBJECT IoGetRelatedDeviceObject(PFILE_OBJECT FileObject) { return FileObject->DeviceObject; }

static void io_check_irql_restored(KIRQL before, const char *what)
{
    KIRQL after = KeGetCurrentIrql();
    KM_VERIFY(IRQL_NOT_RESTORED, after == before, "%s: called at IRQL %u, returned at %u", what, before, after);
}

NTSTATUS km_driver_load(PCWSTR name, PDRIVER_INITIALIZE entry, PDRIVER_OBJECT *driver)
{
    km_require_irql_at_most(PASSIVE_LEVEL, "km_driver_load");
    if (entry == NULL || driver == NULL)
        return STATUS_INVALID_PARAMETER;
    io_driver *drv = io_xcalloc(sizeof *drv);
    size_t chars = 0;
    while (name != NULL && name[chars] != 0)
        chars++;
    drv->obj.Type = 4; /* IO_TYPE_DRIVER */
    drv->obj.Size = sizeof(DRIVER_OBJECT);
    drv->obj.DriverName.Buffer = io_xcalloc((chars + 1) * sizeof(WCHAR));
    if (chars != 0)
        memcpy(drv->obj.DriverName.Buffer, name, chars * sizeof(WCHAR));
    drv->obj.DriverName.Length = (USHORT)(chars * sizeof(WCHAR));
    drv->obj.DriverName.MaximumLength = (USHORT)((chars + 1) * sizeof(WCHAR));
    drv->obj.DriverInit = entry;
    for (int i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        drv->obj.MajorFunction[i] = io_invalid_device_request;

    io_enter();
    KIRQL before = KeGetCurrentIrql();
    NTSTATUS status = entry(&drv->obj, &drv->obj.DriverName);
    io_check_irql_restored(before, "DriverEntry");
    if (NT_SUCCESS(status)) {
        /* Windows clears DO_DEVICE_INITIALIZING on the devices DriverEntry created. */
        for (PDEVICE_OBJECT d = drv->obj.DeviceObject; d != NULL; d = d->NextDevice)
            d->Flags &= ~(ULONG)DO_DEVICE_INITIALIZING;
        io_lock();
        io_driver **link = &io_drivers;
        while (*link != NULL)
            link = &(*link)->next;
        *link = drv;
        io_unlock();
        *driver = &drv->obj;
    } else {
        /* A failed DriverEntry is not unloaded through DriverUnload; its devices go with it. */
        while (drv->obj.DeviceObject != NULL)
            IoDeleteDevice(drv->obj.DeviceObject);
        free(drv->obj.DriverName.Buffer);
        free(drv);
        *driver = NULL;
    }
    io_leave(true);
    return status;
}

/* Rundown: unload drivers newest first (DriverUnload at PASSIVE_LEVEL), then delete the devices
 * they left. Driver records stay until io_objects_free_all: leaked file objects may point at them. */
void io_driver_rundown(void)
{
    for (;;) {
        io_lock();
        io_driver *victim = NULL;
        for (io_driver *d = io_drivers; d != NULL; d = d->next)
            if (d->obj.DriverInit != NULL)
                victim = d;
        if (victim != NULL)
            victim->obj.DriverInit = NULL; /* marks it unloaded */
        io_unlock();
        if (victim == NULL)
            return;
        if (victim->obj.DriverUnload != NULL) {
            KIRQL before = KeGetCurrentIrql();
            victim->obj.DriverUnload(&victim->obj);
            io_check_irql_restored(before, "DriverUnload");
        }
        while (victim->obj.DeviceObject != NULL)
            IoDeleteDevice(victim->obj.DeviceObject);
    }
}

void io_devices_census(km_census *census)
{
    io_lock();
    for (io_device *d = io_devices; d != NULL; d = d->next)
        census->devices++;
    io_unlock();
}

void io_objects_free_all(void)
{
    io_lock();
    while (io_drivers != NULL) {
        io_driver *d = io_drivers;
        io_drivers = d->next;
        free(d->obj.DriverName.Buffer);
        free(d);
    }
    while (io_devices != NULL)
        io_device_unlink_free_locked(io_devices);
    io_unlock();
}

/* Registered here rather than in io_rundown.c: every use of the I/O manager starts with
 * km_driver_load, so this object is always linked from the static library and pulls the rest. */
KM_MODULE(io, 10, io_reset, io_rundown, io_check, io_census, io_rerun)
