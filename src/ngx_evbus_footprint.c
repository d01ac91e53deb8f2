
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_evbus_footprint.h"

#if (defined __GLIBC__)
#include <malloc.h>
#endif


static size_t  ngx_evbus_footprint_peak;


/* a glibc malloc chunk: 8 bytes of header, 16-byte aligned, at least 32 */

static ngx_inline size_t
ngx_evbus_footprint_chunk(size_t size)
{
    size = ngx_align(size + 8, 16);

    return ngx_max(size, 32);
}


size_t
ngx_evbus_footprint_message(size_t value, size_t key)
{
    return ngx_evbus_footprint_chunk(NGX_EVBUS_FOOTPRINT_MSG + value + key)
           + ngx_evbus_footprint_chunk(NGX_EVBUS_FOOTPRINT_HEADERS)
           + ngx_evbus_footprint_chunk(NGX_EVBUS_FOOTPRINT_SLOTS
                                       * sizeof(void *));
}


size_t
ngx_evbus_footprint_header(size_t name, size_t value)
{
    return ngx_evbus_footprint_chunk(NGX_EVBUS_FOOTPRINT_HEADER
                                     + name + 1 + value + 1);
}


/*
 * The messages of a full queue are freed as it drains, but glibc keeps
 * the pages for the next ones: a worker stays at its full-queue RSS after
 * an outage (measured: 77 MiB after a 64 MiB queue had drained).
 * malloc_trim() hands them back (17 MiB); it walks the free chunks once,
 * after a large queue has emptied, not per message, so a queue that
 * fills and empties under load does not pay for it each time.
 */

void
ngx_evbus_footprint_release(size_t queued, size_t max)
{
    if (queued > ngx_evbus_footprint_peak) {
        ngx_evbus_footprint_peak = queued;
        return;
    }

    if (queued
        || ngx_evbus_footprint_peak < ngx_max(max / 4,
                                              NGX_EVBUS_FOOTPRINT_TRIM))
    {
        return;
    }

    ngx_evbus_footprint_peak = 0;

#if (defined __GLIBC__)
    (void) malloc_trim(0);
#endif
}
