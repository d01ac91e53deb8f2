
/*
 * Copyright (C) ngx_evbus authors
 */


#include <string.h>

#include "ngx_evbus_json.h"


static size_t ngx_evbus_json_utf8_len(const unsigned char *p,
    const unsigned char *last);


unsigned char *
ngx_evbus_json_escape(unsigned char *dst, const unsigned char *src,
    size_t len)
{
    size_t                n;
    uint64_t              w, q, b;
    unsigned char         c;
    const unsigned char  *last;

    static const unsigned char  hex[] = "0123456789abcdef";

    last = src + len;

    while (src < last) {

        /*
         * 8 bytes at a time while none needs a look: no byte >= 0x80,
         * below 0x20, a quote or a backslash (a zero byte in q or b)
         */

        if (last - src >= 8) {
            memcpy(&w, src, 8);

            q = w ^ 0x2222222222222222ULL;
            b = w ^ 0x5c5c5c5c5c5c5c5cULL;

            if (((w | ((w - 0x2020202020202020ULL) & ~w)
                  | ((q - 0x0101010101010101ULL) & ~q)
                  | ((b - 0x0101010101010101ULL) & ~b))
                 & 0x8080808080808080ULL) == 0)
            {
                memcpy(dst, src, 8);
                dst += 8;
                src += 8;
                continue;
            }
        }

        c = *src;

        if (c >= 0x80) {
            n = ngx_evbus_json_utf8_len(src, last);

            if (n == 0) {
                /* U+FFFD */
                *dst++ = 0xef;
                *dst++ = 0xbf;
                *dst++ = 0xbd;
                src++;
                continue;
            }

            memcpy(dst, src, n);
            dst += n;
            src += n;
            continue;
        }

        src++;

        if (c == '"' || c == '\\') {
            *dst++ = '\\';
            *dst++ = c;
            continue;
        }

        if (c >= 0x20) {
            *dst++ = c;
            continue;
        }

        *dst++ = '\\';

        switch (c) {

        case '\n':
            *dst++ = 'n';
            break;

        case '\r':
            *dst++ = 'r';
            break;

        case '\t':
            *dst++ = 't';
            break;

        default:
            *dst++ = 'u';
            *dst++ = '0';
            *dst++ = '0';
            *dst++ = hex[c >> 4];
            *dst++ = hex[c & 0xf];
        }
    }

    return dst;
}


/*
 * The length of the well-formed UTF-8 sequence at p (Unicode 15, table
 * 3-7), or 0 when there is none.
 */

static size_t
ngx_evbus_json_utf8_len(const unsigned char *p, const unsigned char *last)
{
    size_t         n, i;
    unsigned char  c, lo, hi;

    c = p[0];
    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;

        if (c == 0xe0) {
            lo = 0xa0;                  /* overlong */

        } else if (c == 0xed) {
            hi = 0x9f;                  /* surrogates */
        }

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;

        if (c == 0xf0) {
            lo = 0x90;                  /* overlong */

        } else if (c == 0xf4) {
            hi = 0x8f;                  /* past U+10FFFF */
        }

    } else {
        return 0;
    }

    if ((size_t) (last - p) < n || p[1] < lo || p[1] > hi) {
        return 0;
    }

    for (i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }

    return n;
}


/*
 * A cut that falls on continuation bytes moves back to the start of their
 * sequence (at most 3 bytes; longer runs are invalid anyway and become
 * U+FFFD when escaped).
 */

size_t
ngx_evbus_json_cut(const unsigned char *data, size_t len, size_t max)
{
    size_t  n;

    if (len <= max) {
        return len;
    }

    for (n = max; n > max - 3 && (data[n] & 0xc0) == 0x80; n--) {
        /* void */
    }

    return n;
}


unsigned char *
ngx_evbus_json_uint(unsigned char *dst, uint64_t n)
{
    unsigned char   tmp[20], *p;

    p = tmp + sizeof(tmp);

    do {
        *--p = (unsigned char) ('0' + n % 10);
        n /= 10;
    } while (n);

    while (p < tmp + sizeof(tmp)) {
        *dst++ = *p++;
    }

    return dst;
}
