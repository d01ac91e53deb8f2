
/*
 * Copyright (C) ngx_evbus authors
 */


#include <string.h>

#include "ngx_evbus_event.h"
#include "ngx_evbus_segment.h"


typedef struct {
    const char             *name;
    size_t                  len;
    char                    letter;
} ngx_evbus_segment_call_t;


static const ngx_evbus_segment_call_t  ngx_evbus_segment_calls[] = {
    { NULL, 0, 0 },
    { "track", 5, 't' },
    { "identify", 8, 'i' },
    { "page", 4, 'p' },
    { "screen", 6, 's' },
    { "group", 5, 'g' },
    { "alias", 5, 'a' },
    { "batch", 5, 'b' }
};


int
ngx_evbus_segment_type(const unsigned char *s, size_t len)
{
    int  i;

    for (i = NGX_EVBUS_SEGMENT_TRACK; i <= NGX_EVBUS_SEGMENT_ALIAS; i++) {
        if (ngx_evbus_segment_calls[i].len == len
            && memcmp(ngx_evbus_segment_calls[i].name, s, len) == 0)
        {
            return i;
        }
    }

    return NGX_EVBUS_SEGMENT_NONE;
}


int
ngx_evbus_segment_path(const unsigned char *path, size_t len)
{
    int                   i;
    const unsigned char  *s, *last;

    last = path + len;

    while (last > path && last[-1] == '/') {
        last--;
    }

    for (s = last; s > path && s[-1] != '/'; s--) {
        /* void */
    }

    len = last - s;

    for (i = NGX_EVBUS_SEGMENT_TRACK; i <= NGX_EVBUS_SEGMENT_BATCH; i++) {
        if ((len == 1 && s[0] == ngx_evbus_segment_calls[i].letter)
            || (ngx_evbus_segment_calls[i].len == len
                && memcmp(ngx_evbus_segment_calls[i].name, s, len) == 0))
        {
            return i;
        }
    }

    return NGX_EVBUS_SEGMENT_NONE;
}


const char *
ngx_evbus_segment_type_name(int type, size_t *len)
{
    if (type < NGX_EVBUS_SEGMENT_TRACK || type > NGX_EVBUS_SEGMENT_BATCH) {
        *len = 0;
        return NULL;
    }

    *len = ngx_evbus_segment_calls[type].len;

    return ngx_evbus_segment_calls[type].name;
}


size_t
ngx_evbus_segment_name(unsigned char *dst, const unsigned char *src,
    size_t len)
{
    size_t         i, n;
    unsigned       gap;
    unsigned char  c;

    n = 0;
    gap = 0;

    for (i = 0; i < len && n < NGX_EVBUS_EVENT_TYPE_MAX; i++) {
        c = src[i];

        if (!ngx_evbus_name_char(c)) {
            gap = 1;
            continue;
        }

        if (gap && n) {
            dst[n++] = '_';

            if (n == NGX_EVBUS_EVENT_TYPE_MAX) {
                break;
            }
        }

        gap = 0;
        dst[n++] = (c >= 'A' && c <= 'Z') ? (unsigned char) (c | 0x20) : c;
    }

    /* a cut may leave the separator last */

    while (n && dst[n - 1] == '_' && i < len) {
        n--;
    }

    return n;
}
