
/*
 * Copyright (C) ngx_evbus authors
 */


#include <string.h>

#include "ngx_evbus_event_int.h"
#include "ngx_evbus_clock.h"


static int ngx_evbus_tokens_on_null(void *ctx);
static int ngx_evbus_tokens_on_boolean(void *ctx, int value);
static int ngx_evbus_tokens_on_number(void *ctx, const char *s, size_t len);
static int ngx_evbus_tokens_on_string(void *ctx, const unsigned char *s,
    size_t len);
static int ngx_evbus_tokens_on_start_map(void *ctx);
static int ngx_evbus_tokens_on_start_array(void *ctx);
static int ngx_evbus_tokens_on_map_key(void *ctx, const unsigned char *s,
    size_t len);
static int ngx_evbus_tokens_on_end(void *ctx);
static int ngx_evbus_tokens_scalar(ngx_evbus_parser_t *p, int type, int tok,
    const unsigned char *s, size_t len);
static int ngx_evbus_tokens_open(ngx_evbus_parser_t *p, int kind);
static int ngx_evbus_tokens_element(ngx_evbus_parser_t *p, int kind,
    size_t off);
static int ngx_evbus_tokens_element_end(ngx_evbus_parser_t *p, size_t off);
static int ngx_evbus_tokens_member(ngx_evbus_parser_t *p, int type,
    const unsigned char *s, size_t len);
static void ngx_evbus_tokens_member_open(ngx_evbus_parser_t *p, int kind,
    size_t off);
static int ngx_evbus_tokens_md_member(ngx_evbus_parser_t *p, size_t off);
static int ngx_evbus_tokens_key(const unsigned char *s, size_t len);
static int ngx_evbus_tokens_md_reserved(const unsigned char *s, size_t len);
static int ngx_evbus_tokens_md_reserved_by(ngx_evbus_parser_t *p,
    const unsigned char *s, size_t len);
static void ngx_evbus_tokens_clock_member(ngx_evbus_parser_t *p,
    const unsigned char *s, size_t len);
static const char *ngx_evbus_tokens_check_type(const unsigned char *s,
    size_t len);
static int ngx_evbus_tokens_parse_version(const unsigned char *s, size_t len,
    int64_t *version);
static int ngx_evbus_tokens_vfeed(ngx_evbus_parser_t *p, int tok,
    const unsigned char *s, size_t len);
static int ngx_evbus_tokens_vresult(ngx_evbus_parser_t *p, int rc);
static int ngx_evbus_tokens_pick(ngx_evbus_parser_t *p, int last);
static const unsigned char *ngx_evbus_tokens_text(ngx_evbus_parser_t *p);


yajl_callbacks  ngx_evbus_tokens_callbacks = {
    ngx_evbus_tokens_on_null,
    ngx_evbus_tokens_on_boolean,
    NULL,
    NULL,
    ngx_evbus_tokens_on_number,
    ngx_evbus_tokens_on_string,
    ngx_evbus_tokens_on_start_map,
    ngx_evbus_tokens_on_map_key,
    ngx_evbus_tokens_on_end,
    ngx_evbus_tokens_on_start_array,
    ngx_evbus_tokens_on_end
};


static const char  *ngx_evbus_tokens_kinds[] = {
    NULL, "event_type", "event_id", "event_version", "metadata"
};


static const char  *ngx_evbus_tokens_pointers[] = {
    "", "/event_type", "/event_id", "/event_version", "/metadata"
};


static const char  *ngx_evbus_tokens_duplicate[] = {
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


static int
ngx_evbus_tokens_on_null(void *ctx)
{
    return ngx_evbus_tokens_scalar(ctx, NGX_EVBUS_SCALAR_OTHER,
                                   NGX_EVBUS_TOK_NULL, NULL, 0);
}


static int
ngx_evbus_tokens_on_boolean(void *ctx, int value)
{
    return ngx_evbus_tokens_scalar(ctx, NGX_EVBUS_SCALAR_OTHER,
                                   value ? NGX_EVBUS_TOK_TRUE
                                         : NGX_EVBUS_TOK_FALSE,
                                   NULL, 0);
}


static int
ngx_evbus_tokens_on_number(void *ctx, const char *s, size_t len)
{
    return ngx_evbus_tokens_scalar(ctx, NGX_EVBUS_SCALAR_NUMBER,
                                   NGX_EVBUS_TOK_NUMBER,
                                   (const unsigned char *) s, len);
}


static int
ngx_evbus_tokens_on_string(void *ctx, const unsigned char *s, size_t len)
{
    return ngx_evbus_tokens_scalar(ctx, NGX_EVBUS_SCALAR_STRING,
                                   NGX_EVBUS_TOK_STRING, s, len);
}


static int
ngx_evbus_tokens_on_start_map(void *ctx)
{
    return ngx_evbus_tokens_open(ctx, NGX_EVBUS_VALUE_MAP);
}


static int
ngx_evbus_tokens_on_start_array(void *ctx)
{
    return ngx_evbus_tokens_open(ctx, NGX_EVBUS_VALUE_ARRAY);
}


static int
ngx_evbus_tokens_on_map_key(void *ctx, const unsigned char *s, size_t len)
{
    int                  key, bit;
    ngx_evbus_parser_t  *p;

    p = ctx;

    if (p->batch && (p->nest < 2 || p->env_in)) {
        if (!p->env_in && p->nest == 1) {
            p->env_key = ngx_evbus_segment_key(s, len);
        }

        return 1;
    }

    if (p->cur.validate
        && ngx_evbus_tokens_vfeed(p, NGX_EVBUS_TOK_KEY, s, len)
           != NGX_EVBUS_PARSE_OK)
    {
        return 0;
    }

    if (p->nest - p->level == 2 && p->cur.in_md) {
        p->cur.md_keep = !ngx_evbus_tokens_md_reserved(s, len)
                         && !ngx_evbus_tokens_md_reserved_by(p, s, len);
        return 1;
    }

    if (p->nest - p->level != 1) {
        return 1;
    }

    key = ngx_evbus_tokens_key(s, len);
    p->cur.key = key;

    if (p->segment) {
        p->cur.seg_key = ngx_evbus_segment_key(s, len);
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
            ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_CONTENT, "duplicate_key",
                                  ngx_evbus_tokens_pointers[key],
                                  ngx_evbus_tokens_duplicate[key]);
        }

        p->cur.keys |= bit;
    }

    return 1;
}


static int
ngx_evbus_tokens_on_end(void *ctx)
{
    size_t               off, depth;
    ngx_evbus_parser_t  *p;

    p = ctx;
    off = p->call_base + yajl_get_bytes_consumed(p->yajl);

    if (p->env_in) {
        p->nest--;
        return (p->nest > 1
                || ngx_evbus_segment_env_end(p) == NGX_EVBUS_PARSE_OK);
    }

    p->nest--;

    if (p->nest < p->level) {
        /* the top-level array; or the batch, or the body's object */

        if (p->batch && p->nest == 1) {
            p->in_batch = 0;
        }

        if (ngx_evbus_event_framing(p, p->prev_end, off - 1)
            != NGX_EVBUS_PARSE_OK)
        {
            return 0;
        }

        p->prev_end = off;
        return 1;
    }

    depth = p->nest - p->level;

    if (p->cur.validate
        && ngx_evbus_tokens_vfeed(p, NGX_EVBUS_TOK_END, NULL, 0)
           != NGX_EVBUS_PARSE_OK)
    {
        return 0;
    }

    if (depth == 0) {
        return ngx_evbus_tokens_element_end(p, off) == NGX_EVBUS_PARSE_OK;
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
        return ngx_evbus_tokens_md_member(p, off) == NGX_EVBUS_PARSE_OK;
    }

    return 1;
}


static int
ngx_evbus_tokens_scalar(ngx_evbus_parser_t *p, int type, int tok,
    const unsigned char *s, size_t len)
{
    size_t  off, depth;

    if (p->batch && (p->nest < 2 || p->env_in)) {
        return ngx_evbus_segment_env_scalar(p, type, s, len);
    }

    off = p->call_base + yajl_get_bytes_consumed(p->yajl);

    if (p->nest == p->level) {
        return ngx_evbus_tokens_element(p, NGX_EVBUS_VALUE_SCALAR, off)
               == NGX_EVBUS_PARSE_OK
               && ngx_evbus_tokens_element_end(p, off) == NGX_EVBUS_PARSE_OK;
    }

    depth = p->nest - p->level;

    /* before member(): choosing a schema there replays this value too */

    if (p->cur.validate
        && ngx_evbus_tokens_vfeed(p, tok, s, len) != NGX_EVBUS_PARSE_OK)
    {
        return 0;
    }

    if (depth == 1) {
        if (p->cur.clock_key && type == NGX_EVBUS_SCALAR_STRING) {
            ngx_evbus_tokens_clock_member(p, s, len);
        }

        if (p->segment && p->cur.seg_key
            && ngx_evbus_segment_member(p, type, s, len) != NGX_EVBUS_PARSE_OK)
        {
            return 0;
        }

        return ngx_evbus_tokens_member(p, type, s, len) == NGX_EVBUS_PARSE_OK;
    }

    if (depth == 2 && p->cur.in_md) {
        return ngx_evbus_tokens_md_member(p, off) == NGX_EVBUS_PARSE_OK;
    }

    return 1;
}


static int
ngx_evbus_tokens_open(ngx_evbus_parser_t *p, int kind)
{
    size_t  off;

    if (p->batch && (p->nest < 2 || p->env_in)) {
        return ngx_evbus_segment_env_open(p, kind);
    }

    off = p->call_base + yajl_get_bytes_consumed(p->yajl);

    if (p->nest == p->level) {
        if (ngx_evbus_tokens_element(p, kind, off) != NGX_EVBUS_PARSE_OK) {
            return 0;
        }

    } else if (p->nest - p->level == 1) {
        ngx_evbus_tokens_member_open(p, kind, off);
    }

    if (p->cur.validate && p->nest >= p->level
        && ngx_evbus_tokens_vfeed(p, (kind == NGX_EVBUS_VALUE_MAP)
                                     ? NGX_EVBUS_TOK_MAP : NGX_EVBUS_TOK_ARRAY,
                                  NULL, 0)
           != NGX_EVBUS_PARSE_OK)
    {
        return 0;
    }

    p->nest++;

    if (p->cur.active && p->nest - p->level > p->limits.max_depth) {
        ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_CONTENT, "depth", "",
                              ngx_evbus_event_err_depth(p));
    }

    return 1;
}


/* a value starts where events are: off is just past its first token */

static int
ngx_evbus_tokens_element(ngx_evbus_parser_t *p, int kind, size_t off)
{
    size_t  start;

    if (p->format == NGX_EVBUS_FORMAT_NDJSON) {
        if (p->line_values) {
            ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_SYNTAX, "invalid_json", "",
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
            return ngx_evbus_event_framing(p, 0, off - 1);
        }

        if (kind == NGX_EVBUS_VALUE_SCALAR) {
            if (ngx_evbus_event_framing(p, 0, off) != NGX_EVBUS_PARSE_OK) {
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
            && ngx_evbus_event_framing(p, p->prev_end, off)
               != NGX_EVBUS_PARSE_OK)
        {
            return p->rc;
        }

        if (kind == NGX_EVBUS_VALUE_SCALAR) {
            start = ngx_evbus_event_skip(p, p->prev_end, off, 1);

        } else {
            start = off - 1;
        }

        p->rc = ngx_evbus_tokens_event_begin(p, start);
        if (p->rc != NGX_EVBUS_PARSE_OK) {
            return p->rc;
        }
    }

    if (kind != NGX_EVBUS_VALUE_MAP) {
        ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_CONTENT, "not_object", "",
                              "event is not an object");
    }

    return NGX_EVBUS_PARSE_OK;
}


static int
ngx_evbus_tokens_element_end(ngx_evbus_parser_t *p, size_t off)
{
    if (p->format == NGX_EVBUS_FORMAT_NDJSON) {
        /* the line's end ends the event */
        p->line_values++;
        return NGX_EVBUS_PARSE_OK;
    }

    p->prev_end = off;
    p->rc = ngx_evbus_tokens_event_end(p, off);

    return p->rc;
}


static int
ngx_evbus_tokens_member(ngx_evbus_parser_t *p, int type, const unsigned char *s,
    size_t len)
{
    const char         *err;
    ngx_evbus_event_t  *ev;

    ev = ngx_evbus_event_current(p);
    err = NULL;

    if (p->segment
        && (p->cur.key == NGX_EVBUS_KEY_TYPE
            || p->cur.key == NGX_EVBUS_KEY_ID))
    {
        ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_CONTENT,
                              ngx_evbus_tokens_kinds[p->cur.key],
                              ngx_evbus_tokens_pointers[p->cur.key],
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

        err = ngx_evbus_tokens_check_type(s, len);

        if (err == NULL && ev->event_type == NULL) {
            ev->event_type = ngx_evbus_event_dup(p, s, len);
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

        err = ngx_evbus_event_check_id(len);

        if (err == NULL && ev->event_id == NULL) {
            ev->event_id = ngx_evbus_event_dup(p, s, len);
            ev->event_id_len = len;

            if (ev->event_id == NULL) {
                p->rc = NGX_EVBUS_PARSE_NOMEM;
                return p->rc;
            }
        }

        break;

    case NGX_EVBUS_KEY_VERSION:
        if (type != NGX_EVBUS_SCALAR_NUMBER
            || ngx_evbus_tokens_parse_version(s, len, &ev->event_version) != 0)
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
        ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_CONTENT,
                              ngx_evbus_tokens_kinds[p->cur.key],
                              ngx_evbus_tokens_pointers[p->cur.key], err);
        return NGX_EVBUS_PARSE_OK;
    }

    /*
     * A schema error may have stopped the validation already: an
     * event_version that comes after it must still agree with the schema
     * that was picked, or the event's kind is unknown_version.
     */

    if ((p->cur.validate || p->cur.schema_version)
        && (p->cur.key == NGX_EVBUS_KEY_TYPE
            || p->cur.key == NGX_EVBUS_KEY_VERSION))
    {
        return ngx_evbus_tokens_pick(p, 0);
    }

    return NGX_EVBUS_PARSE_OK;
}


static void
ngx_evbus_tokens_member_open(ngx_evbus_parser_t *p, int kind, size_t off)
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
            ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_CONTENT, "event_id",
                                  "/messageId", "messageId must be a string");
            break;
        }
    }

    switch (p->cur.key) {

    case NGX_EVBUS_KEY_TYPE:
        ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_CONTENT, "event_type",
                              "/event_type", "event_type must be a string");
        break;

    case NGX_EVBUS_KEY_ID:
        ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_CONTENT, "event_id", "/event_id",
                              "event_id must be a string");
        break;

    case NGX_EVBUS_KEY_VERSION:
        ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_CONTENT, "event_version",
                              "/event_version",
                              "event_version must be a positive integer");
        break;

    case NGX_EVBUS_KEY_METADATA:
        if (kind != NGX_EVBUS_VALUE_MAP) {
            ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_CONTENT, "metadata",
                                  "/metadata", "metadata must be an object");
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
ngx_evbus_tokens_md_member(ngx_evbus_parser_t *p, size_t off)
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
ngx_evbus_tokens_key(const unsigned char *s, size_t len)
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
ngx_evbus_tokens_md_reserved(const unsigned char *s, size_t len)
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
ngx_evbus_tokens_md_reserved_by(ngx_evbus_parser_t *p, const unsigned char *s,
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
ngx_evbus_tokens_clock_member(ngx_evbus_parser_t *p, const unsigned char *s,
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
ngx_evbus_tokens_check_type(const unsigned char *s, size_t len)
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


/* a JSON integer in 1..2^31-1, as yajl's number text */

static int
ngx_evbus_tokens_parse_version(const unsigned char *s, size_t len,
    int64_t *version)
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


int
ngx_evbus_tokens_event_begin(ngx_evbus_parser_t *p, size_t start)
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


/*
 * The current event's text, contiguous: in the chunk if it began there,
 * else its head is staged and the part in this chunk is appended.
 * The caller has checked that it is not larger than max_event_size.
 */

static const unsigned char *
ngx_evbus_tokens_text(ngx_evbus_parser_t *p)
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


int
ngx_evbus_tokens_event_end(ngx_evbus_parser_t *p, size_t end)
{
    int                   rc;
    size_t                len;
    const char           *err;
    ngx_evbus_event_t    *ev;
    const unsigned char  *text;

    ev = ngx_evbus_event_current(p);

    p->cur.active = 0;
    p->cur.end = end;
    len = end - p->cur.start;

    if (len > p->limits.max_event_size) {
        ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_SIZE, "too_large", "",
                              ngx_evbus_event_err_size(p));
        return ngx_evbus_build_raw_head(p, ev);
    }

    text = ngx_evbus_tokens_text(p);

    if (p->segment) {
        rc = ngx_evbus_segment_end(p, ev);
        if (rc != NGX_EVBUS_PARSE_OK) {
            return rc;
        }

    } else if (!(p->cur.keys & (1 << (NGX_EVBUS_KEY_TYPE - 1)))) {
        ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_CONTENT, "event_type", "",
                              "event_type is missing");
    }

    if (p->cur.err_rank < NGX_EVBUS_ERR_SYNTAX) {
        err = ngx_evbus_text_check(text, len);

        if (err) {
            ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_SYNTAX,
                                  (err == ngx_evbus_text_err_ws)
                                  ? "invalid_json" : "invalid_utf8",
                                  "", err);
        }
    }

    if (p->cur.validate) {
        /* no event_version came: the default or latest version */

        rc = ngx_evbus_tokens_pick(p, 1);
        if (rc != NGX_EVBUS_PARSE_OK) {
            return rc;
        }

        p->cur.validate = 0;
    }

    if (ev->error == NULL) {
        return p->segment ? ngx_evbus_segment_defer(p, ev, text, len)
                          : ngx_evbus_build_value(p, ev, text, len);
    }

    ev->raw = ngx_evbus_event_dup(p, text, len);
    ev->raw_len = len;

    return ev->raw ? NGX_EVBUS_PARSE_OK : NGX_EVBUS_PARSE_NOMEM;
}


void
ngx_evbus_tokens_fail(ngx_evbus_parser_t *p, int rank, const char *kind,
    const char *pointer, const char *err)
{
    ngx_evbus_event_t  *ev;

    if (p->cur.validate) {
        /* a rejected event is not worth validating further */
        ngx_evbus_validator_stop(p->validator);
        p->cur.validate = 0;
    }

    if (rank > (int) p->cur.err_rank) {
        ev = ngx_evbus_event_current(p);
        ev->error = err;
        ev->error_kind = kind;
        ev->error_pointer = pointer;
        ev->error_message = err;
        ev->error_keyword = NULL;
        p->cur.err_rank = rank;
    }
}


static int
ngx_evbus_tokens_vfeed(ngx_evbus_parser_t *p, int tok, const unsigned char *s,
    size_t len)
{
    int  rc;

    rc = ngx_evbus_validator_token(p->validator, tok, s, len);

    if (rc == NGX_EVBUS_VALID_OK) {
        return NGX_EVBUS_PARSE_OK;
    }

    return ngx_evbus_tokens_vresult(p, rc);
}


static int
ngx_evbus_tokens_vresult(ngx_evbus_parser_t *p, int rc)
{
    char                            *msg;
    ngx_evbus_event_t               *ev;
    const ngx_evbus_schema_error_t  *e;

    if (rc == NGX_EVBUS_VALID_OK) {
        return NGX_EVBUS_PARSE_OK;
    }

    if (rc == NGX_EVBUS_VALID_FAILED) {
        e = ngx_evbus_validator_error(p->validator);

        msg = ngx_evbus_event_printf(p, "%s: %s",
                                     e->pointer[0] ? e->pointer : "event",
                                     e->message);
        if (msg != NULL) {
            ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_SCHEMA, e->kind, e->pointer,
                                  msg);

            ev = ngx_evbus_event_current(p);

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
ngx_evbus_tokens_pick(ngx_evbus_parser_t *p, int last)
{
    int                        known, single;
    char                      *msg;
    int64_t                    version;
    ngx_evbus_event_t         *ev;
    const ngx_evbus_schema_t  *schema;

    ev = ngx_evbus_event_current(p);

    if (ev->event_type == NULL) {
        return NGX_EVBUS_PARSE_OK;
    }

    if (!ngx_evbus_validator_pending(p->validator)) {
        /* validating already: an event_version that came later must agree */

        if (p->cur.version_seen && ev->event_version != p->cur.schema_version)
        {
            msg = ngx_evbus_event_printf(p, "no schema for event_type \"%.*s\""
                                         " version %lld",
                                         (int) ev->event_type_len,
                                         ev->event_type,
                                         (long long) ev->event_version);
            if (msg == NULL) {
                p->rc = NGX_EVBUS_PARSE_NOMEM;
                return p->rc;
            }

            ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_CONTENT, "unknown_version",
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
            msg = ngx_evbus_event_printf(p, "no schema for event_type"
                                         " \"%.*s\"",
                                         (int) ev->event_type_len,
                                         ev->event_type);

        } else {
            msg = ngx_evbus_event_printf(p, "no schema for event_type \"%.*s\""
                                         " version %lld",
                                         (int) ev->event_type_len,
                                         ev->event_type,
                                         (long long) version);
        }

        if (msg == NULL) {
            p->rc = NGX_EVBUS_PARSE_NOMEM;
            return p->rc;
        }

        ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_CONTENT,
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

    return ngx_evbus_tokens_vresult(p, ngx_evbus_validator_start(p->validator,
                                                                 schema));
}
