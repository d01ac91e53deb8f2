
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_evbus_priority.h"


static ngx_str_t  ngx_evbus_priority_names[] = {
    ngx_string("low"),
    ngx_string("normal"),
    ngx_string("high"),
    ngx_string("critical"),
};


/* NGX_ERROR for a name that is not a priority */

ngx_int_t
ngx_evbus_priority_parse(u_char *data, size_t len)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_EVBUS_PRIORITY_N; i++) {
        if (len == ngx_evbus_priority_names[i].len
            && ngx_strncasecmp(data, ngx_evbus_priority_names[i].data, len)
               == 0)
        {
            return i;
        }
    }

    return NGX_ERROR;
}


const char *
ngx_evbus_priority_name(ngx_uint_t priority)
{
    if (priority >= NGX_EVBUS_PRIORITY_N) {
        priority = NGX_EVBUS_PRIORITY_NORMAL;
    }

    return (const char *) ngx_evbus_priority_names[priority].data;
}
