
/*
 * Copyright (C) ngx_evbus authors
 */


#include <string.h>

#include "ngx_evbus_event_int.h"


static int ngx_evbus_text_hex4(const unsigned char *s, size_t len, size_t i,
    unsigned *u);


const char  ngx_evbus_text_err_ws[] =
    "invalid JSON: a form feed or vertical tab is not JSON whitespace";


/*
 * yajl lets through overlong forms, UTF-8-encoded surrogates, code points
 * above U+10FFFF and unpaired surrogates in \u escapes, and takes form
 * feed and vertical tab for whitespace: what is produced must be valid
 * UTF-8 JSON (RFC 8259) for every consumer, so the event's text is checked
 * once more, 8 bytes at a time over plain ASCII.  yajl refuses control
 * bytes inside strings: the only ones left are whitespace.
 */

const char *
ngx_evbus_text_check(const unsigned char *s, size_t len)
{
    size_t        i, n, k;
    uint64_t      w, b, t;
    unsigned int  c, u, lo, hi;

    i = 0;

    while (i < len) {
        if (len - i >= 8) {
            memcpy(&w, s + i, 8);

            /*
             * t: a byte >= 0x80, or a backslash (a zero byte in b);
             * w - 0x20 in every byte borrows at a control byte
             */

            b = w ^ 0x5c5c5c5c5c5c5c5cULL;
            t = (w | ((b - 0x0101010101010101ULL) & ~b))
                & 0x8080808080808080ULL;

            if (((t | (w - 0x2020202020202020ULL))
                 & 0x8080808080808080ULL) == 0)
            {
                i += 8;
                continue;
            }

            /* control bytes only: whitespace, unless 0x0b or 0x0c */

            if (t == 0) {
                if (((0x8c8c8c8c8c8c8c8cULL - w)
                     & (w + 0x7575757575757575ULL)
                     & 0x8080808080808080ULL) != 0)
                {
                    return ngx_evbus_text_err_ws;
                }

                i += 8;
                continue;
            }
        }

        c = s[i];

        if (c == '\\') {
            if (i + 1 < len && s[i + 1] != 'u') {
                i += 2;
                continue;
            }

            if (ngx_evbus_text_hex4(s, len, i, &u) != 0) {
                return "invalid JSON: a truncated \\u escape";
            }

            i += 6;

            if (u >= 0xdc00 && u <= 0xdfff) {
                return "invalid JSON: a lone surrogate in a \\u escape";
            }

            if (u < 0xd800 || u > 0xdbff) {
                continue;
            }

            if (ngx_evbus_text_hex4(s, len, i, &u) != 0
                || u < 0xdc00 || u > 0xdfff)
            {
                return "invalid JSON: a lone surrogate in a \\u escape";
            }

            i += 6;
            continue;
        }

        if (c < 0x80) {
            if (c == 0x0b || c == 0x0c) {
                return ngx_evbus_text_err_ws;
            }

            i++;
            continue;
        }

        /* the well-formed sequences of Unicode's table 3-7 */

        lo = 0x80;
        hi = 0xbf;

        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;

        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            lo = (c == 0xe0) ? 0xa0 : 0x80;
            hi = (c == 0xed) ? 0x9f : 0xbf;

        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            lo = (c == 0xf0) ? 0x90 : 0x80;
            hi = (c == 0xf4) ? 0x8f : 0xbf;

        } else {
            return "invalid UTF-8";
        }

        if (i + n >= len || s[i + 1] < lo || s[i + 1] > hi) {
            return "invalid UTF-8";
        }

        for (k = 2; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return "invalid UTF-8";
            }
        }

        i += n + 1;
    }

    return NULL;
}


/* \uXXXX at s[i] */

static int
ngx_evbus_text_hex4(const unsigned char *s, size_t len, size_t i, unsigned *u)
{
    size_t         k;
    unsigned char  c;

    if (i + 6 > len || s[i] != '\\' || s[i + 1] != 'u') {
        return -1;
    }

    *u = 0;

    for (k = 2; k < 6; k++) {
        c = s[i + k];

        if (c >= '0' && c <= '9') {
            *u = *u * 16 + (c - '0');

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            *u = *u * 16 + ((c | 0x20) - 'a' + 10);

        } else {
            return -1;
        }
    }

    return 0;
}
