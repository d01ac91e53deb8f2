
/*
 * Copyright (C) ngx_evbus authors
 */


#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "support.h"

#include "ngx_evbus_inflate.h"


typedef struct {
    unsigned char      *buf;
    size_t              len;
    size_t              cap;
    size_t              calls;
    size_t              most;        /* the largest piece */
    int                 fail;        /* returned once len passes 100 */
} sink_t;


static int
sink(void *data, const unsigned char *p, size_t len)
{
    sink_t  *s = data;

    if (s->fail && s->len > 100) {
        return s->fail;
    }

    if (s->len + len <= s->cap) {
        memcpy(s->buf + s->len, p, len);
    }

    s->len += len;
    s->calls++;

    if (len > s->most) {
        s->most = len;
    }

    return 0;
}


/* bits: 31 gzip, 15 zlib, -15 raw */

static size_t
compress_to(int bits, const unsigned char *in, size_t len,
    unsigned char *out, size_t cap)
{
    z_stream  zs;

    memset(&zs, 0, sizeof(z_stream));

    if (deflateInit2(&zs, 9, Z_DEFLATED, bits, 9, Z_DEFAULT_STRATEGY)
        != Z_OK)
    {
        return 0;
    }

    zs.next_in = (unsigned char *) in;
    zs.avail_in = (uInt) len;
    zs.next_out = out;
    zs.avail_out = (uInt) cap;

    (void) deflate(&zs, Z_FINISH);
    len = cap - zs.avail_out;
    (void) deflateEnd(&zs);

    return len;
}


static int
run(int encoding, const unsigned char *in, size_t len, size_t piece,
    size_t max, sink_t *s)
{
    int                   rc;
    size_t                off, n;
    evbus_pool_t          pool;
    ngx_evbus_inflate_t  *inf;

    memset(&pool, 0, sizeof(evbus_pool_t));

    inf = ngx_evbus_inflate_create(encoding, max, sink, s, evbus_pool_alloc,
                                   &pool);
    if (inf == NULL) {
        evbus_pool_free(&pool);
        return -100;
    }

    rc = 0;

    for (off = 0; off < len && rc == 0; off += n) {
        n = len - off < piece ? len - off : piece;
        rc = ngx_evbus_inflate_feed(inf, in + off, n);
    }

    if (rc == 0) {
        rc = ngx_evbus_inflate_finish(inf);
    }

    evbus_pool_free(&pool);

    return rc;
}


int
main(void)
{
    int             rc, bits[] = { 31, 15, -15 };
    int             enc[] = { NGX_EVBUS_ENCODING_GZIP,
                              NGX_EVBUS_ENCODING_DEFLATE,
                              NGX_EVBUS_ENCODING_DEFLATE };
    size_t          i, j, clen, clen2, pieces[] = { 1, 7, 4096, 1 << 20 };
    sink_t          s;
    static unsigned char  text[200000], out[200000], z[400000];

    for (i = 0; i < sizeof(text); i++) {
        text[i] = (unsigned char) ("{\"event_type\":\"a\"} "[i % 19]
                                   ^ (i % 7 == 0 ? (i >> 8) & 1 : 0));
    }

    for (i = 0; i < 3; i++) {
        clen = compress_to(bits[i], text, sizeof(text), z, sizeof(z));

        for (j = 0; j < 4; j++) {
            memset(&s, 0, sizeof(sink_t));
            s.buf = out;
            s.cap = sizeof(out);

            rc = run(enc[i], z, clen, pieces[j], 1 << 20, &s);

            ok(rc == 0 && s.len == sizeof(text)
               && memcmp(out, text, sizeof(text)) == 0
               && s.most <= NGX_EVBUS_INFLATE_CHUNK,
               "bits %d, pieces of %zu: the text back, in pieces of at"
               " most %zu bytes (rc %d)", bits[i], pieces[j], s.most, rc);
        }

        memset(&s, 0, sizeof(sink_t));
        rc = run(enc[i], z, clen - 5, 1000, 1 << 20, &s);
        ok(rc == NGX_EVBUS_INFLATE_BAD, "bits %d: truncated is bad",
           bits[i]);

        memset(&s, 0, sizeof(sink_t));
        rc = run(enc[i], z, clen, 1000, sizeof(text) - 1, &s);
        ok(rc == NGX_EVBUS_INFLATE_TOO_LARGE && s.len < sizeof(text),
           "bits %d: one byte over max is too large", bits[i]);

        memset(&s, 0, sizeof(sink_t));
        rc = run(enc[i], z, clen, 1000, sizeof(text), &s);
        ok(rc == 0, "bits %d: exactly max is fine", bits[i]);

        memset(&s, 0, sizeof(sink_t));
        s.fail = -2;
        rc = run(enc[i], z, clen, 1000, 1 << 20, &s);
        ok(rc == -2, "bits %d: the sink's error is returned", bits[i]);
    }

    /* two gzip members */

    clen = compress_to(31, text, 1000, z, sizeof(z));
    clen2 = compress_to(31, text + 1000, 1000, z + clen, sizeof(z) - clen);
    memset(&s, 0, sizeof(sink_t));
    s.buf = out;
    s.cap = sizeof(out);
    rc = run(NGX_EVBUS_ENCODING_GZIP, z, clen + clen2, 3, 1 << 20, &s);
    ok(rc == 0 && s.len == 2000 && memcmp(out, text, 2000) == 0,
       "two gzip members are one body");

    /* trailing bytes after a zlib stream, corrupt bytes, nothing at all */

    clen = compress_to(15, text, 1000, z, sizeof(z));
    z[clen] = 'x';
    memset(&s, 0, sizeof(sink_t));
    ok(run(NGX_EVBUS_ENCODING_DEFLATE, z, clen + 1, 100, 1 << 20, &s)
       == NGX_EVBUS_INFLATE_BAD, "data after a deflate stream is bad");

    clen = compress_to(31, text, 1000, z, sizeof(z));
    memset(z + 20, 0xff, 8);
    memset(&s, 0, sizeof(sink_t));
    ok(run(NGX_EVBUS_ENCODING_GZIP, z, clen, 100, 1 << 20, &s)
       == NGX_EVBUS_INFLATE_BAD, "corrupt gzip is bad");

    memset(&s, 0, sizeof(sink_t));
    ok(run(NGX_EVBUS_ENCODING_GZIP, z, 0, 100, 1 << 20, &s)
       == NGX_EVBUS_INFLATE_BAD, "an empty body is bad");

    ok(ngx_evbus_inflate_encoding((const unsigned char *) " GZip ", 6)
       == NGX_EVBUS_ENCODING_GZIP, "encoding: \" GZip \"");
    ok(ngx_evbus_inflate_encoding((const unsigned char *) "x-gzip", 6)
       == NGX_EVBUS_ENCODING_GZIP, "encoding: x-gzip");
    ok(ngx_evbus_inflate_encoding((const unsigned char *) "deflate", 7)
       == NGX_EVBUS_ENCODING_DEFLATE, "encoding: deflate");
    ok(ngx_evbus_inflate_encoding((const unsigned char *) "gzip, br", 8)
       == -1, "encoding: gzip, br");
    ok(ngx_evbus_inflate_encoding((const unsigned char *) "br", 2) == -1,
       "encoding: br");

    printf("1..%d\n", ntests);

    return nfailed ? 1 : 0;
}
