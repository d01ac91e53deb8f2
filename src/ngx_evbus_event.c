/*
 * Copyright (C) ngx_evbus authors
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "ngx_evbus_event_int.h"
#include "ngx_evbus_clock.h"
#include "ngx_evbus_json.h"
#include "ngx_evbus_segment.h"


static yajl_handle ngx_evbus_yajl_new(ngx_evbus_parser_t *p);
static void *ngx_evbus_yajl_malloc(void *ctx, size_t size);
static void *ngx_evbus_yajl_realloc(void *ctx, void *ptr, size_t size);
static void ngx_evbus_yajl_free(void *ctx, void *ptr);
static char *ngx_evbus_yajl_reason(ngx_evbus_parser_t *p, int body,
    size_t at);
static char *ngx_evbus_printf(ngx_evbus_parser_t *p, const char *fmt, ...);
static const char *ngx_evbus_err_size(ngx_evbus_parser_t *p);
static const char *ngx_evbus_err_depth(ngx_evbus_parser_t *p);
static int ngx_evbus_bom(ngx_evbus_parser_t *p, const unsigned char **data,
    size_t *len);
static int ngx_evbus_bom_release(ngx_evbus_parser_t *p);
static int ngx_evbus_chunk(ngx_evbus_parser_t *p, const unsigned char *data,
    size_t len);
static int ngx_evbus_json_chunk(ngx_evbus_parser_t *p);
static int ngx_evbus_json_finish(ngx_evbus_parser_t *p);
static int ngx_evbus_json_fail(ngx_evbus_parser_t *p, yajl_status st,
    size_t at);
static int ngx_evbus_ndjson_chunk(ngx_evbus_parser_t *p);
static int ngx_evbus_ndjson_finish(ngx_evbus_parser_t *p);
static int ngx_evbus_ndjson_parse(ngx_evbus_parser_t *p,
    const unsigned char *data, size_t len, size_t base);
static int ngx_evbus_line_end(ngx_evbus_parser_t *p);
static int ngx_evbus_line_reset(ngx_evbus_parser_t *p);
static size_t ngx_evbus_skip(ngx_evbus_parser_t *p, size_t from, size_t to,
    int comma);
static int ngx_evbus_framing(ngx_evbus_parser_t *p, size_t from, size_t to);
static int ngx_evbus_stage_tail(ngx_evbus_parser_t *p);
static const unsigned char *ngx_evbus_text(ngx_evbus_parser_t *p);

static int ngx_evbus_on_null(void *ctx);
static int ngx_evbus_on_boolean(void *ctx, int value);
static int ngx_evbus_on_number(void *ctx, const char *s, size_t len);
static int ngx_evbus_on_string(void *ctx, const unsigned char *s,
    size_t len);
static int ngx_evbus_on_start_map(void *ctx);
static int ngx_evbus_on_map_key(void *ctx, const unsigned char *s,
    size_t len);
static int ngx_evbus_on_start_array(void *ctx);
static int ngx_evbus_on_end(void *ctx);

static int ngx_evbus_scalar(ngx_evbus_parser_t *p, int type, int tok,
    const unsigned char *s, size_t len);
static int ngx_evbus_open(ngx_evbus_parser_t *p, int kind);
static int ngx_evbus_element(ngx_evbus_parser_t *p, int kind, size_t off);
static int ngx_evbus_element_end(ngx_evbus_parser_t *p, size_t off);
static int ngx_evbus_member(ngx_evbus_parser_t *p, int type,
    const unsigned char *s, size_t len);
static void ngx_evbus_member_open(ngx_evbus_parser_t *p, int kind,
    size_t off);
static int ngx_evbus_md_member(ngx_evbus_parser_t *p, size_t off);
static int ngx_evbus_key(const unsigned char *s, size_t len);
static int ngx_evbus_md_reserved(const unsigned char *s, size_t len);
static int ngx_evbus_md_reserved_by(ngx_evbus_parser_t *p,
    const unsigned char *s, size_t len);
static void ngx_evbus_clock_member(ngx_evbus_parser_t *p,
    const unsigned char *s, size_t len);
static const char *ngx_evbus_check_type(const unsigned char *s, size_t len);
static const char *ngx_evbus_check_id(size_t len);
static int ngx_evbus_parse_version(const unsigned char *s, size_t len,
    int64_t *version);

static ngx_evbus_event_t *ngx_evbus_event(ngx_evbus_parser_t *p);
static int ngx_evbus_event_begin(ngx_evbus_parser_t *p, size_t start);
static int ngx_evbus_event_end(ngx_evbus_parser_t *p, size_t end);
static void ngx_evbus_fail(ngx_evbus_parser_t *p, int rank, const char *kind,
    const char *pointer, const char *err);
static int ngx_evbus_vfeed(ngx_evbus_parser_t *p, int tok,
    const unsigned char *s, size_t len);
static int ngx_evbus_vresult(ngx_evbus_parser_t *p, int rc);
static int ngx_evbus_pick(ngx_evbus_parser_t *p, int last);
static const char *ngx_evbus_check_text(const unsigned char *s, size_t len);
static int ngx_evbus_hex4(const unsigned char *s, size_t len, size_t i,
    unsigned *u);
static int ngx_evbus_raw_head(ngx_evbus_parser_t *p, ngx_evbus_event_t *ev);
static int ngx_evbus_build(ngx_evbus_parser_t *p, ngx_evbus_event_t *ev,
    const unsigned char *text, size_t len);
static unsigned char *ngx_evbus_write_md(ngx_evbus_parser_t *p,
    unsigned char *b, const unsigned char *text, const unsigned char *num,
    size_t num_len);
static size_t ngx_evbus_itoa(unsigned char *b, int64_t n);
static int ngx_evbus_env_open(ngx_evbus_parser_t *p, int kind);
static int ngx_evbus_env_scalar(ngx_evbus_parser_t *p, int type,
    const unsigned char *s, size_t len);
static int ngx_evbus_env_end(ngx_evbus_parser_t *p);
static int ngx_evbus_env_error(ngx_evbus_parser_t *p, const char *err);
static int ngx_evbus_capture(ngx_evbus_parser_t *p, size_t to);
static int ngx_evbus_seg_key(const unsigned char *s, size_t len);
static int ngx_evbus_seg_member(ngx_evbus_parser_t *p, int type,
    const unsigned char *s, size_t len);
static int ngx_evbus_seg_end(ngx_evbus_parser_t *p, ngx_evbus_event_t *ev);
static int ngx_evbus_defer(ngx_evbus_parser_t *p, ngx_evbus_event_t *ev,
    const unsigned char *text, size_t len);
static unsigned char *ngx_evbus_dup(ngx_evbus_parser_t *p,
    const unsigned char *s, size_t len);


static const char  ngx_evbus_err_ws[] =
    "invalid JSON: a form feed or vertical tab is not JSON whitespace";


static yajl_callbacks  ngx_evbus_callbacks = {
    ngx_evbus_on_null,
    ngx_evbus_on_boolean,
    NULL,
    NULL,
    ngx_evbus_on_number,
    ngx_evbus_on_string,
    ngx_evbus_on_start_map,
    ngx_evbus_on_map_key,
    ngx_evbus_on_end,
    ngx_evbus_on_start_array,
    ngx_evbus_on_end
};


static const unsigned char  ngx_evbus_bom_bytes[] = { 0xef, 0xbb, 0xbf };


static const char  *ngx_evbus_kinds[] = {
    NULL, "event_type", "event_id", "event_version", "metadata"
};


static const char  *ngx_evbus_pointers[] = {
    "", "/event_type", "/event_id", "/event_version", "/metadata"
};


static const char  *ngx_evbus_duplicate[] = {
    NULL,
    "duplicate key \"event_type\"",
    "duplicate key \"event_id\"",
    "duplicate key \"event_version\"",
    "duplicate key \"metadata\""
};


const uint32_t  ngx_evbus_name_chars[8] = {
    0x00000000, /* 0000 0000 0000 0000  0000 0000 0000 0000 */

                /* ?>=< ;:98 7654 3210  /.-, +*)( '&%$ #"!  */
    0x03ff6000, /* 0000 0011 1111 1111  0110 0000 0000 0000 */

                /* _^]\ [ZYX WVUT SRQP  ONML KJIH GFED CBA@ */
    0x87fffffe, /* 1000 0111 1111 1111  1111 1111 1111 1110 */

                /*  ~}| {zyx wvut srqp  onml kjih gfed cba` */
    0x07fffffe, /* 0000 0111 1111 1111  1111 1111 1111 1110 */

    0x00000000, /* 0000 0000 0000 0000  0000 0000 0000 0000 */
    0x00000000, /* 0000 0000 0000 0000  0000 0000 0000 0000 */
    0x00000000, /* 0000 0000 0000 0000  0000 0000 0000 0000 */
    0x00000000  /* 0000 0000 0000 0000  0000 0000 0000 0000 */
};


ngx_evbus_parser_t *
ngx_evbus_parser_create(int format, const ngx_evbus_limits_t *limits,
    const ngx_evbus_enrich_t *enrich, ngx_evbus_alloc_pt alloc,
    void *alloc_ctx)
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

    p->yajl = ngx_evbus_yajl_new(p);
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
        p->rc = ngx_evbus_bom(p, &data, &len);
        if (p->rc != NGX_EVBUS_PARSE_OK) {
            return p->rc;
        }
    }

    if (len == 0) {
        return NGX_EVBUS_PARSE_OK;
    }

    p->rc = ngx_evbus_chunk(p, data, len);

    return p->rc;
}


int
ngx_evbus_parser_finish(ngx_evbus_parser_t *p)
{
    if (p->rc != NGX_EVBUS_PARSE_OK) {
        return p->rc;
    }

    p->rc = ngx_evbus_bom_release(p);
    if (p->rc != NGX_EVBUS_PARSE_OK) {
        return p->rc;
    }

    /* no chunk: whatever is still needed of the body is staged */

    p->chunk = NULL;
    p->chunk_len = 0;
    p->chunk_base = p->offset;
    p->call_base = p->offset;

    if (p->format != NGX_EVBUS_FORMAT_NDJSON) {
        p->rc = ngx_evbus_json_finish(p);

    } else {
        p->rc = ngx_evbus_ndjson_finish(p);
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
ngx_evbus_yajl_new(ngx_evbus_parser_t *p)
{
    yajl_handle       h;
    yajl_alloc_funcs  afs;

    afs.malloc = ngx_evbus_yajl_malloc;
    afs.realloc = ngx_evbus_yajl_realloc;
    afs.free = ngx_evbus_yajl_free;
    afs.ctx = p;

    h = yajl_alloc(&ngx_evbus_callbacks, &afs, p);
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
} ngx_evbus_yajl_block_t;


static void *
ngx_evbus_yajl_malloc(void *ctx, size_t size)
{
    ngx_evbus_parser_t      *p = ctx;
    ngx_evbus_yajl_block_t  *b;

    b = p->alloc(p->alloc_ctx, sizeof(ngx_evbus_yajl_block_t) + size);

    if (b != NULL) {
        b->malloced = 0;

    } else {
        b = malloc(sizeof(ngx_evbus_yajl_block_t) + size);
        if (b == NULL) {
            return NULL;
        }

        b->malloced = 1;
    }

    b->size = size;

    return b + 1;
}


static void *
ngx_evbus_yajl_realloc(void *ctx, void *ptr, size_t size)
{
    void                    *n;
    ngx_evbus_yajl_block_t  *b;

    if (ptr == NULL) {
        return ngx_evbus_yajl_malloc(ctx, size);
    }

    b = (ngx_evbus_yajl_block_t *) ptr - 1;

    if (size <= b->size) {
        return ptr;
    }

    n = ngx_evbus_yajl_malloc(ctx, size);
    if (n == NULL) {
        return NULL;
    }

    memcpy(n, ptr, b->size);
    ngx_evbus_yajl_free(ctx, ptr);

    return n;
}


static void
ngx_evbus_yajl_free(void *ctx, void *ptr)
{
    ngx_evbus_yajl_block_t  *b;

    (void) ctx;

    if (ptr == NULL) {
        return;
    }

    b = (ngx_evbus_yajl_block_t *) ptr - 1;

    if (b->malloced) {
        free(b);
    }
}


/* yajl's one-line reason, without its trailing newline, in pool memory */

static char *
ngx_evbus_yajl_reason(ngx_evbus_parser_t *p, int body, size_t at)
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
        msg = ngx_evbus_printf(p, "invalid JSON at byte %zu: %s", at, err);

    } else {
        msg = ngx_evbus_printf(p, "invalid JSON: %s", err);
    }

    yajl_free_error(p->yajl, err);

    return msg;
}


static char *
ngx_evbus_printf(ngx_evbus_parser_t *p, const char *fmt, ...)
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


static const char *
ngx_evbus_err_size(ngx_evbus_parser_t *p)
{
    if (p->err_size == NULL) {
        p->err_size = ngx_evbus_printf(p,
                          "event is larger than evbus_max_event_size"
                          " (%zu bytes)", p->limits.max_event_size);

        if (p->err_size == NULL) {
            p->err_size = "event is larger than evbus_max_event_size";
        }
    }

    return p->err_size;
}


static const char *
ngx_evbus_err_depth(ngx_evbus_parser_t *p)
{
    if (p->err_depth == NULL) {
        p->err_depth = ngx_evbus_printf(p,
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
ngx_evbus_bom(ngx_evbus_parser_t *p, const unsigned char **data, size_t *len)
{
    while (*len && p->bom < 3) {
        if (**data != ngx_evbus_bom_bytes[p->bom]) {
            return ngx_evbus_bom_release(p);
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
ngx_evbus_bom_release(ngx_evbus_parser_t *p)
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

    return ngx_evbus_chunk(p, ngx_evbus_bom_bytes, held);
}


static int
ngx_evbus_chunk(ngx_evbus_parser_t *p, const unsigned char *data, size_t len)
{
    int  rc;

    p->chunk = data;
    p->chunk_len = len;
    p->chunk_base = p->offset;

    if (p->format != NGX_EVBUS_FORMAT_NDJSON) {
        rc = ngx_evbus_json_chunk(p);

    } else {
        rc = ngx_evbus_ndjson_chunk(p);
    }

    if (rc == NGX_EVBUS_PARSE_OK) {
        rc = ngx_evbus_stage_tail(p);
    }

    if (rc == NGX_EVBUS_PARSE_OK && p->capturing) {
        rc = ngx_evbus_capture(p, p->chunk_base + len);
    }

    p->offset += len;

    return rc;
}


static int
ngx_evbus_json_chunk(ngx_evbus_parser_t *p)
{
    size_t       end, at;
    yajl_status  st;

    end = p->chunk_base + p->chunk_len;

    if (!p->content && ngx_evbus_skip(p, p->chunk_base, end, 0) < end) {
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
            && ngx_evbus_framing(p, p->prev_end, at) != NGX_EVBUS_PARSE_OK)
        {
            return p->rc;
        }

        return ngx_evbus_json_fail(p, st, at);
    }

    /*
     * A scalar element cut by the chunk's end has been buffered by yajl
     * without a callback yet; it starts at the first byte that is not
     * a separator.
     */

    if (!p->cur.active
        && ngx_evbus_framing(p, p->prev_end, end) != NGX_EVBUS_PARSE_OK)
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
        at = ngx_evbus_skip(p, p->prev_end, end, 1);

        if (at < end) {
            return ngx_evbus_event_begin(p, at);
        }
    }

    return NGX_EVBUS_PARSE_OK;
}


static int
ngx_evbus_json_finish(ngx_evbus_parser_t *p)
{
    yajl_status  st;

    if (!p->content) {
        p->error = "body is empty";
        return NGX_EVBUS_PARSE_BAD_BODY;
    }

    st = yajl_complete_parse(p->yajl);

    if (st != yajl_status_ok) {
        return ngx_evbus_json_fail(p, st, p->offset);
    }

    return NGX_EVBUS_PARSE_OK;
}


/*
 * yajl points at the offending token, or at the chunk's start when that
 * token began in an earlier chunk: the offset is a hint, not an exact spot
 */

static int
ngx_evbus_json_fail(ngx_evbus_parser_t *p, yajl_status st, size_t at)
{
    if (st == yajl_status_client_canceled) {
        /* a callback has set the code and the reason */
        return p->rc != NGX_EVBUS_PARSE_OK ? p->rc : NGX_EVBUS_PARSE_NOMEM;
    }

    p->error = ngx_evbus_yajl_reason(p, 1, at);
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
ngx_evbus_ndjson_chunk(ngx_evbus_parser_t *p)
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
            pos = ngx_evbus_skip(p, base + pos, base + end, 0) - base;

            if (pos < end) {
                rc = ngx_evbus_event_begin(p, base + pos);
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
            rc = ngx_evbus_ndjson_parse(p, data + pos, end - pos, base + pos);
            if (rc != NGX_EVBUS_PARSE_OK) {
                return rc;
            }
        }

        if (nl) {
            rc = ngx_evbus_line_end(p);
            if (rc != NGX_EVBUS_PARSE_OK) {
                return rc;
            }
        }

        pos = end;
    }

    return NGX_EVBUS_PARSE_OK;
}


static int
ngx_evbus_ndjson_finish(ngx_evbus_parser_t *p)
{
    int  rc;

    if (!p->cur.active) {
        return NGX_EVBUS_PARSE_OK;
    }

    if (!p->line_skip) {
        rc = ngx_evbus_ndjson_parse(p, (const unsigned char *) "\n", 1,
                                    p->offset);
        if (rc != NGX_EVBUS_PARSE_OK) {
            return rc;
        }
    }

    return ngx_evbus_line_end(p);
}


static int
ngx_evbus_ndjson_parse(ngx_evbus_parser_t *p, const unsigned char *data,
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
        err = ngx_evbus_yajl_reason(p, 0, 0);
        if (err == NULL) {
            return NGX_EVBUS_PARSE_NOMEM;
        }

        ngx_evbus_fail(p, NGX_EVBUS_ERR_SYNTAX, "invalid_json", "", err);
    }

    /* the rest of the line is skipped, a fresh handle takes the next */

    p->line_skip = 1;

    return ngx_evbus_line_reset(p);
}


static int
ngx_evbus_line_end(ngx_evbus_parser_t *p)
{
    int  rc;

    if (!p->cur.active) {
        return NGX_EVBUS_PARSE_OK;
    }

    if (!p->line_skip && p->line_values != 1) {
        ngx_evbus_fail(p, NGX_EVBUS_ERR_SYNTAX, "invalid_json", "",
                       "invalid JSON: line is not a complete JSON"
                       " value");

        rc = ngx_evbus_line_reset(p);
        if (rc != NGX_EVBUS_PARSE_OK) {
            return rc;
        }
    }

    p->line_skip = 0;
    p->line_values = 0;

    return ngx_evbus_event_end(p, p->line_last);
}


static int
ngx_evbus_line_reset(ngx_evbus_parser_t *p)
{
    yajl_free(p->yajl);

    p->yajl = ngx_evbus_yajl_new(p);
    if (p->yajl == NULL) {
        return NGX_EVBUS_PARSE_NOMEM;
    }

    p->nest = 0;
    p->cur.in_md = 0;

    return NGX_EVBUS_PARSE_OK;
}


/* the first offset in [from, to) of the current chunk that is not space */

static size_t
ngx_evbus_skip(ngx_evbus_parser_t *p, size_t from, size_t to, int comma)
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

static int
ngx_evbus_framing(ngx_evbus_parser_t *p, size_t from, size_t to)
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
            p->error = ngx_evbus_printf(p, "invalid JSON at byte %zu: a form"
                                        " feed or vertical tab is not JSON"
                                        " whitespace", from);

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
ngx_evbus_stage_tail(ngx_evbus_parser_t *p)
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


/*
 * The current event's text, contiguous: in the chunk if it began there,
 * else its head is staged and the part in this chunk is appended.
 * The caller has checked that it is not larger than max_event_size.
 */

static const unsigned char *
ngx_evbus_text(ngx_evbus_parser_t *p)
{
    size_t  n;

    if (p->cur.start >= p->chunk_base) {
        return p->chunk + (p->cur.start - p->chunk_base);
    }

    if (p->cur.end > p->chunk_base) {
        n = p->cur.end - p->chunk_base;
        memcpy(p->stage + p->stage_len, p->chunk, n);
        p->stage_len += n;
    }

    return p->stage;
}


static int
ngx_evbus_on_null(void *ctx)
{
    return ngx_evbus_scalar(ctx, NGX_EVBUS_SCALAR_OTHER, NGX_EVBUS_TOK_NULL,
                            NULL, 0);
}


static int
ngx_evbus_on_boolean(void *ctx, int value)
{
    return ngx_evbus_scalar(ctx, NGX_EVBUS_SCALAR_OTHER,
                            value ? NGX_EVBUS_TOK_TRUE : NGX_EVBUS_TOK_FALSE,
                            NULL, 0);
}


static int
ngx_evbus_on_number(void *ctx, const char *s, size_t len)
{
    return ngx_evbus_scalar(ctx, NGX_EVBUS_SCALAR_NUMBER,
                            NGX_EVBUS_TOK_NUMBER, (const unsigned char *) s,
                            len);
}


static int
ngx_evbus_on_string(void *ctx, const unsigned char *s, size_t len)
{
    return ngx_evbus_scalar(ctx, NGX_EVBUS_SCALAR_STRING,
                            NGX_EVBUS_TOK_STRING, s, len);
}


static int
ngx_evbus_on_start_map(void *ctx)
{
    return ngx_evbus_open(ctx, NGX_EVBUS_VALUE_MAP);
}


static int
ngx_evbus_on_start_array(void *ctx)
{
    return ngx_evbus_open(ctx, NGX_EVBUS_VALUE_ARRAY);
}


static int
ngx_evbus_on_map_key(void *ctx, const unsigned char *s, size_t len)
{
    int                  key, bit;
    ngx_evbus_parser_t  *p;

    p = ctx;

    if (p->batch && (p->nest < 2 || p->env_in)) {
        if (!p->env_in && p->nest == 1) {
            p->env_key = ngx_evbus_seg_key(s, len);
        }

        return 1;
    }

    if (p->cur.validate
        && ngx_evbus_vfeed(p, NGX_EVBUS_TOK_KEY, s, len)
           != NGX_EVBUS_PARSE_OK)
    {
        return 0;
    }

    if (p->nest - p->level == 2 && p->cur.in_md) {
        p->cur.md_keep = !ngx_evbus_md_reserved(s, len)
                         && !ngx_evbus_md_reserved_by(p, s, len);
        return 1;
    }

    if (p->nest - p->level != 1) {
        return 1;
    }

    key = ngx_evbus_key(s, len);
    p->cur.key = key;

    if (p->segment) {
        p->cur.seg_key = ngx_evbus_seg_key(s, len);
        p->cur.clock_key = (len == 9 && memcmp(s, "timestamp", 9) == 0) ? 1
                           : (p->cur.seg_key == NGX_EVBUS_SEG_SENT_AT) ? 2
                           : 0;

    } else {
        p->cur.clock_key = (len == 9 && memcmp(s, "timestamp", 9) == 0) ? 1
                           : (len == 7 && memcmp(s, "sent_at", 7) == 0) ? 2
                           : 0;
    }

    if (key != NGX_EVBUS_KEY_OTHER) {
        bit = 1 << (key - 1);

        if (p->cur.keys & bit) {
            ngx_evbus_fail(p, NGX_EVBUS_ERR_CONTENT, "duplicate_key",
                           ngx_evbus_pointers[key], ngx_evbus_duplicate[key]);
        }

        p->cur.keys |= bit;
    }

    return 1;
}


static int
ngx_evbus_on_end(void *ctx)
{
    size_t               off, depth;
    ngx_evbus_parser_t  *p;

    p = ctx;
    off = p->call_base + yajl_get_bytes_consumed(p->yajl);

    if (p->env_in) {
        p->nest--;
        return (p->nest > 1 || ngx_evbus_env_end(p) == NGX_EVBUS_PARSE_OK);
    }

    p->nest--;

    if (p->nest < p->level) {
        /* the top-level array; or the batch, or the body's object */

        if (p->batch && p->nest == 1) {
            p->in_batch = 0;
        }

        if (ngx_evbus_framing(p, p->prev_end, off - 1) != NGX_EVBUS_PARSE_OK) {
            return 0;
        }

        p->prev_end = off;
        return 1;
    }

    depth = p->nest - p->level;

    if (p->cur.validate
        && ngx_evbus_vfeed(p, NGX_EVBUS_TOK_END, NULL, 0)
           != NGX_EVBUS_PARSE_OK)
    {
        return 0;
    }

    if (depth == 0) {
        return ngx_evbus_element_end(p, off) == NGX_EVBUS_PARSE_OK;
    }

    if (!p->cur.in_md) {
        return 1;
    }

    if (depth == 1) {
        p->cur.in_md = 0;
        p->cur.has_md = 1;
        p->cur.md_end = off;
        return 1;
    }

    if (depth == 2) {
        return ngx_evbus_md_member(p, off) == NGX_EVBUS_PARSE_OK;
    }

    return 1;
}


static int
ngx_evbus_scalar(ngx_evbus_parser_t *p, int type, int tok,
    const unsigned char *s, size_t len)
{
    size_t  off, depth;

    if (p->batch && (p->nest < 2 || p->env_in)) {
        return ngx_evbus_env_scalar(p, type, s, len);
    }

    off = p->call_base + yajl_get_bytes_consumed(p->yajl);

    if (p->nest == p->level) {
        return ngx_evbus_element(p, NGX_EVBUS_VALUE_SCALAR, off)
               == NGX_EVBUS_PARSE_OK
               && ngx_evbus_element_end(p, off) == NGX_EVBUS_PARSE_OK;
    }

    depth = p->nest - p->level;

    /* before member(): choosing a schema there replays this value too */

    if (p->cur.validate
        && ngx_evbus_vfeed(p, tok, s, len) != NGX_EVBUS_PARSE_OK)
    {
        return 0;
    }

    if (depth == 1) {
        if (p->cur.clock_key && type == NGX_EVBUS_SCALAR_STRING) {
            ngx_evbus_clock_member(p, s, len);
        }

        if (p->segment && p->cur.seg_key
            && ngx_evbus_seg_member(p, type, s, len) != NGX_EVBUS_PARSE_OK)
        {
            return 0;
        }

        return ngx_evbus_member(p, type, s, len) == NGX_EVBUS_PARSE_OK;
    }

    if (depth == 2 && p->cur.in_md) {
        return ngx_evbus_md_member(p, off) == NGX_EVBUS_PARSE_OK;
    }

    return 1;
}


static int
ngx_evbus_open(ngx_evbus_parser_t *p, int kind)
{
    size_t  off;

    if (p->batch && (p->nest < 2 || p->env_in)) {
        return ngx_evbus_env_open(p, kind);
    }

    off = p->call_base + yajl_get_bytes_consumed(p->yajl);

    if (p->nest == p->level) {
        if (ngx_evbus_element(p, kind, off) != NGX_EVBUS_PARSE_OK) {
            return 0;
        }

    } else if (p->nest - p->level == 1) {
        ngx_evbus_member_open(p, kind, off);
    }

    if (p->cur.validate && p->nest >= p->level
        && ngx_evbus_vfeed(p, (kind == NGX_EVBUS_VALUE_MAP)
                              ? NGX_EVBUS_TOK_MAP : NGX_EVBUS_TOK_ARRAY,
                           NULL, 0)
           != NGX_EVBUS_PARSE_OK)
    {
        return 0;
    }

    p->nest++;

    if (p->cur.active && p->nest - p->level > p->limits.max_depth) {
        ngx_evbus_fail(p, NGX_EVBUS_ERR_CONTENT, "depth", "",
                       ngx_evbus_err_depth(p));
    }

    return 1;
}


/* a value starts where events are: off is just past its first token */

static int
ngx_evbus_element(ngx_evbus_parser_t *p, int kind, size_t off)
{
    size_t  start;

    if (p->format == NGX_EVBUS_FORMAT_NDJSON) {
        if (p->line_values) {
            ngx_evbus_fail(p, NGX_EVBUS_ERR_SYNTAX, "invalid_json", "",
                           "invalid JSON: more than one JSON value on"
                           " a line");
            return NGX_EVBUS_PARSE_BAD_BODY;
        }

    } else if (!p->top_seen) {
        p->top_seen = 1;

        if (p->segment && kind != NGX_EVBUS_VALUE_MAP) {
            p->error = "body must be a JSON object";
            p->rc = NGX_EVBUS_PARSE_BAD_BODY;
            return p->rc;
        }

        if (kind == NGX_EVBUS_VALUE_ARRAY) {
            p->level = 1;
            p->prev_end = off;
            return ngx_evbus_framing(p, 0, off - 1);
        }

        if (kind == NGX_EVBUS_VALUE_SCALAR) {
            if (ngx_evbus_framing(p, 0, off) != NGX_EVBUS_PARSE_OK) {
                return p->rc;
            }

            p->error = "body must be a JSON object or an array of objects";
            p->rc = NGX_EVBUS_PARSE_BAD_BODY;
            return p->rc;
        }
    }

    if (!p->cur.active) {
        /* up to the value's first byte: skip() stops at a form feed */

        if (p->format == NGX_EVBUS_FORMAT_JSON
            && ngx_evbus_framing(p, p->prev_end, off) != NGX_EVBUS_PARSE_OK)
        {
            return p->rc;
        }

        if (kind == NGX_EVBUS_VALUE_SCALAR) {
            start = ngx_evbus_skip(p, p->prev_end, off, 1);

        } else {
            start = off - 1;
        }

        p->rc = ngx_evbus_event_begin(p, start);
        if (p->rc != NGX_EVBUS_PARSE_OK) {
            return p->rc;
        }
    }

    if (kind != NGX_EVBUS_VALUE_MAP) {
        ngx_evbus_fail(p, NGX_EVBUS_ERR_CONTENT, "not_object", "",
                       "event is not an object");
    }

    return NGX_EVBUS_PARSE_OK;
}


static int
ngx_evbus_element_end(ngx_evbus_parser_t *p, size_t off)
{
    if (p->format == NGX_EVBUS_FORMAT_NDJSON) {
        /* the line's end ends the event */
        p->line_values++;
        return NGX_EVBUS_PARSE_OK;
    }

    p->prev_end = off;
    p->rc = ngx_evbus_event_end(p, off);

    return p->rc;
}


static int
ngx_evbus_member(ngx_evbus_parser_t *p, int type, const unsigned char *s,
    size_t len)
{
    const char         *err;
    ngx_evbus_event_t  *ev;

    ev = ngx_evbus_event(p);
    err = NULL;

    if (p->segment
        && (p->cur.key == NGX_EVBUS_KEY_TYPE
            || p->cur.key == NGX_EVBUS_KEY_ID))
    {
        ngx_evbus_fail(p, NGX_EVBUS_ERR_CONTENT, ngx_evbus_kinds[p->cur.key],
                       ngx_evbus_pointers[p->cur.key],
                       "event_type and event_id are set by the server in"
                       " evbus_format segment (from type, event and"
                       " messageId)");
        return NGX_EVBUS_PARSE_OK;
    }

    switch (p->cur.key) {

    case NGX_EVBUS_KEY_TYPE:
        if (type != NGX_EVBUS_SCALAR_STRING) {
            err = "event_type must be a string";
            break;
        }

        err = ngx_evbus_check_type(s, len);

        if (err == NULL && ev->event_type == NULL) {
            ev->event_type = ngx_evbus_dup(p, s, len);
            ev->event_type_len = len;

            if (ev->event_type == NULL) {
                p->rc = NGX_EVBUS_PARSE_NOMEM;
                return p->rc;
            }
        }

        break;

    case NGX_EVBUS_KEY_ID:
        if (type != NGX_EVBUS_SCALAR_STRING) {
            err = "event_id must be a string";
            break;
        }

        err = ngx_evbus_check_id(len);

        if (err == NULL && ev->event_id == NULL) {
            ev->event_id = ngx_evbus_dup(p, s, len);
            ev->event_id_len = len;

            if (ev->event_id == NULL) {
                p->rc = NGX_EVBUS_PARSE_NOMEM;
                return p->rc;
            }
        }

        break;

    case NGX_EVBUS_KEY_VERSION:
        if (type != NGX_EVBUS_SCALAR_NUMBER
            || ngx_evbus_parse_version(s, len, &ev->event_version) != 0)
        {
            err = "event_version must be a positive integer";
            break;
        }

        p->cur.version_seen = 1;
        break;

    case NGX_EVBUS_KEY_METADATA:
        err = "metadata must be an object";
        break;
    }

    if (err) {
        ngx_evbus_fail(p, NGX_EVBUS_ERR_CONTENT,
                       ngx_evbus_kinds[p->cur.key],
                       ngx_evbus_pointers[p->cur.key], err);
        return NGX_EVBUS_PARSE_OK;
    }

    if (p->cur.validate
        && (p->cur.key == NGX_EVBUS_KEY_TYPE
            || p->cur.key == NGX_EVBUS_KEY_VERSION))
    {
        return ngx_evbus_pick(p, 0);
    }

    return NGX_EVBUS_PARSE_OK;
}


static void
ngx_evbus_member_open(ngx_evbus_parser_t *p, int kind, size_t off)
{
    if (p->segment) {
        switch (p->cur.seg_key) {

        case NGX_EVBUS_SEG_CONTEXT:
            p->cur.seg_context = 1;
            break;

        case NGX_EVBUS_SEG_INTEGRATIONS:
            p->cur.seg_integrations = 1;
            break;

        case NGX_EVBUS_SEG_MESSAGE_ID:
            ngx_evbus_fail(p, NGX_EVBUS_ERR_CONTENT, "event_id", "/messageId",
                           "messageId must be a string");
            break;
        }
    }

    switch (p->cur.key) {

    case NGX_EVBUS_KEY_TYPE:
        ngx_evbus_fail(p, NGX_EVBUS_ERR_CONTENT, "event_type", "/event_type",
                       "event_type must be a string");
        break;

    case NGX_EVBUS_KEY_ID:
        ngx_evbus_fail(p, NGX_EVBUS_ERR_CONTENT, "event_id", "/event_id",
                       "event_id must be a string");
        break;

    case NGX_EVBUS_KEY_VERSION:
        ngx_evbus_fail(p, NGX_EVBUS_ERR_CONTENT, "event_version",
                       "/event_version",
                       "event_version must be a positive integer");
        break;

    case NGX_EVBUS_KEY_METADATA:
        if (kind != NGX_EVBUS_VALUE_MAP) {
            ngx_evbus_fail(p, NGX_EVBUS_ERR_CONTENT, "metadata", "/metadata",
                           "metadata must be an object");
            break;
        }

        p->cur.in_md = 1;
        p->cur.md_start = off - 1;
        p->cur.md_prev = off;
        p->cur.nspans = 0;
        break;
    }
}


/*
 * A member of the client's metadata ends at off; it spans from the end
 * of the previous token, the separators are trimmed when it is copied.
 */

static int
ngx_evbus_md_member(ngx_evbus_parser_t *p, size_t off)
{
    size_t             cap;
    ngx_evbus_span_t  *spans;

    if (!p->cur.md_keep || off - p->cur.start > p->limits.max_event_size) {
        p->cur.md_prev = off;
        return NGX_EVBUS_PARSE_OK;
    }

    if (p->cur.nspans == p->spans_cap) {
        cap = p->spans_cap ? 2 * p->spans_cap : 8;

        spans = p->alloc(p->alloc_ctx, cap * sizeof(ngx_evbus_span_t));
        if (spans == NULL) {
            p->rc = NGX_EVBUS_PARSE_NOMEM;
            return p->rc;
        }

        if (p->spans) {
            memcpy(spans, p->spans, p->cur.nspans * sizeof(ngx_evbus_span_t));
        }

        p->spans = spans;
        p->spans_cap = cap;
    }

    p->spans[p->cur.nspans].start = p->cur.md_prev;
    p->spans[p->cur.nspans].end = off;
    p->cur.nspans++;

    p->cur.md_prev = off;

    return NGX_EVBUS_PARSE_OK;
}


static int
ngx_evbus_key(const unsigned char *s, size_t len)
{
    switch (len) {

    case 8:
        if (memcmp(s, "event_id", 8) == 0) {
            return NGX_EVBUS_KEY_ID;
        }

        if (memcmp(s, "metadata", 8) == 0) {
            return NGX_EVBUS_KEY_METADATA;
        }

        break;

    case 10:
        if (memcmp(s, "event_type", 10) == 0) {
            return NGX_EVBUS_KEY_TYPE;
        }

        break;

    case 13:
        if (memcmp(s, "event_version", 13) == 0) {
            return NGX_EVBUS_KEY_VERSION;
        }

        break;
    }

    return NGX_EVBUS_KEY_OTHER;
}


/* the metadata members that only the server may set */

static int
ngx_evbus_md_reserved(const unsigned char *s, size_t len)
{
    switch (len) {

    case 9:
        return memcmp(s, "client_ip", 9) == 0
               || memcmp(s, "write_key", 9) == 0;

    case 10:
        return memcmp(s, "user_agent", 10) == 0
               || memcmp(s, "request_id", 10) == 0;

    case 13:
        return memcmp(s, "event_version", 13) == 0;

    case 14:
        return memcmp(s, "source_service", 14) == 0;

    case 16:
        return memcmp(s, "ingest_timestamp", 16) == 0;

    case 19:
        return memcmp(s, "corrected_timestamp", 19) == 0;
    }

    return 0;
}


static int
ngx_evbus_md_reserved_by(ngx_evbus_parser_t *p, const unsigned char *s,
    size_t len)
{
    size_t  i;

    for (i = 0; i < p->enrich->nreserved; i++) {
        if (p->enrich->reserved[i].len == len
            && memcmp(p->enrich->reserved[i].data, s, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* the event's "timestamp" or "sent_at", when it is an RFC 3339 time */

static void
ngx_evbus_clock_member(ngx_evbus_parser_t *p, const unsigned char *s,
    size_t len)
{
    int64_t  t;

    t = ngx_evbus_clock_parse(s, len);

    if (p->cur.clock_key == 1) {
        p->cur.ts_ms = t;
        p->cur.ts_ok = (t != NGX_EVBUS_CLOCK_NONE);

    } else {
        p->cur.sent_ms = t;
        p->cur.sent_ok = (t != NGX_EVBUS_CLOCK_NONE);
    }
}


static const char *
ngx_evbus_check_type(const unsigned char *s, size_t len)
{
    if (ngx_evbus_type_valid(s, len)) {
        return NULL;
    }

    if (len == 0) {
        return "event_type is empty";
    }

    if (len > NGX_EVBUS_EVENT_TYPE_MAX) {
        return "event_type is longer than 128 bytes";
    }

    return "event_type may only contain A-Z a-z 0-9 _ . -";
}


int
ngx_evbus_type_valid(const unsigned char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > NGX_EVBUS_EVENT_TYPE_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!ngx_evbus_name_char(s[i])) {
            return 0;
        }
    }

    return 1;
}


static const char *
ngx_evbus_check_id(size_t len)
{
    if (len == 0) {
        return "event_id is empty";
    }

    if (len > NGX_EVBUS_EVENT_ID_MAX) {
        return "event_id is longer than 128 bytes";
    }

    return NULL;
}


/* a JSON integer in 1..2^31-1, as yajl's number text */

static int
ngx_evbus_parse_version(const unsigned char *s, size_t len, int64_t *version)
{
    size_t   i;
    int64_t  n;

    if (len == 0 || len > 10) {
        return -1;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        n = n * 10 + (s[i] - '0');
    }

    if (n < 1 || n > 0x7fffffff) {
        return -1;
    }

    *version = n;

    return 0;
}


static ngx_evbus_event_t *
ngx_evbus_event(ngx_evbus_parser_t *p)
{
    return &p->events[p->nevents - 1];
}


static int
ngx_evbus_event_begin(ngx_evbus_parser_t *p, size_t start)
{
    size_t              cap;
    ngx_evbus_defer_t  *d;
    ngx_evbus_event_t  *ev;

    if (p->nevents >= p->limits.max_events) {
        return NGX_EVBUS_PARSE_TOO_MANY;
    }

    if (p->nevents == p->events_cap) {
        cap = p->events_cap ? 2 * p->events_cap : 16;

        if (cap > p->limits.max_events) {
            cap = p->limits.max_events;
        }

        ev = p->alloc(p->alloc_ctx, cap * sizeof(ngx_evbus_event_t));
        if (ev == NULL) {
            return NGX_EVBUS_PARSE_NOMEM;
        }

        if (p->events) {
            memcpy(ev, p->events, p->nevents * sizeof(ngx_evbus_event_t));
        }

        p->events = ev;

        if (p->segment) {
            d = p->alloc(p->alloc_ctx, cap * sizeof(ngx_evbus_defer_t));
            if (d == NULL) {
                return NGX_EVBUS_PARSE_NOMEM;
            }

            if (p->defer) {
                memcpy(d, p->defer, p->nevents * sizeof(ngx_evbus_defer_t));
            }

            p->defer = d;
        }

        p->events_cap = cap;
    }

    ev = &p->events[p->nevents];
    memset(ev, 0, sizeof(ngx_evbus_event_t));

    ev->index = p->nevents++;
    ev->event_version = 1;

    memset(&p->cur, 0, sizeof(ngx_evbus_cur_t));
    p->cur.active = 1;
    p->cur.start = start;
    p->stage_len = 0;
    p->content = 1;

    if (p->validator) {
        ngx_evbus_validator_reset(p->validator);
        p->cur.validate = 1;
    }

    return NGX_EVBUS_PARSE_OK;
}


static int
ngx_evbus_event_end(ngx_evbus_parser_t *p, size_t end)
{
    int                   rc;
    size_t                len;
    const char           *err;
    ngx_evbus_event_t    *ev;
    const unsigned char  *text;

    ev = ngx_evbus_event(p);

    p->cur.active = 0;
    p->cur.end = end;
    len = end - p->cur.start;

    if (len > p->limits.max_event_size) {
        ngx_evbus_fail(p, NGX_EVBUS_ERR_SIZE, "too_large", "",
                       ngx_evbus_err_size(p));
        return ngx_evbus_raw_head(p, ev);
    }

    text = ngx_evbus_text(p);

    if (p->segment) {
        rc = ngx_evbus_seg_end(p, ev);
        if (rc != NGX_EVBUS_PARSE_OK) {
            return rc;
        }

    } else if (!(p->cur.keys & (1 << (NGX_EVBUS_KEY_TYPE - 1)))) {
        ngx_evbus_fail(p, NGX_EVBUS_ERR_CONTENT, "event_type", "",
                       "event_type is missing");
    }

    if (p->cur.err_rank < NGX_EVBUS_ERR_SYNTAX) {
        err = ngx_evbus_check_text(text, len);

        if (err) {
            ngx_evbus_fail(p, NGX_EVBUS_ERR_SYNTAX,
                           (err == ngx_evbus_err_ws) ? "invalid_json"
                                                     : "invalid_utf8",
                           "", err);
        }
    }

    if (p->cur.validate) {
        /* no event_version came: the default or latest version */

        rc = ngx_evbus_pick(p, 1);
        if (rc != NGX_EVBUS_PARSE_OK) {
            return rc;
        }

        p->cur.validate = 0;
    }

    if (ev->error == NULL) {
        return p->segment ? ngx_evbus_defer(p, ev, text, len)
                          : ngx_evbus_build(p, ev, text, len);
    }

    ev->raw = ngx_evbus_dup(p, text, len);
    ev->raw_len = len;

    return ev->raw ? NGX_EVBUS_PARSE_OK : NGX_EVBUS_PARSE_NOMEM;
}


/* a rejected event larger than the limit: its head, for dead letters */

static int
ngx_evbus_raw_head(ngx_evbus_parser_t *p, ngx_evbus_event_t *ev)
{
    size_t                max, n;
    const unsigned char  *head;

    max = p->limits.max_event_size;

    if (p->cur.start >= p->chunk_base) {
        head = p->chunk + (p->cur.start - p->chunk_base);

    } else {
        if (p->stage_len < max && p->cur.end > p->chunk_base) {
            n = p->cur.end - p->chunk_base;

            if (n > max - p->stage_len) {
                n = max - p->stage_len;
            }

            memcpy(p->stage + p->stage_len, p->chunk, n);
            p->stage_len += n;
        }

        head = p->stage;
        max = p->stage_len;
    }

    ev->raw = ngx_evbus_dup(p, head, max);
    ev->raw_len = max;
    ev->raw_truncated = 1;

    return ev->raw ? NGX_EVBUS_PARSE_OK : NGX_EVBUS_PARSE_NOMEM;
}


static void
ngx_evbus_fail(ngx_evbus_parser_t *p, int rank, const char *kind,
    const char *pointer, const char *err)
{
    ngx_evbus_event_t  *ev;

    if (p->cur.validate) {
        /* a rejected event is not worth validating further */
        ngx_evbus_validator_stop(p->validator);
        p->cur.validate = 0;
    }

    if (rank > (int) p->cur.err_rank) {
        ev = ngx_evbus_event(p);
        ev->error = err;
        ev->error_kind = kind;
        ev->error_pointer = pointer;
        ev->error_message = err;
        ev->error_keyword = NULL;
        p->cur.err_rank = rank;
    }
}


static int
ngx_evbus_vfeed(ngx_evbus_parser_t *p, int tok, const unsigned char *s,
    size_t len)
{
    int  rc;

    rc = ngx_evbus_validator_token(p->validator, tok, s, len);

    if (rc == NGX_EVBUS_VALID_OK) {
        return NGX_EVBUS_PARSE_OK;
    }

    return ngx_evbus_vresult(p, rc);
}


static int
ngx_evbus_vresult(ngx_evbus_parser_t *p, int rc)
{
    char                            *msg;
    ngx_evbus_event_t               *ev;
    const ngx_evbus_schema_error_t  *e;

    if (rc == NGX_EVBUS_VALID_OK) {
        return NGX_EVBUS_PARSE_OK;
    }

    if (rc == NGX_EVBUS_VALID_FAILED) {
        e = ngx_evbus_validator_error(p->validator);

        msg = ngx_evbus_printf(p, "%s: %s",
                               e->pointer[0] ? e->pointer : "event",
                               e->message);
        if (msg != NULL) {
            ngx_evbus_fail(p, NGX_EVBUS_ERR_SCHEMA, e->kind, e->pointer, msg);

            ev = ngx_evbus_event(p);

            if (ev->error == msg) {
                ev->error_message = e->message;
                ev->error_keyword = e->keyword;
            }

            return NGX_EVBUS_PARSE_OK;
        }
    }

    p->rc = NGX_EVBUS_PARSE_NOMEM;

    return p->rc;
}


/*
 * The schema is chosen once event_type and event_version are known, or
 * event_type alone when the type has a single version, or at the event's
 * end; until then the validator records the tokens, and replays them when
 * the choice is made.  Events that send event_type and event_version first
 * are validated as they stream by, with only those two members recorded.
 */

static int
ngx_evbus_pick(ngx_evbus_parser_t *p, int last)
{
    int                        known, single;
    char                      *msg;
    int64_t                    version;
    ngx_evbus_event_t         *ev;
    const ngx_evbus_schema_t  *schema;

    ev = ngx_evbus_event(p);

    if (ev->event_type == NULL) {
        return NGX_EVBUS_PARSE_OK;
    }

    if (!ngx_evbus_validator_pending(p->validator)) {
        /* validating already: an event_version that came later must agree */

        if (p->cur.version_seen && ev->event_version != p->cur.schema_version)
        {
            msg = ngx_evbus_printf(p, "no schema for event_type \"%.*s\""
                                   " version %lld",
                                   (int) ev->event_type_len, ev->event_type,
                                   (long long) ev->event_version);
            if (msg == NULL) {
                p->rc = NGX_EVBUS_PARSE_NOMEM;
                return p->rc;
            }

            ngx_evbus_fail(p, NGX_EVBUS_ERR_CONTENT, "unknown_version",
                           "/event_version", msg);
        }

        return NGX_EVBUS_PARSE_OK;
    }

    version = p->cur.version_seen ? ev->event_version : 0;

    schema = ngx_evbus_schemas_find(p->schemas, ev->event_type,
                                    ev->event_type_len, version,
                                    p->default_version, &known, &single);

    if (!known && p->unknown_accept) {
        ngx_evbus_validator_stop(p->validator);
        p->cur.validate = 0;
        return NGX_EVBUS_PARSE_OK;
    }

    if (schema == NULL) {
        if (!known) {
            msg = ngx_evbus_printf(p, "no schema for event_type \"%.*s\"",
                                   (int) ev->event_type_len, ev->event_type);

        } else {
            msg = ngx_evbus_printf(p, "no schema for event_type \"%.*s\""
                                   " version %lld",
                                   (int) ev->event_type_len, ev->event_type,
                                   (long long) version);
        }

        if (msg == NULL) {
            p->rc = NGX_EVBUS_PARSE_NOMEM;
            return p->rc;
        }

        ngx_evbus_fail(p, NGX_EVBUS_ERR_CONTENT,
                       known ? "unknown_version" : "unknown_type",
                       known ? "/event_version" : "/event_type", msg);

        return NGX_EVBUS_PARSE_OK;
    }

    if (!last && !p->cur.version_seen && !single) {
        /* event_version may still come */
        return NGX_EVBUS_PARSE_OK;
    }

    p->cur.schema_version = ngx_evbus_schema_version(schema);

    if (!p->cur.version_seen) {
        ev->event_version = p->cur.schema_version;
    }

    return ngx_evbus_vresult(p, ngx_evbus_validator_start(p->validator,
                                                          schema));
}


/*
 * yajl lets through overlong forms, UTF-8-encoded surrogates, code points
 * above U+10FFFF and unpaired surrogates in \u escapes, and takes form
 * feed and vertical tab for whitespace: what is produced must be valid
 * UTF-8 JSON (RFC 8259) for every consumer, so the event's text is checked
 * once more, 8 bytes at a time over plain ASCII.  yajl refuses control
 * bytes inside strings: the only ones left are whitespace.
 */

static const char *
ngx_evbus_check_text(const unsigned char *s, size_t len)
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
                    return ngx_evbus_err_ws;
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

            if (ngx_evbus_hex4(s, len, i, &u) != 0) {
                return "invalid JSON: a truncated \\u escape";
            }

            i += 6;

            if (u >= 0xdc00 && u <= 0xdfff) {
                return "invalid JSON: a lone surrogate in a \\u escape";
            }

            if (u < 0xd800 || u > 0xdbff) {
                continue;
            }

            if (ngx_evbus_hex4(s, len, i, &u) != 0
                || u < 0xdc00 || u > 0xdfff)
            {
                return "invalid JSON: a lone surrogate in a \\u escape";
            }

            i += 6;
            continue;
        }

        if (c < 0x80) {
            if (c == 0x0b || c == 0x0c) {
                return ngx_evbus_err_ws;
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
ngx_evbus_hex4(const unsigned char *s, size_t len, size_t i, unsigned *u)
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


/*
 * The value is the client's text with our event_id spliced in after
 * its '{' and our metadata object in place of the client's one or before
 * its '}'; the raw text is copied into the same allocation after it.
 */

static int
ngx_evbus_build(ngx_evbus_parser_t *p, ngx_evbus_event_t *ev,
    const unsigned char *text, size_t len)
{
    size_t             i, size, md_len, md_start, md_end, num_len;
    int64_t            sent;
    unsigned char     *b, num[24];
    ngx_evbus_span_t  *sp;

    num_len = ngx_evbus_itoa(num, ev->event_version);

    md_len = sizeof("{\"event_version\":}") - 1 + num_len;

    if (p->enrich->metadata_len) {
        md_len += 1 + p->enrich->metadata_len;
    }

    /* ts_ms holds the corrected time from here on, or none */

    sent = p->cur.sent_ok ? p->cur.sent_ms
           : p->seg_sent_ok ? p->seg_sent_ms
           : p->enrich->has_sent_at ? p->enrich->sent_at_ms
           : NGX_EVBUS_CLOCK_NONE;

    p->cur.ts_ms = ngx_evbus_clock_correct(p->enrich->now_ms, sent,
                                           p->cur.ts_ok ? p->cur.ts_ms
                                           : NGX_EVBUS_CLOCK_NONE);

    if (p->cur.ts_ms != NGX_EVBUS_CLOCK_NONE) {
        md_len += sizeof(",\"corrected_timestamp\":\"\"") - 1
                  + NGX_EVBUS_CLOCK_TS_LEN;
    }

    for (i = 0; i < p->cur.nspans; i++) {
        sp = &p->spans[i];
        sp->start -= p->cur.start;
        sp->end -= p->cur.start;

        while (ngx_evbus_is_ws(text[sp->start]) || text[sp->start] == ',') {
            sp->start++;
        }

        md_len += 1 + sp->end - sp->start;
    }

    if (p->cur.has_md) {
        md_start = p->cur.md_start - p->cur.start;
        md_end = p->cur.md_end - p->cur.start;
        size = len - (md_end - md_start) + md_len;

    } else {
        md_start = len - 1;
        md_end = len - 1;
        size = len + sizeof(",\"metadata\":") - 1 + md_len;
    }

    if (ev->event_id == NULL) {
        size += NGX_EVBUS_GEN_ID_LEN;

    } else if (p->segment) {
        /* messageId, escaped again: at most 6 bytes for each */
        size += sizeof("\"event_id\":\"\",") - 1
                + ngx_evbus_json_escape_len(ev->event_id_len);
    }

    if (p->segment) {
        size += sizeof("\"event_type\":\"\",") - 1 + ev->event_type_len
                + sizeof("\"context\":,\"integrations\":,") - 1
                + p->cap[0].len + p->cap[1].len;
    }

    b = p->alloc(p->alloc_ctx, size + len);
    if (b == NULL) {
        return NGX_EVBUS_PARSE_NOMEM;
    }

    ev->value = b;
    *b++ = '{';

    if (p->segment && ev->event_id) {
        b = (unsigned char *) memcpy(b, "\"event_id\":\"", 12) + 12;
        b = ngx_evbus_json_escape(b, ev->event_id, ev->event_id_len);
        *b++ = '"';
        *b++ = ',';
    }

    if (ev->event_id == NULL) {
        b = (unsigned char *) memcpy(b, "\"event_id\":\"", 12) + 12;
        ngx_evbus_uuid_v7(p->enrich->uuid, p->enrich->now_ms, b);
        ev->event_id = b;
        ev->event_id_len = NGX_EVBUS_UUID_LEN;
        ev->generated_id = 1;
        b += NGX_EVBUS_UUID_LEN;
        *b++ = '"';
        *b++ = ',';
    }

    if (p->segment) {
        b = (unsigned char *) memcpy(b, "\"event_type\":\"", 14) + 14;
        b = (unsigned char *) memcpy(b, ev->event_type, ev->event_type_len)
            + ev->event_type_len;
        *b++ = '"';
        *b++ = ',';

        /* the batch's own, for items that have none */

        if (p->cap[0].len && !p->cur.seg_context) {
            b = (unsigned char *) memcpy(b, "\"context\":", 10) + 10;
            b = (unsigned char *) memcpy(b, p->cap[0].buf, p->cap[0].len)
                + p->cap[0].len;
            *b++ = ',';
        }

        if (p->cap[1].len && !p->cur.seg_integrations) {
            b = (unsigned char *) memcpy(b, "\"integrations\":", 15) + 15;
            b = (unsigned char *) memcpy(b, p->cap[1].buf, p->cap[1].len)
                + p->cap[1].len;
            *b++ = ',';
        }
    }

    b = (unsigned char *) memcpy(b, text + 1, md_start - 1) + md_start - 1;

    if (!p->cur.has_md) {
        b = (unsigned char *) memcpy(b, ",\"metadata\":", 12) + 12;
    }

    b = ngx_evbus_write_md(p, b, text, num, num_len);

    b = (unsigned char *) memcpy(b, text + md_end, len - md_end)
        + len - md_end;

    ev->value_len = b - ev->value;

    ev->raw = memcpy(b, text, len);
    ev->raw_len = len;

    return NGX_EVBUS_PARSE_OK;
}


static unsigned char *
ngx_evbus_write_md(ngx_evbus_parser_t *p, unsigned char *b,
    const unsigned char *text, const unsigned char *num, size_t num_len)
{
    size_t             i, n;
    ngx_evbus_span_t  *sp;

    b = (unsigned char *) memcpy(b, "{\"event_version\":", 17) + 17;
    b = (unsigned char *) memcpy(b, num, num_len) + num_len;

    if (p->enrich->metadata_len) {
        *b++ = ',';
        b = (unsigned char *) memcpy(b, p->enrich->metadata,
                                     p->enrich->metadata_len)
            + p->enrich->metadata_len;
    }

    if (p->cur.ts_ms != NGX_EVBUS_CLOCK_NONE) {
        b = (unsigned char *) memcpy(b, ",\"corrected_timestamp\":\"", 24)
            + 24;
        b = ngx_evbus_clock_format(b, p->cur.ts_ms);
        *b++ = '"';
    }

    for (i = 0; i < p->cur.nspans; i++) {
        sp = &p->spans[i];
        n = sp->end - sp->start;

        *b++ = ',';
        b = (unsigned char *) memcpy(b, text + sp->start, n) + n;
    }

    *b++ = '}';

    return b;
}


static size_t
ngx_evbus_itoa(unsigned char *b, int64_t n)
{
    size_t         len, i;
    unsigned char  tmp[24];

    len = 0;

    do {
        tmp[len++] = (unsigned char) ('0' + n % 10);
        n /= 10;
    } while (n);

    for (i = 0; i < len; i++) {
        b[i] = tmp[len - 1 - i];
    }

    return len;
}


static unsigned char *
ngx_evbus_dup(ngx_evbus_parser_t *p, const unsigned char *s, size_t len)
{
    unsigned char  *d;

    d = p->alloc(p->alloc_ctx, len ? len : 1);
    if (d == NULL) {
        return NULL;
    }

    return memcpy(d, s, len);
}


void
ngx_evbus_parser_set_segment_call(ngx_evbus_parser_t *p, int type)
{
    p->seg_call = type;
}


const unsigned char *
ngx_evbus_parser_write_key(ngx_evbus_parser_t *p, size_t *len)
{
    *len = p->write_key_len;
    return p->write_key;
}


int
ngx_evbus_parser_build(ngx_evbus_parser_t *p)
{
    int                 rc;
    size_t              i, extra;
    unsigned char       id[ngx_evbus_json_escape_len(NGX_EVBUS_EVENT_ID_MAX)];
    ngx_evbus_event_t  *ev;

    if (!p->segment || p->built || p->rc != NGX_EVBUS_PARSE_OK) {
        return p->rc;
    }

    p->built = 1;

    for (i = 0; i < p->nevents; i++) {
        ev = &p->events[i];

        if (ev->error) {
            continue;
        }

        p->cur = p->defer[i].cur;
        p->spans = p->defer[i].spans;

        /*
         * what is added before the client's members counts against the
         * event's size, as a generated event_id does elsewhere
         */

        extra = sizeof("\"event_type\":\"\",") - 1 + ev->event_type_len;

        if (ev->event_id) {
            extra += sizeof("\"event_id\":\"\",") - 1
                     + (ngx_evbus_json_escape(id, ev->event_id,
                                              ev->event_id_len) - id);
        }

        if (!p->cur.seg_context && p->cap[0].len) {
            extra += sizeof("\"context\":,") - 1 + p->cap[0].len;
        }

        if (!p->cur.seg_integrations && p->cap[1].len) {
            extra += sizeof("\"integrations\":,") - 1 + p->cap[1].len;
        }

        if (ev->raw_len + extra
            > p->limits.max_event_size + NGX_EVBUS_GEN_ID_LEN)
        {
            ev->error = "event with the batch-level members added to it"
                        " is larger than evbus_max_event_size";
            ev->error_kind = "too_large";
            ev->error_pointer = "";
            ev->error_message = ev->error;
            ev->error_keyword = NULL;
            continue;
        }

        rc = ngx_evbus_build(p, ev, ev->raw, ev->raw_len);
        if (rc != NGX_EVBUS_PARSE_OK) {
            p->rc = rc;
            return rc;
        }
    }

    return NGX_EVBUS_PARSE_OK;
}


/*
 * A batch's envelope: {"batch":[...], "sentAt":..., "context":{...},
 * "integrations":{...}, "writeKey":...} in any order; the items of
 * "batch" are the events (level 2).
 */

static int
ngx_evbus_env_open(ngx_evbus_parser_t *p, int kind)
{
    size_t                off;
    ngx_evbus_capture_t  *c;

    off = p->call_base + yajl_get_bytes_consumed(p->yajl);

    if (p->env_in) {
        if (++p->nest > p->limits.max_depth + 2) {
            return ngx_evbus_env_error(p, "a member of the batch nests too"
                                          " deep");
        }

        return 1;
    }

    if (p->nest == 0) {
        p->top_seen = 1;

        if (kind != NGX_EVBUS_VALUE_MAP) {
            return ngx_evbus_env_error(p, "body must be a JSON object with"
                                          " a \"batch\" array");
        }

        p->nest = 1;
        return 1;
    }

    if (p->env_key == NGX_EVBUS_SEG_BATCH) {
        if (kind != NGX_EVBUS_VALUE_ARRAY || p->batch_seen) {
            return ngx_evbus_env_error(p, "\"batch\" must be one array");
        }

        p->batch_seen = 1;
        p->in_batch = 1;
        p->prev_end = off;
        p->nest = 2;
        return 1;
    }

    p->env_in = 1;
    p->nest = 2;

    if (kind != NGX_EVBUS_VALUE_MAP) {
        return 1;
    }

    c = (p->env_key == NGX_EVBUS_SEG_CONTEXT) ? &p->cap[0]
        : (p->env_key == NGX_EVBUS_SEG_INTEGRATIONS) ? &p->cap[1] : NULL;

    if (c == NULL) {
        return 1;
    }

    if (c->buf == NULL) {
        c->buf = p->alloc(p->alloc_ctx, p->limits.max_event_size);
        if (c->buf == NULL) {
            p->rc = NGX_EVBUS_PARSE_NOMEM;
            return 0;
        }
    }

    /* a repeated member: the last one counts */

    c->start = off - 1;
    c->len = 0;
    c->active = 1;
    p->capturing = c;

    return 1;
}


static int
ngx_evbus_env_scalar(ngx_evbus_parser_t *p, int type, const unsigned char *s,
    size_t len)
{
    if (p->env_in) {
        return 1;
    }

    if (p->nest == 0) {
        p->top_seen = 1;
        return ngx_evbus_env_error(p, "body must be a JSON object with"
                                      " a \"batch\" array");
    }

    switch (p->env_key) {

    case NGX_EVBUS_SEG_BATCH:
        return ngx_evbus_env_error(p, "\"batch\" must be one array");

    case NGX_EVBUS_SEG_SENT_AT:
        if (type == NGX_EVBUS_SCALAR_STRING) {
            p->seg_sent_ms = ngx_evbus_clock_parse(s, len);
            p->seg_sent_ok = (p->seg_sent_ms != NGX_EVBUS_CLOCK_NONE);
        }

        break;

    case NGX_EVBUS_SEG_WRITE_KEY:
        if (type == NGX_EVBUS_SCALAR_STRING && p->write_key == NULL
            && len && len <= p->limits.max_event_size)
        {
            p->write_key = ngx_evbus_dup(p, s, len);
            p->write_key_len = len;

            if (p->write_key == NULL) {
                p->rc = NGX_EVBUS_PARSE_NOMEM;
                return 0;
            }
        }

        break;
    }

    return 1;
}


/* the end of a member's object or array in the envelope */

static int
ngx_evbus_env_end(ngx_evbus_parser_t *p)
{
    size_t                off;
    const char           *err;
    ngx_evbus_capture_t  *c;

    p->env_in = 0;
    c = p->capturing;

    if (c == NULL) {
        return NGX_EVBUS_PARSE_OK;
    }

    off = p->call_base + yajl_get_bytes_consumed(p->yajl);

    if (ngx_evbus_capture(p, off) != NGX_EVBUS_PARSE_OK) {
        return p->rc;
    }

    p->capturing = NULL;
    c->active = 0;

    /* it is copied into events: the same strict bytes as theirs */

    err = ngx_evbus_check_text(c->buf, c->len);

    if (err) {
        p->error = ngx_evbus_printf(p, "batch-level %s: %s",
                                    (c == &p->cap[0]) ? "context"
                                                      : "integrations", err);
        p->rc = p->error ? NGX_EVBUS_PARSE_BAD_BODY : NGX_EVBUS_PARSE_NOMEM;
        return p->rc;
    }

    return NGX_EVBUS_PARSE_OK;
}


static int
ngx_evbus_env_error(ngx_evbus_parser_t *p, const char *err)
{
    p->error = err;
    p->rc = NGX_EVBUS_PARSE_BAD_BODY;

    return 0;
}


/* the captured member's bytes of the current chunk, up to "to" */

static int
ngx_evbus_capture(ngx_evbus_parser_t *p, size_t to)
{
    size_t                from, n;
    ngx_evbus_capture_t  *c;

    c = p->capturing;

    if (p->chunk == NULL) {
        return NGX_EVBUS_PARSE_OK;
    }

    from = (c->start > p->chunk_base) ? c->start : p->chunk_base;

    if (to <= from) {
        return NGX_EVBUS_PARSE_OK;
    }

    n = to - from;

    if (n > p->limits.max_event_size - c->len) {
        p->error = ngx_evbus_printf(p, "batch-level %s is larger than"
                                    " %zu bytes",
                                    (c == &p->cap[0]) ? "context"
                                                      : "integrations",
                                    p->limits.max_event_size);
        p->rc = p->error ? NGX_EVBUS_PARSE_BAD_BODY : NGX_EVBUS_PARSE_NOMEM;
        return p->rc;
    }

    memcpy(c->buf + c->len, p->chunk + (from - p->chunk_base), n);
    c->len += n;

    /* the rest of this chunk is copied at its end, not twice */

    c->start = to;

    return NGX_EVBUS_PARSE_OK;
}


static int
ngx_evbus_seg_key(const unsigned char *s, size_t len)
{
    switch (len) {

    case 4:
        return (memcmp(s, "type", 4) == 0) ? NGX_EVBUS_SEG_TYPE
                                           : NGX_EVBUS_SEG_OTHER;

    case 5:
        if (memcmp(s, "event", 5) == 0) {
            return NGX_EVBUS_SEG_EVENT;
        }

        return (memcmp(s, "batch", 5) == 0) ? NGX_EVBUS_SEG_BATCH
                                            : NGX_EVBUS_SEG_OTHER;

    case 6:
        if (memcmp(s, "userId", 6) == 0) {
            return NGX_EVBUS_SEG_USER;
        }

        return (memcmp(s, "sentAt", 6) == 0) ? NGX_EVBUS_SEG_SENT_AT
                                             : NGX_EVBUS_SEG_OTHER;

    case 7:
        return (memcmp(s, "context", 7) == 0) ? NGX_EVBUS_SEG_CONTEXT
                                              : NGX_EVBUS_SEG_OTHER;

    case 8:
        return (memcmp(s, "writeKey", 8) == 0) ? NGX_EVBUS_SEG_WRITE_KEY
                                               : NGX_EVBUS_SEG_OTHER;

    case 9:
        return (memcmp(s, "messageId", 9) == 0) ? NGX_EVBUS_SEG_MESSAGE_ID
                                                : NGX_EVBUS_SEG_OTHER;

    case 11:
        return (memcmp(s, "anonymousId", 11) == 0) ? NGX_EVBUS_SEG_USER
                                                   : NGX_EVBUS_SEG_OTHER;

    case 12:
        return (memcmp(s, "integrations", 12) == 0)
               ? NGX_EVBUS_SEG_INTEGRATIONS : NGX_EVBUS_SEG_OTHER;
    }

    return NGX_EVBUS_SEG_OTHER;
}


/* a scalar member of a Segment item */

static int
ngx_evbus_seg_member(ngx_evbus_parser_t *p, int type, const unsigned char *s,
    size_t len)
{
    unsigned char       name[NGX_EVBUS_EVENT_TYPE_MAX];
    ngx_evbus_event_t  *ev;

    ev = ngx_evbus_event(p);

    switch (p->cur.seg_key) {

    case NGX_EVBUS_SEG_TYPE:
        p->cur.seg_type_seen = 1;
        p->cur.seg_type = (type == NGX_EVBUS_SCALAR_STRING)
                          ? ngx_evbus_segment_type(s, len)
                          : NGX_EVBUS_SEGMENT_NONE;
        break;

    case NGX_EVBUS_SEG_EVENT:
        if (type != NGX_EVBUS_SCALAR_STRING || p->cur.seg_event_seen) {
            break;
        }

        p->cur.seg_event_seen = 1;
        p->cur.seg_event_len = ngx_evbus_segment_name(name, s, len);
        p->cur.seg_event = ngx_evbus_dup(p, name, p->cur.seg_event_len);

        if (p->cur.seg_event == NULL) {
            p->rc = NGX_EVBUS_PARSE_NOMEM;
            return p->rc;
        }

        break;

    case NGX_EVBUS_SEG_MESSAGE_ID:
        if (type != NGX_EVBUS_SCALAR_STRING || ngx_evbus_check_id(len)) {
            ngx_evbus_fail(p, NGX_EVBUS_ERR_CONTENT, "event_id", "/messageId",
                           "messageId must be a string of 1 to 128 bytes");
            break;
        }

        if (ev->event_id == NULL) {
            ev->event_id = ngx_evbus_dup(p, s, len);
            ev->event_id_len = len;

            if (ev->event_id == NULL) {
                p->rc = NGX_EVBUS_PARSE_NOMEM;
                return p->rc;
            }
        }

        break;

    case NGX_EVBUS_SEG_USER:
        if ((type == NGX_EVBUS_SCALAR_STRING && len)
            || type == NGX_EVBUS_SCALAR_NUMBER)
        {
            p->cur.seg_user = 1;
        }

        break;

    case NGX_EVBUS_SEG_CONTEXT:
        p->cur.seg_context = 1;
        break;

    case NGX_EVBUS_SEG_INTEGRATIONS:
        p->cur.seg_integrations = 1;
        break;

    case NGX_EVBUS_SEG_WRITE_KEY:
        /* a single call's body is the item */

        if (!p->batch && p->nest == 1 && type == NGX_EVBUS_SCALAR_STRING
            && p->write_key == NULL && len)
        {
            p->write_key = ngx_evbus_dup(p, s, len);
            p->write_key_len = len;

            if (p->write_key == NULL) {
                p->rc = NGX_EVBUS_PARSE_NOMEM;
                return p->rc;
            }
        }

        break;
    }

    return NGX_EVBUS_PARSE_OK;
}


/* the item's end: its event_type, and the identity Segment requires */

static int
ngx_evbus_seg_end(ngx_evbus_parser_t *p, ngx_evbus_event_t *ev)
{
    int          type;
    size_t       len;
    const char  *name;

    type = p->seg_call ? p->seg_call : (int) p->cur.seg_type;

    if (type == NGX_EVBUS_SEGMENT_NONE) {
        ngx_evbus_fail(p, NGX_EVBUS_ERR_CONTENT, "event_type", "/type",
                       p->cur.seg_type_seen
                       ? "type must be track, identify, page, screen, group"
                         " or alias"
                       : "type is missing");

    } else if (type == NGX_EVBUS_SEGMENT_TRACK) {
        if (p->cur.seg_event_len) {
            ev->event_type = p->cur.seg_event;
            ev->event_type_len = p->cur.seg_event_len;

        } else {
            ngx_evbus_fail(p, NGX_EVBUS_ERR_CONTENT, "event_type", "/event",
                           p->cur.seg_event_seen
                           ? "event has no letter or digit"
                           : "a track call needs an event name");
        }

    } else {
        name = ngx_evbus_segment_type_name(type, &len);

        ev->event_type = ngx_evbus_dup(p, (const unsigned char *) name, len);
        ev->event_type_len = len;

        if (ev->event_type == NULL) {
            return NGX_EVBUS_PARSE_NOMEM;
        }
    }

    if (!p->cur.seg_user) {
        ngx_evbus_fail(p, NGX_EVBUS_ERR_CONTENT, "user_id", "",
                       "userId or anonymousId is required");
    }

    return NGX_EVBUS_PARSE_OK;
}


/* a valid item waits for the end of the body to be built */

static int
ngx_evbus_defer(ngx_evbus_parser_t *p, ngx_evbus_event_t *ev,
    const unsigned char *text, size_t len)
{
    ngx_evbus_defer_t  *d;

    ev->raw = ngx_evbus_dup(p, text, len);
    ev->raw_len = len;

    if (ev->raw == NULL) {
        return NGX_EVBUS_PARSE_NOMEM;
    }

    d = &p->defer[ev->index];
    d->cur = p->cur;
    d->spans = NULL;

    if (p->cur.nspans) {
        d->spans = p->alloc(p->alloc_ctx,
                            p->cur.nspans * sizeof(ngx_evbus_span_t));
        if (d->spans == NULL) {
            return NGX_EVBUS_PARSE_NOMEM;
        }

        memcpy(d->spans, p->spans, p->cur.nspans * sizeof(ngx_evbus_span_t));
    }

    return NGX_EVBUS_PARSE_OK;
}
