
/*
 * Copyright (C) ngx_evbus authors
 */


#include <string.h>

#include "ngx_evbus_event_int.h"
#include "ngx_evbus_clock.h"
#include "ngx_evbus_json.h"
#include "ngx_evbus_segment.h"


static int ngx_evbus_segment_env_error(ngx_evbus_parser_t *p, const char *err);


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

        rc = ngx_evbus_build_value(p, ev, ev->raw, ev->raw_len);
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

int
ngx_evbus_segment_env_open(ngx_evbus_parser_t *p, int kind)
{
    size_t                off;
    ngx_evbus_capture_t  *c;

    off = p->call_base + yajl_get_bytes_consumed(p->yajl);

    if (p->env_in) {
        if (++p->nest > p->limits.max_depth + 2) {
            return ngx_evbus_segment_env_error(p, "a member of the batch"
                                                  " nests too deep");
        }

        return 1;
    }

    if (p->nest == 0) {
        p->top_seen = 1;

        if (kind != NGX_EVBUS_VALUE_MAP) {
            return ngx_evbus_segment_env_error(p, "body must be a JSON"
                                                  " object with a \"batch\""
                                                  " array");
        }

        p->nest = 1;
        return 1;
    }

    if (p->env_key == NGX_EVBUS_SEG_BATCH) {
        if (kind != NGX_EVBUS_VALUE_ARRAY || p->batch_seen) {
            return ngx_evbus_segment_env_error(p,
                                               "\"batch\" must be one array");
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


int
ngx_evbus_segment_env_scalar(ngx_evbus_parser_t *p, int type,
    const unsigned char *s, size_t len)
{
    if (p->env_in) {
        return 1;
    }

    if (p->nest == 0) {
        p->top_seen = 1;
        return ngx_evbus_segment_env_error(p, "body must be a JSON object"
                                              " with a \"batch\" array");
    }

    switch (p->env_key) {

    case NGX_EVBUS_SEG_BATCH:
        return ngx_evbus_segment_env_error(p, "\"batch\" must be one array");

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
            p->write_key = ngx_evbus_event_dup(p, s, len);
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

int
ngx_evbus_segment_env_end(ngx_evbus_parser_t *p)
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

    if (ngx_evbus_segment_capture(p, off) != NGX_EVBUS_PARSE_OK) {
        return p->rc;
    }

    p->capturing = NULL;
    c->active = 0;

    /* it is copied into events: the same strict bytes as theirs */

    err = ngx_evbus_text_check(c->buf, c->len);

    if (err) {
        p->error = ngx_evbus_event_printf(p, "batch-level %s: %s",
                                          (c == &p->cap[0]) ? "context"
                                                            : "integrations",
                                          err);
        p->rc = p->error ? NGX_EVBUS_PARSE_BAD_BODY : NGX_EVBUS_PARSE_NOMEM;
        return p->rc;
    }

    return NGX_EVBUS_PARSE_OK;
}


static int
ngx_evbus_segment_env_error(ngx_evbus_parser_t *p, const char *err)
{
    p->error = err;
    p->rc = NGX_EVBUS_PARSE_BAD_BODY;

    return 0;
}


/* the captured member's bytes of the current chunk, up to "to" */

int
ngx_evbus_segment_capture(ngx_evbus_parser_t *p, size_t to)
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
        p->error = ngx_evbus_event_printf(p, "batch-level %s is larger than"
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


int
ngx_evbus_segment_key(const unsigned char *s, size_t len)
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

int
ngx_evbus_segment_member(ngx_evbus_parser_t *p, int type,
    const unsigned char *s, size_t len)
{
    unsigned char       name[NGX_EVBUS_EVENT_TYPE_MAX];
    ngx_evbus_event_t  *ev;

    ev = ngx_evbus_event_current(p);

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
        p->cur.seg_event = ngx_evbus_event_dup(p, name, p->cur.seg_event_len);

        if (p->cur.seg_event == NULL) {
            p->rc = NGX_EVBUS_PARSE_NOMEM;
            return p->rc;
        }

        break;

    case NGX_EVBUS_SEG_MESSAGE_ID:
        if (type != NGX_EVBUS_SCALAR_STRING || ngx_evbus_event_check_id(len)) {
            ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_CONTENT, "event_id",
                                  "/messageId",
                                  "messageId must be a string of 1 to 128"
                                  " bytes");
            break;
        }

        if (ev->event_id == NULL) {
            ev->event_id = ngx_evbus_event_dup(p, s, len);
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
            p->write_key = ngx_evbus_event_dup(p, s, len);
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

int
ngx_evbus_segment_end(ngx_evbus_parser_t *p, ngx_evbus_event_t *ev)
{
    int          type;
    size_t       len;
    const char  *name;

    type = p->seg_call ? p->seg_call : (int) p->cur.seg_type;

    if (type == NGX_EVBUS_SEGMENT_NONE) {
        ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_CONTENT, "event_type", "/type",
                              p->cur.seg_type_seen
                              ? "type must be track, identify, page, screen,"
                                " group or alias"
                              : "type is missing");

    } else if (type == NGX_EVBUS_SEGMENT_TRACK) {
        if (p->cur.seg_event_len) {
            ev->event_type = p->cur.seg_event;
            ev->event_type_len = p->cur.seg_event_len;

        } else {
            ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_CONTENT, "event_type",
                                  "/event",
                                  p->cur.seg_event_seen
                                  ? "event has no letter or digit"
                                  : "a track call needs an event name");
        }

    } else {
        name = ngx_evbus_segment_type_name(type, &len);

        ev->event_type = ngx_evbus_event_dup(p, (const unsigned char *) name,
                                             len);
        ev->event_type_len = len;

        if (ev->event_type == NULL) {
            return NGX_EVBUS_PARSE_NOMEM;
        }
    }

    if (!p->cur.seg_user) {
        ngx_evbus_tokens_fail(p, NGX_EVBUS_ERR_CONTENT, "user_id", "",
                              "userId or anonymousId is required");
    }

    return NGX_EVBUS_PARSE_OK;
}


/* a valid item waits for the end of the body to be built */

int
ngx_evbus_segment_defer(ngx_evbus_parser_t *p, ngx_evbus_event_t *ev,
    const unsigned char *text, size_t len)
{
    ngx_evbus_defer_t  *d;

    ev->raw = ngx_evbus_event_dup(p, text, len);
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
