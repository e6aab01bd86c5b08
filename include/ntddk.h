/* ntddk.h: the NT DDK entry header; everything the model provides lives in wdm.h. */
#ifndef KM_NTDDK_H
#define KM_NTDDK_H
#define _NTDDK_ 1
#include "wdm.h"
#endif
