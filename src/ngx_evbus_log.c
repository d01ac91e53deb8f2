
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_evbus_log.h"


ngx_uint_t
ngx_evbus_log_limit(ngx_evbus_log_limit_t *limit, ngx_uint_t *skipped)
{
    time_t  now;

    now = ngx_time();

    if (limit->logged == now) {
        limit->skipped++;
        return 0;
    }

    *skipped = limit->skipped;

    limit->logged = now;
    limit->skipped = 0;

    return 1;
}


u_char *
ngx_evbus_log_escape(u_char *dst, size_t size, const u_char *src,
    size_t len)
{
    u_char        c, *last;
    const u_char  *end;

    static const u_char  hex[] = "0123456789abcdef";

    /* room for one "\xNN" and the "..." of a cut text */
    last = dst + size - 7;
    end = src + len;

    while (src < end) {
        if (dst >= last) {
            return ngx_cpymem(dst, "...", 3);
        }

        c = *src++;

        if (c >= 0x20 && c < 0x7f && c != '\\') {
            *dst++ = c;
            continue;
        }

        *dst++ = '\\';
        *dst++ = 'x';
        *dst++ = hex[c >> 4];
        *dst++ = hex[c & 0xf];
    }

    return dst;
}
