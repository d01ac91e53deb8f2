
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_INFLATE_H_INCLUDED_
#define _NGX_EVBUS_INFLATE_H_INCLUDED_


/*
 * The stage between a compressed request body and the event parser: each
 * piece of the body is inflated into a small buffer that is handed to the
 * sink (the parser) as soon as it is full, so a body is never inflated
 * whole into memory.  No nginx types: unit tested alone.
 */

#include <stddef.h>

#include "ngx_evbus_schema.h"


#define NGX_EVBUS_ENCODING_IDENTITY   0
#define NGX_EVBUS_ENCODING_GZIP       1
#define NGX_EVBUS_ENCODING_DEFLATE    2

/*
 * ngx_evbus_inflate_feed() and ngx_evbus_inflate_finish() return 0, one
 * of these, or what the sink returned when it was not 0
 */
#define NGX_EVBUS_INFLATE_OK          0
#define NGX_EVBUS_INFLATE_NOMEM       -3    /* as NGX_EVBUS_PARSE_NOMEM */
#define NGX_EVBUS_INFLATE_BAD         -10   /* corrupt or truncated: 400 */
#define NGX_EVBUS_INFLATE_TOO_LARGE   -11   /* inflates beyond max: 413 */

#define NGX_EVBUS_INFLATE_CHUNK       16384


typedef int (*ngx_evbus_inflate_sink_pt)(void *data,
    const unsigned char *p, size_t len);

typedef struct ngx_evbus_inflate_s  ngx_evbus_inflate_t;


/*
 * "gzip", "x-gzip", "deflate", "identity" (case-insensitive, blanks
 * around allowed) -> NGX_EVBUS_ENCODING_*, or -1 for anything else
 */
int ngx_evbus_inflate_encoding(const unsigned char *s, size_t len);

/* memory comes from alloc and lives as long as its context */
ngx_evbus_inflate_t *ngx_evbus_inflate_create(int encoding, size_t max,
    ngx_evbus_inflate_sink_pt sink, void *sink_data,
    ngx_evbus_alloc_pt alloc, void *alloc_ctx);

int ngx_evbus_inflate_feed(ngx_evbus_inflate_t *inf,
    const unsigned char *data, size_t len);

/* the end of the body: a stream that did not end is truncated */
int ngx_evbus_inflate_finish(ngx_evbus_inflate_t *inf);

/* after NGX_EVBUS_INFLATE_BAD: why */
const char *ngx_evbus_inflate_error(ngx_evbus_inflate_t *inf);

/* bytes given to the sink so far */
size_t ngx_evbus_inflate_total(ngx_evbus_inflate_t *inf);


#endif /* _NGX_EVBUS_INFLATE_H_INCLUDED_ */
