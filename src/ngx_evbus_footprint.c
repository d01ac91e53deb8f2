
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_evbus_footprint.h"


/* a glibc malloc chunk: 8 bytes of header, 16-byte aligned, at least 32 */

static ngx_inline size_t
ngx_evbus_footprint_chunk(size_t size)
{
    size = ngx_align(size + 8, 16);

    return ngx_max(size, 32);
}


size_t
ngx_evbus_footprint(size_t value, size_t key, const rd_kafka_headers_t *hdrs)
{
    size_t       size, len;
    const char  *name;
    const void  *p;
    ngx_uint_t   i;

    size = ngx_evbus_footprint_chunk(NGX_EVBUS_FOOTPRINT_MSG + value + key);

    if (hdrs == NULL) {
        return size;
    }

    size += ngx_evbus_footprint_chunk(NGX_EVBUS_FOOTPRINT_HEADERS)
            + ngx_evbus_footprint_chunk(NGX_EVBUS_FOOTPRINT_SLOTS
                                        * sizeof(void *));

    for (i = 0;
         rd_kafka_header_get_all(hdrs, i, &name, &p, &len)
         == RD_KAFKA_RESP_ERR_NO_ERROR;
         i++)
    {
        size += ngx_evbus_footprint_chunk(NGX_EVBUS_FOOTPRINT_HEADER
                                          + ngx_strlen(name) + 1 + len + 1);
    }

    return size;
}
