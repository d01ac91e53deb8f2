
/*
 * Copyright (C) ngx_evbus authors
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_evbus_event_int.h"
#include "ngx_evbus_clock.h"


static yajl_handle ngx_evbus_event_yajl_new(ngx_evbus_parser_t *p);
static void *ngx_evbus_event_yajl_malloc(void *ctx, size_t size);
static void *ngx_evbus_event_yajl_realloc(void *ctx, void *ptr, size_t size);
static void ngx_evbus_event_yajl_free(void *ctx, void *ptr);
static char *ngx_evbus_event_yajl_reason(ngx_evbus_parser_t *p, int body,
    size_t at);
static int ngx_evbus_event_bom(ngx_evbus_parser_t *p,
    const unsigned char **data, size_t *len);
static int ngx_evbus_event_bom_release(ngx_evbus_parser_t *p);
static int ngx_evbus_event_chunk(ngx_evbus_parser_t *p,
    const unsigned char *data, size_t len);
static int ngx_evbus_event_json_chunk(ngx_evbus_parser_t *p);
static int ngx_evbus_event_json_finish(ngx_evbus_parser_t *p);
static int ngx_evbus_event_json_fail(ngx_evbus_parser_t *p, yajl_status st,
    size_t at);
static int ngx_evbus_event_ndjson_chunk(ngx_evbus_parser_t *p);
static int ngx_evbus_event_ndjson_finish(ngx_evbus_parser_t *p);
static int ngx_evbus_event_ndjson_parse(ngx_evbus_parser_t *p,
    const unsigned char *data, size_t len, size_t base);
static int ngx_evbus_event_line_end(ngx_evbus_parser_t *p);
static int ngx_evbus_event_line_reset(ngx_evbus_parser_t *p);
static int ngx_evbus_event_stage_tail(ngx_evbus_parser_t *p);


static const unsigned char  ngx_evbus_event_bom_bytes[] = {
    0xef, 0xbb, 0xbf
};


ngx_evbus_parser_t *
ngx_evbus_parser_create(int format, const ngx_evbus_limits_t *limits,
    const ngx_evbus_enrich_t *enrich, ngx_evbus_alloc_pt alloc, void *alloc_ctx)
{
    ngx_evbus_parser_t  *p;

    if (format < NGX_EVBUS_FORMAT_JSON
        || format > NGX_EVBUS_FORMAT_SEGMENT_BATCH)
    {
        return NULL;
    }

    p = alloc(alloc_ctx, sizeof(ngx_evbus_parser_t));
    if (p == NULL) {
        return NULL;
    }

    memset(p, 0, sizeof(ngx_evbus_parser_t));

    p->format = format;
    p->limits = *limits;
    p->enrich = enrich;
    p->alloc = alloc;
    p->alloc_ctx = alloc_ctx;

    if (format >= NGX_EVBUS_FORMAT_SEGMENT) {
        p->segment = 1;
        p->seg_sent_ms = NGX_EVBUS_CLOCK_NONE;
    }

    if (format == NGX_EVBUS_FORMAT_SEGMENT_BATCH) {
        /* the items of "batch", inside the body's object */
        p->batch = 1;
        p->level = 2;
    }

    p->yajl = ngx_evbus_event_yajl_new(p);
    if (p->yajl == NULL) {
        return NULL;
    }

    return p;
}


int
ngx_evbus_parser_set_schemas(ngx_evbus_parser_t *p,
    const ngx_evbus_schemas_t *schemas, int64_t default_version,
    int unknown_accept)
{
    p->schemas = schemas;
    p->default_version = default_version;
    p->unknown_accept = unknown_accept ? 1 : 0;
    p->validator = NULL;

    if (schemas == NULL) {
        return NGX_EVBUS_PARSE_OK;
    }

    /* a tape is never larger than twice the event it records */

    p->validator = ngx_evbus_validator_create(schemas,
                                         2 * p->limits.max_event_size + 1024,
                                         p->alloc, p->alloc_ctx);

    return p->validator ? NGX_EVBUS_PARSE_OK : NGX_EVBUS_PARSE_NOMEM;
}


int
ngx_evbus_parser_feed(ngx_evbus_parser_t *p, const unsigned char *data,
    size_t len)
{
    if (p->rc != NGX_EVBUS_PARSE_OK) {
        return p->rc;
    }

    if (!p->bom_done) {
        p->rc = ngx_evbus_event_bom(p, &data, &len);
        if (p->rc != NGX_EVBUS_PARSE_OK) {
            return p->rc;
        }
    }

    if (len == 0) {
        return NGX_EVBUS_PARSE_OK;
    }

    p->rc = ngx_evbus_event_chunk(p, data, len);

    return p->rc;
}


int
ngx_evbus_parser_finish(ngx_evbus_parser_t *p)
{
    if (p->rc != NGX_EVBUS_PARSE_OK) {
        return p->rc;
    }

    p->rc = ngx_evbus_event_bom_release(p);
    if (p->rc != NGX_EVBUS_PARSE_OK) {
        return p->rc;
    }

    /* no chunk: whatever is still needed of the body is staged */

    p->chunk = NULL;
    p->chunk_len = 0;
    p->chunk_base = p->offset;
    p->call_base = p->offset;

    if (p->format != NGX_EVBUS_FORMAT_NDJSON) {
        p->rc = ngx_evbus_event_json_finish(p);

    } else {
        p->rc = ngx_evbus_event_ndjson_finish(p);
    }

    if (p->rc == NGX_EVBUS_PARSE_OK && p->batch && !p->batch_seen) {
        p->error = "body has no \"batch\" array";
        p->rc = NGX_EVBUS_PARSE_BAD_BODY;
    }

    if (p->rc == NGX_EVBUS_PARSE_OK && p->nevents == 0) {
        p->error = p->content ? "body holds no events" : "body is empty";
        p->rc = NGX_EVBUS_PARSE_BAD_BODY;
    }

    return p->rc;
}


ngx_evbus_event_t *
ngx_evbus_parser_events(ngx_evbus_parser_t *p, size_t *n)
{
    *n = p->nevents;
    return p->events;
}


const char *
ngx_evbus_parser_error(ngx_evbus_parser_t *p)
{
    return p->error;
}


void
ngx_evbus_parser_destroy(ngx_evbus_parser_t *p)
{
    if (p->yajl) {
        yajl_free(p->yajl);
        p->yajl = NULL;
    }
}


static yajl_handle
ngx_evbus_event_yajl_new(ngx_evbus_parser_t *p)
{
    yajl_handle       h;
    yajl_alloc_funcs  afs;

    afs.malloc = ngx_evbus_event_yajl_malloc;
    afs.realloc = ngx_evbus_event_yajl_realloc;
    afs.free = ngx_evbus_event_yajl_free;
    afs.ctx = p;

    h = yajl_alloc(&ngx_evbus_tokens_callbacks, &afs, p);
    if (h == NULL) {
        return NULL;
    }

    if (p->format == NGX_EVBUS_FORMAT_NDJSON) {
        yajl_config(h, yajl_allow_multiple_values, 1);
    }

    return h;
}


/*
 * yajl's memory from the parser's allocator (a request's pool): a handle
 * with its lexer and buffers costs ~3,600 instructions of malloc and free
 * per request.  Each block starts with its size, for realloc; a block the
 * allocator could not give comes from malloc (yajl does not survive a
 * failed allocation), flagged so that free releases it.
 */

typedef struct {
    size_t   size;
    size_t   malloced;
} ngx_evbus_event_yajl_block_t;


static void *
ngx_evbus_event_yajl_malloc(void *ctx, size_t size)
{
    ngx_evbus_parser_t            *p = ctx;
    ngx_evbus_event_yajl_block_t  *b;

    b = p->alloc(p->alloc_ctx, sizeof(ngx_evbus_event_yajl_block_t) + size);

    if (b != NULL) {
        b->malloced = 0;

    } else {
        b = malloc(sizeof(ngx_evbus_event_yajl_block_t) + size);
        if (b == NULL) {
            return NULL;
        }

        b->malloced = 1;
    }

    b->size = size;

    return b + 1;
}


static void *
ngx_evbus_event_yajl_realloc(void *ctx, void *ptr, size_t size)
{
    void                          *n;
    ngx_evbus_event_yajl_block_t  *b;

    if (ptr == NULL) {
        return ngx_evbus_event_yajl_malloc(ctx, size);
    }

    b = (ngx_evbus_event_yajl_block_t *) ptr - 1;

    if (size <= b->size) {
        return ptr;
    }

    n = ngx_evbus_event_yajl_malloc(ctx, size);
    if (n == NULL) {
        return NULL;
    }

    memcpy(n, ptr, b->size);
    ngx_evbus_event_yajl_free(ctx, ptr);

    return n;
}


static void
ngx_evbus_event_yajl_free(void *ctx, void *ptr)
{
    ngx_evbus_event_yajl_block_t  *b;

    (void) ctx;

    if (ptr == NULL) {
        return;
    }

    b = (ngx_evbus_event_yajl_block_t *) ptr - 1;

    if (b->malloced) {
        free(b);
    }
}


/* yajl's one-line reason, without its trailing newline, in pool memory */

static char *
ngx_evbus_event_yajl_reason(ngx_evbus_parser_t *p, int body, size_t at)
{
    char           *msg;
    size_t          len;
    unsigned char  *err;

    err = yajl_get_error(p->yajl, 0, NULL, 0);
    if (err == NULL) {
        return NULL;
    }

    len = strlen((char *) err);

    while (len && ngx_evbus_is_ws(err[len - 1])) {
        err[--len] = '\0';
    }

    if (body) {
        msg = ngx_evbus_event_printf(p, "invalid JSON at byte %zu: %s",
                                     at, err);

    } else {
        msg = ngx_evbus_event_printf(p, "invalid JSON: %s", err);
    }

    yajl_free_error(p->yajl, err);

    return msg;
}


char *
ngx_evbus_event_printf(ngx_evbus_parser_t *p, const char *fmt, ...)
{
    int       n;
    char     *s;
    va_list   args;

    va_start(args, fmt);
    n = vsnprintf(NULL, 0, fmt, args);
    va_end(args);

    if (n < 0) {
        return NULL;
    }

    s = p->alloc(p->alloc_ctx, (size_t) n + 1);
    if (s == NULL) {
        return NULL;
    }

    va_start(args, fmt);
    (void) vsnprintf(s, (size_t) n + 1, fmt, args);
    va_end(args);

    return s;
}


const char *
ngx_evbus_event_err_size(ngx_evbus_parser_t *p)
{
    if (p->err_size == NULL) {
        p->err_size = ngx_evbus_event_printf(p,
                          "event is larger than evbus_max_event_size"
                          " (%zu bytes)", p->limits.max_event_size);

        if (p->err_size == NULL) {
            p->err_size = "event is larger than evbus_max_event_size";
        }
    }

    return p->err_size;
}


const char *
ngx_evbus_event_err_depth(ngx_evbus_parser_t *p)
{
    if (p->err_depth == NULL) {
        p->err_depth = ngx_evbus_event_printf(p,
                           "event nests deeper than %zu levels",
                           p->limits.max_depth);

        if (p->err_depth == NULL) {
            p->err_depth = "event nests too deep";
        }
    }

    return p->err_depth;
}


/*
 * A UTF-8 BOM may open the body, and nginx may hand it over in pieces;
 * the bytes held back are fed as data if it turns out not to be one.
 */

static int
ngx_evbus_event_bom(ngx_evbus_parser_t *p, const unsigned char **data,
    size_t *len)
{
    while (*len && p->bom < 3) {
        if (**data != ngx_evbus_event_bom_bytes[p->bom]) {
            return ngx_evbus_event_bom_release(p);
        }

        (*data)++;
        (*len)--;
        p->bom++;
        p->offset++;
    }

    if (p->bom == 3) {
        p->bom_done = 1;
    }

    return NGX_EVBUS_PARSE_OK;
}


static int
ngx_evbus_event_bom_release(ngx_evbus_parser_t *p)
{
    size_t  held;

    if (p->bom_done) {
        return NGX_EVBUS_PARSE_OK;
    }

    p->bom_done = 1;
    held = p->bom;

    if (held == 0) {
        return NGX_EVBUS_PARSE_OK;
    }

    p->offset -= held;

    return ngx_evbus_event_chunk(p, ngx_evbus_event_bom_bytes, held);
}


static int
ngx_evbus_event_chunk(ngx_evbus_parser_t *p, const unsigned char *data,
    size_t len)
{
    int  rc;

    p->chunk = data;
    p->chunk_len = len;
    p->chunk_base = p->offset;

    if (p->format != NGX_EVBUS_FORMAT_NDJSON) {
        rc = ngx_evbus_event_json_chunk(p);

    } else {
        rc = ngx_evbus_event_ndjson_chunk(p);
    }

    if (rc == NGX_EVBUS_PARSE_OK) {
        rc = ngx_evbus_event_stage_tail(p);
    }

    if (rc == NGX_EVBUS_PARSE_OK && p->capturing) {
        rc = ngx_evbus_segment_capture(p, p->chunk_base + len);
    }

    p->offset += len;

    return rc;
}


static int
ngx_evbus_event_json_chunk(ngx_evbus_parser_t *p)
{
    size_t       end, at;
    yajl_status  st;

    end = p->chunk_base + p->chunk_len;

    if (!p->content && ngx_evbus_event_skip(p, p->chunk_base, end, 0) < end) {
        p->content = 1;
    }

    p->call_base = p->chunk_base;

    st = yajl_parse(p->yajl, p->chunk, p->chunk_len);

    if (st != yajl_status_ok) {
        at = p->call_base + yajl_get_bytes_consumed(p->yajl);

        /*
         * The error that comes first in the body wins, however it is cut:
         * a form feed or vertical tab before the refused token, as the
         * check at the end of the chunk finds it when the body is cut
         * between the two.
         */

        if (st == yajl_status_error && !p->cur.active
            && ngx_evbus_event_framing(p, p->prev_end, at)
               != NGX_EVBUS_PARSE_OK)
        {
            return p->rc;
        }

        return ngx_evbus_event_json_fail(p, st, at);
    }

    /*
     * A scalar element cut by the chunk's end has been buffered by yajl
     * without a callback yet; it starts at the first byte that is not
     * a separator.
     */

    if (!p->cur.active
        && ngx_evbus_event_framing(p, p->prev_end, end) != NGX_EVBUS_PARSE_OK)
    {
        return p->rc;
    }

    /*
     * Not one event too many: yajl may still refuse that token, and then
     * the body is a 400, as when it is fed whole; if it takes it, the
     * element's callback answers 413.
     */

    if (!p->cur.active
        && (p->batch ? p->in_batch && p->nest == 2
                     : p->level == 1 && p->nest == 1)
        && p->nevents < p->limits.max_events)
    {
        at = ngx_evbus_event_skip(p, p->prev_end, end, 1);

        if (at < end) {
            return ngx_evbus_tokens_event_begin(p, at);
        }
    }

    return NGX_EVBUS_PARSE_OK;
}


static int
ngx_evbus_event_json_finish(ngx_evbus_parser_t *p)
{
    yajl_status  st;

    if (!p->content) {
        p->error = "body is empty";
        return NGX_EVBUS_PARSE_BAD_BODY;
    }

    st = yajl_complete_parse(p->yajl);

    if (st != yajl_status_ok) {
        return ngx_evbus_event_json_fail(p, st, p->offset);
    }

    return NGX_EVBUS_PARSE_OK;
}


/*
 * yajl points at the offending token, or at the chunk's start when that
 * token began in an earlier chunk: the offset is a hint, not an exact spot
 */

static int
ngx_evbus_event_json_fail(ngx_evbus_parser_t *p, yajl_status st, size_t at)
{
    if (st == yajl_status_client_canceled) {
        /* a callback has set the code and the reason */
        return p->rc != NGX_EVBUS_PARSE_OK ? p->rc : NGX_EVBUS_PARSE_NOMEM;
    }

    p->error = ngx_evbus_event_yajl_reason(p, 1, at);
    if (p->error == NULL) {
        return NGX_EVBUS_PARSE_NOMEM;
    }

    return NGX_EVBUS_PARSE_BAD_BODY;
}


/*
 * NDJSON: the lines are split here, and each is fed to one yajl handle
 * that allows multiple values, so that an event or a token cut by the
 * chunk's end simply resumes with the next chunk.  The newline is fed
 * too, to end a number that ends the line.
 */

static int
ngx_evbus_event_ndjson_chunk(ngx_evbus_parser_t *p)
{
    int                   rc;
    size_t                pos, end, base, k;
    const unsigned char  *data, *nl;

    data = p->chunk;
    base = p->chunk_base;
    pos = 0;

    while (pos < p->chunk_len) {
        nl = memchr(data + pos, '\n', p->chunk_len - pos);
        end = nl ? (size_t) (nl - data) + 1 : p->chunk_len;

        if (!p->cur.active) {
            pos = ngx_evbus_event_skip(p, base + pos, base + end, 0) - base;

            if (pos < end) {
                rc = ngx_evbus_tokens_event_begin(p, base + pos);
                if (rc != NGX_EVBUS_PARSE_OK) {
                    return rc;
                }
            }
        }

        if (p->cur.active) {
            for (k = end; k > pos; k--) {
                if (!ngx_evbus_is_ws(data[k - 1])) {
                    p->line_last = base + k;
                    break;
                }
            }
        }

        if (p->cur.active && !p->line_skip && pos < end) {
            rc = ngx_evbus_event_ndjson_parse(p, data + pos, end - pos,
                                              base + pos);
            if (rc != NGX_EVBUS_PARSE_OK) {
                return rc;
            }
        }

        if (nl) {
            rc = ngx_evbus_event_line_end(p);
            if (rc != NGX_EVBUS_PARSE_OK) {
                return rc;
            }
        }

        pos = end;
    }

    return NGX_EVBUS_PARSE_OK;
}


static int
ngx_evbus_event_ndjson_finish(ngx_evbus_parser_t *p)
{
    int  rc;

    if (!p->cur.active) {
        return NGX_EVBUS_PARSE_OK;
    }

    if (!p->line_skip) {
        rc = ngx_evbus_event_ndjson_parse(p, (const unsigned char *) "\n", 1,
                                          p->offset);
        if (rc != NGX_EVBUS_PARSE_OK) {
            return rc;
        }
    }

    return ngx_evbus_event_line_end(p);
}


static int
ngx_evbus_event_ndjson_parse(ngx_evbus_parser_t *p, const unsigned char *data,
    size_t len, size_t base)
{
    char         *err;
    yajl_status   st;

    p->call_base = base;

    st = yajl_parse(p->yajl, data, len);

    if (st == yajl_status_ok) {
        return NGX_EVBUS_PARSE_OK;
    }

    if (p->rc != NGX_EVBUS_PARSE_OK) {
        return p->rc;
    }

    if (st == yajl_status_error) {
        err = ngx_evbus_event_yajl_reason(p, 0, 0);
        if (err == NULL) {
            return NGX_EVBUS_PARSE_NOMEM;
        }

        ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_SYNTAX, "invalid_json", "", err);
    }

    /* the rest of the line is skipped, a fresh handle takes the next */

    p->line_skip = 1;

    return ngx_evbus_event_line_reset(p);
}


static int
ngx_evbus_event_line_end(ngx_evbus_parser_t *p)
{
    int  rc;

    if (!p->cur.active) {
        return NGX_EVBUS_PARSE_OK;
    }

    if (!p->line_skip && p->line_values != 1) {
        ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_SYNTAX, "invalid_json", "",
                              "invalid JSON: line is not a complete JSON"
                              " value");

        rc = ngx_evbus_event_line_reset(p);
        if (rc != NGX_EVBUS_PARSE_OK) {
            return rc;
        }
    }

    p->line_skip = 0;
    p->line_values = 0;

    return ngx_evbus_tokens_event_end(p, p->line_last);
}


static int
ngx_evbus_event_line_reset(ngx_evbus_parser_t *p)
{
    yajl_free(p->yajl);

    p->yajl = ngx_evbus_event_yajl_new(p);
    if (p->yajl == NULL) {
        return NGX_EVBUS_PARSE_NOMEM;
    }

    p->nest = 0;
    p->cur.in_md = 0;

    return NGX_EVBUS_PARSE_OK;
}


/* the first offset in [from, to) of the current chunk that is not space */

size_t
ngx_evbus_event_skip(ngx_evbus_parser_t *p, size_t from, size_t to, int comma)
{
    unsigned char  c;

    if (from < p->chunk_base) {
        from = p->chunk_base;
    }

    for ( /* void */ ; from < to; from++) {
        c = p->chunk[from - p->chunk_base];

        if (!ngx_evbus_is_ws(c) && !(comma && c == ',')) {
            break;
        }
    }

    return from;
}


/*
 * Between and around the events of a JSON body: what yajl took for
 * whitespace in [from, to) of the current chunk must be RFC 8259's.
 * The range may run into a token (one yajl has buffered, or one it
 * has refused): the scan stops there, so that a form feed or vertical
 * tab is reported only when it comes before that token.
 */

int
ngx_evbus_event_framing(ngx_evbus_parser_t *p, size_t from, size_t to)
{
    unsigned char  c;

    if (from < p->chunk_base) {
        from = p->chunk_base;
    }

    if (to > p->chunk_base + p->chunk_len) {
        to = p->chunk_base + p->chunk_len;
    }

    for ( /* void */ ; from < to; from++) {
        c = p->chunk[from - p->chunk_base];

        if (ngx_evbus_is_ws(c) || c == ',') {
            continue;
        }

        if (c == 0x0b || c == 0x0c) {
            p->error = ngx_evbus_event_printf(p, "invalid JSON at byte %zu:"
                                              " a form feed or vertical tab"
                                              " is not JSON whitespace",
                                              from);

            p->rc = p->error ? NGX_EVBUS_PARSE_BAD_BODY
                             : NGX_EVBUS_PARSE_NOMEM;
            return p->rc;
        }

        break;
    }

    return NGX_EVBUS_PARSE_OK;
}


/* the chunk ends inside an event: keep its bytes, up to the limit */

static int
ngx_evbus_event_stage_tail(ngx_evbus_parser_t *p)
{
    size_t  from, n;

    if (!p->cur.active || p->stage_len >= p->limits.max_event_size) {
        return NGX_EVBUS_PARSE_OK;
    }

    if (p->stage == NULL) {
        p->stage = p->alloc(p->alloc_ctx, p->limits.max_event_size);
        if (p->stage == NULL) {
            return NGX_EVBUS_PARSE_NOMEM;
        }
    }

    from = p->cur.start > p->chunk_base ? p->cur.start : p->chunk_base;
    n = p->chunk_base + p->chunk_len - from;

    if (n > p->limits.max_event_size - p->stage_len) {
        n = p->limits.max_event_size - p->stage_len;
    }

    memcpy(p->stage + p->stage_len, p->chunk + (from - p->chunk_base), n);
    p->stage_len += n;

    return NGX_EVBUS_PARSE_OK;
}


unsigned char *
ngx_evbus_event_dup(ngx_evbus_parser_t *p, const unsigned char *s, size_t len)
{
    unsigned char  *d;

    d = p->alloc(p->alloc_ctx, len ? len : 1);
    if (d == NULL) {
        return NULL;
    }

    return memcpy(d, s, len);
}
