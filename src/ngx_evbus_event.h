
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_EVENT_H_INCLUDED_
#define _NGX_EVBUS_EVENT_H_INCLUDED_


/*
 * The event core: splits a request body into events, checks them and
 * builds the value produced to Kafka by splicing event_id and metadata
 * into the client's original bytes.  It knows nothing of nginx requests
 * or of Kafka, so that it can be unit tested, benchmarked and fuzzed alone.
 */

#include <stddef.h>
#include <stdint.h>

#include "ngx_evbus_uuid.h"
#include "ngx_evbus_schema.h"


#define NGX_EVBUS_FORMAT_JSON      1
#define NGX_EVBUS_FORMAT_NDJSON    2
/* Segment's HTTP API (ngx_evbus_segment.h): one call, or a batch */
#define NGX_EVBUS_FORMAT_SEGMENT   3
#define NGX_EVBUS_FORMAT_SEGMENT_BATCH  4

#define NGX_EVBUS_EVENT_TYPE_MAX   128
#define NGX_EVBUS_EVENT_ID_MAX     128

/* ngx_evbus_parser_feed() and ngx_evbus_parser_finish() return codes */
#define NGX_EVBUS_PARSE_OK         0
#define NGX_EVBUS_PARSE_BAD_BODY   -1   /* cannot be split into events: 400 */
#define NGX_EVBUS_PARSE_TOO_MANY   -2   /* more than max_events: 413 */
#define NGX_EVBUS_PARSE_NOMEM      -3   /* allocation failed: 500 */


/*
 * allocations last as long as the parser's results are used (a pool):
 * ngx_evbus_alloc_pt, in ngx_evbus_schema.h
 */


typedef struct {
    size_t                  max_event_size;   /* bytes of one event's text */
    size_t                  max_events;       /* events per body */
    size_t                  max_depth;        /* the event object is depth 1 */
} ngx_evbus_limits_t;


/* a name the core is given, e.g. a metadata member it must not copy */
typedef struct {
    const unsigned char    *data;
    size_t                  len;
} ngx_evbus_name_t;


typedef struct {
    /*
     * JSON object members, already escaped, without braces and without
     * leading or trailing comma, e.g.
     * "ingest_timestamp":"2026-11-26T17:00:00.000Z","source_service":"x"
     * They are written into every event's metadata object after
     * "event_version":N.
     */
    const unsigned char    *metadata;
    size_t                  metadata_len;

    int64_t                 now_ms;           /* for generated UUIDv7s */
    ngx_evbus_uuid_gen_t   *uuid;

    /*
     * more metadata members only the server sets (the operator's own):
     * a client's members of these names are dropped
     */
    const ngx_evbus_name_t *reserved;
    size_t                  nreserved;

    /*
     * the request's sent_at (ms), when has_sent_at: with an event's
     * timestamp it gives metadata.corrected_timestamp (ngx_evbus_clock.h);
     * an event's own sent_at wins
     */
    int64_t                 sent_at_ms;
    unsigned                has_sent_at:1;
} ngx_evbus_enrich_t;


typedef struct {
    size_t                  index;            /* position in the body */

    /* NULL when the event is valid; else a short reason naming the rule */
    const char             *error;

    /*
     * for rejected events: a short stable kind ("schema", "too_large",
     * "event_type", "unknown_type", "invalid_json", "invalid_utf8", ...),
     * the JSON Pointer of the failing value ("" for the event), the
     * message without the pointer, and for schema failures the keyword
     */
    const char             *error_kind;
    const char             *error_pointer;
    const char             *error_message;
    const char             *error_keyword;

    /* valid events: the value to produce, valid JSON */
    unsigned char          *value;
    size_t                  value_len;

    /* decoded; set for valid events, and for rejected ones when known */
    unsigned char          *event_type;
    size_t                  event_type_len;
    unsigned char          *event_id;
    size_t                  event_id_len;
    /*
     * the client's, else the version of the schema validated against,
     * else 1
     */
    int64_t                 event_version;

    /*
     * the event's original text when it could be delimited; for an event
     * larger than max_event_size its first max_event_size bytes
     * (raw_truncated); NULL otherwise
     */
    unsigned char          *raw;
    size_t                  raw_len;

    unsigned                generated_id:1;
    unsigned                raw_truncated:1;
} ngx_evbus_event_t;


typedef struct ngx_evbus_parser_s  ngx_evbus_parser_t;


ngx_evbus_parser_t *ngx_evbus_parser_create(int format,
    const ngx_evbus_limits_t *limits, const ngx_evbus_enrich_t *enrich,
    ngx_evbus_alloc_pt alloc, void *alloc_ctx);

/*
 * Validation against schemas (before the first feed): the event's
 * event_type and event_version pick one; a type without a schema is
 * rejected unless unknown_accept.  The set must outlive the parser.
 */
int ngx_evbus_parser_set_schemas(ngx_evbus_parser_t *p,
    const ngx_evbus_schemas_t *schemas, int64_t default_version,
    int unknown_accept);

/*
 * data need not outlive the call: what the results need of it is copied
 * into the allocator's memory
 */
int ngx_evbus_parser_feed(ngx_evbus_parser_t *p, const unsigned char *data,
    size_t len);
int ngx_evbus_parser_finish(ngx_evbus_parser_t *p);

/* after finish: the events found, valid and rejected, in body order */
ngx_evbus_event_t *ngx_evbus_parser_events(ngx_evbus_parser_t *p,
    size_t *n);

/* after a body-level failure: why, e.g. "invalid JSON at byte 17: ..." */
const char *ngx_evbus_parser_error(ngx_evbus_parser_t *p);

/*
 * Segment formats.  The call type of a single call's path, before the
 * first feed (NGX_EVBUS_SEGMENT_TRACK..ALIAS); without it the item's
 * "type" decides.
 */
void ngx_evbus_parser_set_segment_call(ngx_evbus_parser_t *p, int type);

/*
 * Segment formats: after finish, the body's "writeKey" (decoded, NULL when
 * none came), so that the caller can check it and change the enrich
 * metadata before the events are built.
 */
const unsigned char *ngx_evbus_parser_write_key(ngx_evbus_parser_t *p,
    size_t *len);

/*
 * Segment formats build the values of the valid events here, after
 * finish, since members after the batch ("sentAt", "context") apply to
 * its items; a no-op for the other formats, which build as they parse.
 */
int ngx_evbus_parser_build(ngx_evbus_parser_t *p);

/* frees what was not taken from the allocator (the yajl handle) */
void ngx_evbus_parser_destroy(ngx_evbus_parser_t *p);

/*
 * The event_type rule, for events and for schema directories: 1 to
 * NGX_EVBUS_EVENT_TYPE_MAX bytes of A-Z a-z 0-9 _ . -
 */
int ngx_evbus_type_valid(const unsigned char *s, size_t len);

/*
 * Those characters, a bit for each byte as in nginx's escape maps;
 * Kafka topic names are made of the same ones
 */
extern const uint32_t  ngx_evbus_name_chars[8];

#define ngx_evbus_name_char(c)                                                \
    (ngx_evbus_name_chars[(c) >> 5] & (1U << ((c) & 0x1f)))


#endif /* _NGX_EVBUS_EVENT_H_INCLUDED_ */
