/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_EVENT_INT_H_INCLUDED_
#define _NGX_EVBUS_EVENT_INT_H_INCLUDED_


/*
 * What the event core's files share and nothing else includes: the
 * parser's state and the functions they call in one another.
 * ngx_evbus_event.c holds the parser's API and the chunk drivers (JSON,
 * NDJSON, BOM, the framing between events), ngx_evbus_tokens.c the yajl
 * callbacks and the per-event state machine, ngx_evbus_text.c the strict
 * text check, ngx_evbus_build.c the produced value, and
 * ngx_evbus_segment.c Segment's envelope and items.
 */

#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_parse.h>

#include "ngx_evbus_event.h"


#define NGX_EVBUS_KEY_OTHER       0
#define NGX_EVBUS_KEY_TYPE        1
#define NGX_EVBUS_KEY_ID          2
#define NGX_EVBUS_KEY_VERSION     3
#define NGX_EVBUS_KEY_METADATA    4

/* the members Segment's calls and batches give a meaning to */
#define NGX_EVBUS_SEG_OTHER       0
#define NGX_EVBUS_SEG_TYPE        1
#define NGX_EVBUS_SEG_EVENT       2
#define NGX_EVBUS_SEG_MESSAGE_ID  3
#define NGX_EVBUS_SEG_USER        4
#define NGX_EVBUS_SEG_CONTEXT     5
#define NGX_EVBUS_SEG_INTEGRATIONS  6
#define NGX_EVBUS_SEG_WRITE_KEY   7
#define NGX_EVBUS_SEG_BATCH       8
#define NGX_EVBUS_SEG_SENT_AT     9

#define NGX_EVBUS_VALUE_SCALAR    0
#define NGX_EVBUS_VALUE_MAP       1
#define NGX_EVBUS_VALUE_ARRAY     2

#define NGX_EVBUS_SCALAR_OTHER    0
#define NGX_EVBUS_SCALAR_STRING   1
#define NGX_EVBUS_SCALAR_NUMBER   2

/* a later error replaces an earlier one only when it ranks higher */
#define NGX_EVBUS_ERR_SCHEMA      1
#define NGX_EVBUS_ERR_CONTENT     2
#define NGX_EVBUS_ERR_SYNTAX      3
#define NGX_EVBUS_ERR_SIZE        4

#define NGX_EVBUS_GEN_ID_LEN      (sizeof("\"event_id\":\"\",") - 1        \
                                   + NGX_EVBUS_UUID_LEN)

/* RFC 8259's whitespace: not yajl's, which adds form feed and vertical tab */
#define ngx_evbus_is_ws(c)                                                    \
    ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')


typedef struct {
    size_t                      start;
    size_t                      end;
} ngx_evbus_span_t;


/* the event being parsed; offsets are absolute in the body */
typedef struct {
    size_t                      start;
    size_t                      end;
    size_t                      md_start;     /* metadata's '{' */
    size_t                      md_end;       /* just after its '}' */
    size_t                      md_prev;      /* after the previous token */
    size_t                      nspans;       /* kept metadata members */
    int64_t                     schema_version;
    int                         key;
    unsigned                    keys:4;       /* reserved keys seen */
    unsigned                    err_rank:3;
    unsigned                    validate:1;   /* tokens go to the validator */
    unsigned                    version_seen:1;
    unsigned                    active:1;
    unsigned                    has_md:1;
    unsigned                    in_md:1;
    unsigned                    md_keep:1;
    unsigned                    clock_key:2;  /* timestamp, sent_at */
    int64_t                     ts_ms;        /* when ts_ok */
    int64_t                     sent_ms;      /* when sent_ok */
    unsigned                    ts_ok:1;
    unsigned                    sent_ok:1;

    /* Segment formats: what the item's members said */
    unsigned                    seg_key:4;
    unsigned                    seg_type:3;
    unsigned                    seg_type_seen:1;
    unsigned                    seg_event_seen:1;
    unsigned                    seg_user:1;
    unsigned                    seg_context:1;
    unsigned                    seg_integrations:1;
    unsigned char              *seg_event;    /* normalised */
    size_t                      seg_event_len;
} ngx_evbus_cur_t;


/* a valid Segment item, built when the whole body is known */
typedef struct {
    ngx_evbus_cur_t             cur;
    ngx_evbus_span_t           *spans;
} ngx_evbus_defer_t;


/* a batch-level member copied for its items ("context", "integrations") */
typedef struct {
    size_t                      start;        /* absolute, its '{' */
    unsigned char              *buf;
    size_t                      len;
    unsigned                    active:1;
} ngx_evbus_capture_t;


struct ngx_evbus_parser_s {
    int                         format;
    int                         rc;
    const char                 *error;

    ngx_evbus_limits_t          limits;
    const ngx_evbus_enrich_t   *enrich;
    ngx_evbus_alloc_pt          alloc;
    void                       *alloc_ctx;
    yajl_handle                 yajl;

    /* formatted when first needed: vsnprintf costs ~800 instructions */
    const char                 *err_size;
    const char                 *err_depth;

    const ngx_evbus_schemas_t  *schemas;
    ngx_evbus_validator_t      *validator;
    int64_t                     default_version;
    unsigned                    unknown_accept:1;

    /* the chunk being fed, and the part of it given to yajl_parse() */
    const unsigned char        *chunk;
    size_t                      chunk_len;
    size_t                      chunk_base;
    size_t                      call_base;
    size_t                      offset;       /* body bytes seen so far */

    size_t                      nest;         /* open containers */
    size_t                      level;        /* nest of the events */
    size_t                      prev_end;     /* after the previous element */
    size_t                      line_last;    /* after the last non-space */
    size_t                      line_values;

    unsigned                    bom:2;
    unsigned                    bom_done:1;
    unsigned                    top_seen:1;
    unsigned                    content:1;
    unsigned                    line_skip:1;

    ngx_evbus_cur_t             cur;
    ngx_evbus_span_t           *spans;
    size_t                      spans_cap;

    unsigned char              *stage;
    size_t                      stage_len;

    ngx_evbus_event_t          *events;
    size_t                      nevents;
    size_t                      events_cap;

    /* Segment formats */
    ngx_evbus_defer_t          *defer;
    ngx_evbus_capture_t         cap[2];       /* context, integrations */
    ngx_evbus_capture_t        *capturing;
    unsigned char              *write_key;
    size_t                      write_key_len;
    int64_t                     seg_sent_ms;
    int                         seg_call;
    unsigned                    env_key:4;
    unsigned                    segment:1;
    unsigned                    batch:1;      /* {"batch":[...], ...} */
    unsigned                    in_batch:1;
    unsigned                    batch_seen:1;
    unsigned                    env_in:1;     /* in another member's value */
    unsigned                    seg_sent_ok:1;
    unsigned                    built:1;
};


/* ngx_evbus_event.c */
char *ngx_evbus_event_printf(ngx_evbus_parser_t *p, const char *fmt, ...);
const char *ngx_evbus_event_err_size(ngx_evbus_parser_t *p);
const char *ngx_evbus_event_err_depth(ngx_evbus_parser_t *p);
size_t ngx_evbus_event_skip(ngx_evbus_parser_t *p, size_t from, size_t to,
    int comma);
int ngx_evbus_event_framing(ngx_evbus_parser_t *p, size_t from, size_t to);
unsigned char *ngx_evbus_event_dup(ngx_evbus_parser_t *p,
    const unsigned char *s, size_t len);

/* ngx_evbus_tokens.c */
extern yajl_callbacks  ngx_evbus_tokens_callbacks;

int ngx_evbus_tokens_event_begin(ngx_evbus_parser_t *p, size_t start);
int ngx_evbus_tokens_event_end(ngx_evbus_parser_t *p, size_t end);
void ngx_evbus_tokens_fail(ngx_evbus_parser_t *p, int rank, const char *kind,
    const char *pointer, const char *err);

/* ngx_evbus_text.c */
extern const char  ngx_evbus_text_err_ws[];

const char *ngx_evbus_text_check(const unsigned char *s, size_t len);

/* ngx_evbus_build.c */
int ngx_evbus_build_raw_head(ngx_evbus_parser_t *p, ngx_evbus_event_t *ev);
int ngx_evbus_build_value(ngx_evbus_parser_t *p, ngx_evbus_event_t *ev,
    const unsigned char *text, size_t len);

/* ngx_evbus_segment.c */
int ngx_evbus_segment_env_open(ngx_evbus_parser_t *p, int kind);
int ngx_evbus_segment_env_scalar(ngx_evbus_parser_t *p, int type,
    const unsigned char *s, size_t len);
int ngx_evbus_segment_env_end(ngx_evbus_parser_t *p);
int ngx_evbus_segment_capture(ngx_evbus_parser_t *p, size_t to);
int ngx_evbus_segment_key(const unsigned char *s, size_t len);
int ngx_evbus_segment_member(ngx_evbus_parser_t *p, int type,
    const unsigned char *s, size_t len);
int ngx_evbus_segment_end(ngx_evbus_parser_t *p, ngx_evbus_event_t *ev);
int ngx_evbus_segment_defer(ngx_evbus_parser_t *p, ngx_evbus_event_t *ev,
    const unsigned char *text, size_t len);


/* the event being parsed */

static inline ngx_evbus_event_t *
ngx_evbus_event_current(ngx_evbus_parser_t *p)
{
    return &p->events[p->nevents - 1];
}


/* event_id's length rule, for event_id and Segment's messageId */

static inline const char *
ngx_evbus_event_check_id(size_t len)
{
    if (len == 0) {
        return "event_id is empty";
    }

    if (len > NGX_EVBUS_EVENT_ID_MAX) {
        return "event_id is longer than 128 bytes";
    }

    return NULL;
}


#endif /* _NGX_EVBUS_EVENT_INT_H_INCLUDED_ */
