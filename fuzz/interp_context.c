/* interp_context.c: the caller-context operations (set_irql, set_mode) and fault plans
 * (km_fault_arm / km_fault_disarm). None has a status: the trace says `-`. */
#include "interp_internal.h"

#include <string.h>

void ip_op_set_irql(const op_args_set_irql *a)
{
    if (a->irql != 0xFF) /* `current` keeps the current value */
        ip.irql = a->irql; /* out-of-range values make later ops `SKIPPED irql` */
    ip_line_no_status();
}

void ip_op_set_mode(const op_args_set_mode *a)
{
    if (a->mode != 0xFF)
        ip.mode = a->mode; /* out-of-range values make later ops `SKIPPED mode` */
    ip_line_no_status();
}

/* The site is the blob up to its first NUL byte (at most 63 bytes). */
void ip_op_fault(const op_args_fault *a)
{
    if (ip.config->external_faults) { /* a fault sweep owns the plan (op_run_config) */
        ip_line_no_status();
        return;
    }
    size_t n = 0;
    while (n < a->site.len && n < sizeof ip.fault_site - 1 && a->site.data[n] != 0)
        n++;
    memcpy(ip.fault_site, a->site.data != NULL ? a->site.data : (const uint8_t *)"", n);
    ip.fault_site[n] = '\0';
    ip.fault = (km_fault_plan){ .fail_nth = a->nth, .fail_nth_also = a->also, .site = n != 0 ? ip.fault_site : NULL };
    ip.fault_consumed = 0;
    if (a->nth == 0 && a->also == 0 && n == 0) {
        ip.fault_armed = false;
        km_fault_disarm();
    } else {
        ip.fault_armed = true;
        km_fault_arm(&ip.fault);
    }
    ip_line_no_status();
}
