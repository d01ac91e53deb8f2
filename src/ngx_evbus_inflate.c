
/*
 * Copyright (C) ngx_evbus authors
 */


#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "ngx_evbus_inflate.h"


struct ngx_evbus_inflate_s {
    z_stream                    zs;
    int                         encoding;
    unsigned                    started:1;
    unsigned                    ended:1;
    size_t                      max;
    size_t                      total;
    unsigned char              *out;
    const char                 *error;
    ngx_evbus_inflate_sink_pt   sink;
    void                       *sink_data;
    ngx_evbus_alloc_pt          alloc;
    void                       *alloc_ctx;
};


static voidpf ngx_evbus_inflate_zalloc(voidpf opaque, uInt items, uInt size);
static void ngx_evbus_inflate_zfree(voidpf opaque, voidpf address);
static int ngx_evbus_inflate_start(ngx_evbus_inflate_t *inf,
    const unsigned char *data, size_t len);


int
ngx_evbus_inflate_encoding(const unsigned char *s, size_t len)
{
    size_t  i, n;

    static const struct {
        const char  *name;
        size_t       len;
        int          encoding;
    } names[] = {
        { "gzip", 4, NGX_EVBUS_ENCODING_GZIP },
        { "x-gzip", 6, NGX_EVBUS_ENCODING_GZIP },
        { "deflate", 7, NGX_EVBUS_ENCODING_DEFLATE },
        { "identity", 8, NGX_EVBUS_ENCODING_IDENTITY }
    };

    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }

    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
        len--;
    }

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (len != names[i].len) {
            continue;
        }

        for (n = 0; n < len; n++) {
            if ((s[n] | 0x20) != names[i].name[n]) {
                break;
            }
        }

        if (n == len) {
            return names[i].encoding;
        }
    }

    return -1;
}


ngx_evbus_inflate_t *
ngx_evbus_inflate_create(int encoding, size_t max,
    ngx_evbus_inflate_sink_pt sink, void *sink_data,
    ngx_evbus_alloc_pt alloc, void *alloc_ctx)
{
    ngx_evbus_inflate_t  *inf;

    inf = alloc(alloc_ctx, sizeof(ngx_evbus_inflate_t));
    if (inf == NULL) {
        return NULL;
    }

    memset(inf, 0, sizeof(ngx_evbus_inflate_t));

    inf->out = alloc(alloc_ctx, NGX_EVBUS_INFLATE_CHUNK);
    if (inf->out == NULL) {
        return NULL;
    }

    inf->encoding = encoding;
    inf->max = max;
    inf->sink = sink;
    inf->sink_data = sink_data;
    inf->alloc = alloc;
    inf->alloc_ctx = alloc_ctx;

    inf->zs.zalloc = ngx_evbus_inflate_zalloc;
    inf->zs.zfree = ngx_evbus_inflate_zfree;
    inf->zs.opaque = inf;

    return inf;
}


/*
 * "deflate" is the zlib format (RFC 9110), but some clients send raw
 * deflate, as browsers accept it: the first two bytes tell which.
 */

static int
ngx_evbus_inflate_start(ngx_evbus_inflate_t *inf, const unsigned char *data,
    size_t len)
{
    int  bits;

    if (inf->encoding == NGX_EVBUS_ENCODING_GZIP) {
        bits = 16 + MAX_WBITS;

    } else if ((data[0] & 0x0f) == Z_DEFLATED && (data[0] >> 4) <= 7
               && (len < 2 || ((data[0] << 8) | data[1]) % 31 == 0))
    {
        bits = MAX_WBITS;

    } else {
        bits = -MAX_WBITS;
    }

    if (inflateInit2(&inf->zs, bits) != Z_OK) {
        return NGX_EVBUS_INFLATE_NOMEM;
    }

    inf->started = 1;

    return NGX_EVBUS_INFLATE_OK;
}


int
ngx_evbus_inflate_feed(ngx_evbus_inflate_t *inf, const unsigned char *data,
    size_t len)
{
    int     rc, zrc;
    size_t  n;

    if (len == 0) {
        return NGX_EVBUS_INFLATE_OK;
    }

    if (!inf->started) {
        rc = ngx_evbus_inflate_start(inf, data, len);
        if (rc != NGX_EVBUS_INFLATE_OK) {
            return rc;
        }
    }

    /* zlib takes a uInt length; nginx's buffers are far smaller */

    inf->zs.next_in = (Bytef *) data;
    inf->zs.avail_in = (uInt) len;

    for ( ;; ) {

        if (inf->ended) {
            if (inf->zs.avail_in == 0) {
                return NGX_EVBUS_INFLATE_OK;
            }

            /* concatenated gzip members are one body (RFC 1952) */

            if (inf->encoding != NGX_EVBUS_ENCODING_GZIP) {
                inf->error = "data after the end of the compressed body";
                return NGX_EVBUS_INFLATE_BAD;
            }

            if (inflateReset(&inf->zs) != Z_OK) {
                inf->error = "cannot restart the gzip stream";
                return NGX_EVBUS_INFLATE_BAD;
            }

            inf->ended = 0;
        }

        inf->zs.next_out = inf->out;
        inf->zs.avail_out = NGX_EVBUS_INFLATE_CHUNK;

        zrc = inflate(&inf->zs, Z_NO_FLUSH);

        switch (zrc) {

        case Z_STREAM_END:
            inf->ended = 1;
            break;

        case Z_OK:
        case Z_BUF_ERROR:
            break;

        case Z_MEM_ERROR:
            return NGX_EVBUS_INFLATE_NOMEM;

        default:
            inf->error = "the compressed body is corrupt";
            return NGX_EVBUS_INFLATE_BAD;
        }

        n = NGX_EVBUS_INFLATE_CHUNK - inf->zs.avail_out;

        if (n > inf->max - inf->total) {
            inf->total = inf->max + 1;
            return NGX_EVBUS_INFLATE_TOO_LARGE;
        }

        inf->total += n;

        if (n) {
            rc = inf->sink(inf->sink_data, inf->out, n);
            if (rc != 0) {
                return rc;
            }
        }

        if (inf->zs.avail_in == 0 && (inf->zs.avail_out != 0 || inf->ended)) {
            return NGX_EVBUS_INFLATE_OK;
        }

        if (zrc == Z_BUF_ERROR && n == 0) {
            /* no progress possible: more input is needed */
            return NGX_EVBUS_INFLATE_OK;
        }
    }
}


int
ngx_evbus_inflate_finish(ngx_evbus_inflate_t *inf)
{
    if (!inf->started) {
        inf->error = "the compressed body is empty";
        return NGX_EVBUS_INFLATE_BAD;
    }

    if (!inf->ended) {
        inf->error = "the compressed body is truncated";
        return NGX_EVBUS_INFLATE_BAD;
    }

    (void) inflateEnd(&inf->zs);

    return NGX_EVBUS_INFLATE_OK;
}


const char *
ngx_evbus_inflate_error(ngx_evbus_inflate_t *inf)
{
    return inf->error ? inf->error : "the compressed body is corrupt";
}


size_t
ngx_evbus_inflate_total(ngx_evbus_inflate_t *inf)
{
    return inf->total;
}


static voidpf
ngx_evbus_inflate_zalloc(voidpf opaque, uInt items, uInt size)
{
    ngx_evbus_inflate_t  *inf = opaque;

    if (size && items > SIZE_MAX / size) {
        return Z_NULL;
    }

    return inf->alloc(inf->alloc_ctx, (size_t) items * size);
}


/* the memory is the allocator's: it goes with its context (the pool) */

static void
ngx_evbus_inflate_zfree(voidpf opaque, voidpf address)
{
    (void) opaque;
    (void) address;
}
