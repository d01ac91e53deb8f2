
/*
 * Copyright (C) ngx_evbus authors
 */


/*
 * Unit tests of the JSON string escaping (src/ngx_evbus_json.c): the
 * 8-bytes-at-a-time path must give what escaping byte by byte gives, for
 * every byte that needs a look at every offset of a word, and for random
 * text; printed as TAP.
 */

#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_evbus_json.h"

#include "support.h"


#define SAME(s)  same((const unsigned char *) s, sizeof(s) - 1)


/* the escaping spelled out one byte at a time: the reference */

/*
 * Not the implementation's table of lead and second bytes: the code point
 * is decoded and checked (shortest form, no surrogate, at most U+10FFFF).
 */

static size_t
ref_utf8_len(const unsigned char *p, const unsigned char *last)
{
    size_t    n, i;
    uint32_t  cp, min;

    if (p[0] >= 0xc0 && p[0] < 0xe0) {
        n = 2;
        cp = p[0] & 0x1f;
        min = 0x80;

    } else if (p[0] >= 0xe0 && p[0] < 0xf0) {
        n = 3;
        cp = p[0] & 0x0f;
        min = 0x800;

    } else if (p[0] >= 0xf0 && p[0] < 0xf8) {
        n = 4;
        cp = p[0] & 0x07;
        min = 0x10000;

    } else {
        return 0;
    }

    if ((size_t) (last - p) < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        cp = cp << 6 | (p[i] & 0x3f);
    }

    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }

    return n;
}


static size_t
ref_escape(unsigned char *dst, const unsigned char *src, size_t len)
{
    size_t                n;
    unsigned char        *start;
    const unsigned char  *last;

    start = dst;
    last = src + len;

    while (src < last) {
        if (*src >= 0x80) {
            n = ref_utf8_len(src, last);

            if (n == 0) {
                dst += sprintf((char *) dst, "\xef\xbf\xbd");
                src++;

            } else {
                memcpy(dst, src, n);
                dst += n;
                src += n;
            }

            continue;
        }

        switch (*src) {
        case '"':
            dst += sprintf((char *) dst, "\\\"");
            break;
        case '\\':
            dst += sprintf((char *) dst, "\\\\");
            break;
        case '\n':
            dst += sprintf((char *) dst, "\\n");
            break;
        case '\r':
            dst += sprintf((char *) dst, "\\r");
            break;
        case '\t':
            dst += sprintf((char *) dst, "\\t");
            break;
        default:
            if (*src < 0x20) {
                dst += sprintf((char *) dst, "\\u%04x", *src);

            } else {
                *dst++ = *src;
            }
        }

        src++;
    }

    return dst - start;
}


static int
same(const unsigned char *s, size_t len)
{
    size_t          n, m;
    unsigned char  *a, *b;
    int             rc;

    a = malloc(ngx_evbus_json_escape_len(len) + 1);
    b = malloc(ngx_evbus_json_escape_len(len) + 1);

    n = ngx_evbus_json_escape(a, s, len) - a;
    m = ref_escape(b, s, len);

    rc = (n == m && memcmp(a, b, n) == 0);

    free(a);
    free(b);

    return rc;
}


int
main(void)
{
    size_t          i, k, off, len, bad;
    unsigned char   buf[64], big[4096];
    uint64_t        seed;

    /* each byte value at each offset of a 24-byte plain ASCII string */

    bad = 0;

    for (i = 0; i < 256; i++) {
        for (off = 0; off < 24; off++) {
            memset(buf, 'a', 24);
            buf[off] = (unsigned char) i;

            if (!same(buf, 24)) {
                bad++;
            }
        }
    }

    ok(bad == 0, "escape: every byte at every offset as byte by byte (%zu"
       " differ)", bad);

    /* a few hand-picked strings */

    ok(SAME("Mozilla/5.0 (X11; Linux x86_64)"), "escape: a user agent");
    ok(SAME("say \"hi\" \\ now\n\tand \x01\x1f"),
       "escape: quotes, backslashes, controls");
    ok(SAME("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xed\xa0\x80 \xc0\xaf"
            " \xff"),
       "escape: UTF-8 kept, invalid sequences replaced");
    ok(SAME(""), "escape: empty");

    /* random text, biased towards bytes that need a look */

    seed = 0x9e3779b97f4a7c15ULL;
    bad = 0;

    for (k = 0; k < 20000; k++) {
        len = (size_t) (k % sizeof(big));

        for (i = 0; i < len; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;

            switch ((seed >> 33) % 16) {
            case 0:
                big[i] = (unsigned char) (seed >> 41);
                break;
            case 1:
                big[i] = "\"\\\n\x01\x7f\xc3\xa9\xe2"[(seed >> 41) % 8];
                break;
            default:
                big[i] = (unsigned char) (0x20 + (seed >> 41) % 0x5f);
            }
        }

        if (!same(big, len)) {
            bad++;
        }
    }

    ok(bad == 0, "escape: 20000 random strings as byte by byte (%zu differ)",
       bad);

    printf("1..%d\n", ntests);

    return nfailed ? 1 : 0;
}
