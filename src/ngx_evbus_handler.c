
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_module.h"
#include "ngx_evbus_ctx.h"
#include "ngx_evbus_json.h"
#include "ngx_evbus_log.h"
#include "ngx_evbus_response.h"
#include "ngx_evbus_handler.h"
#include "ngx_evbus_event.h"
#include "ngx_evbus_outbox.h"
#include "ngx_evbus_stats.h"
#include "ngx_evbus_uuid.h"
#include "ngx_evbus_dead_letter.h"
#include "ngx_evbus_observe.h"
#include "ngx_evbus_headers.h"
#include "ngx_evbus_cors.h"
#include "ngx_evbus_inflate.h"
#include "ngx_evbus_write_key.h"
#include "ngx_evbus_metadata.h"
#include "ngx_evbus_clock.h"
#include "ngx_evbus_overload.h"
#include "ngx_evbus_segment.h"


#define NGX_EVBUS_FILE_CHUNK        65536
#define NGX_EVBUS_TIMESTAMP_LEN     (sizeof("2026-01-01T00:00:00.000Z") - 1)


static ngx_int_t ngx_http_evbus_handler_early(ngx_http_request_t *r,
    ngx_http_evbus_ctx_t *ctx, ngx_http_evbus_loc_conf_t *elcf);
static ngx_int_t ngx_http_evbus_handler_reject(ngx_http_request_t *r,
    ngx_int_t status, const char *error);
static ngx_int_t ngx_http_evbus_handler_content_type(ngx_http_request_t *r,
    ngx_http_evbus_loc_conf_t *elcf);
static void ngx_http_evbus_handler_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_evbus_handler_process(ngx_http_request_t *r,
    ngx_http_evbus_ctx_t *ctx);
static int ngx_http_evbus_handler_feed(ngx_http_request_t *r,
    ngx_evbus_parser_t *parser, ngx_evbus_inflate_t *inf);
static int ngx_http_evbus_handler_sink(void *data, const u_char *p,
    size_t len);
static void ngx_http_evbus_handler_sent_at(ngx_http_request_t *r,
    ngx_evbus_enrich_t *enrich);
static ngx_int_t ngx_http_evbus_handler_metadata(ngx_http_request_t *r,
    ngx_http_evbus_loc_conf_t *elcf, ngx_str_t *timestamp, ngx_str_t *md);
static void ngx_http_evbus_handler_timestamp(u_char *p, ngx_tm_t *tm,
    ngx_msec_t msec);
static ngx_http_variable_value_t *ngx_http_evbus_handler_request_id(
    ngx_http_request_t *r, ngx_int_t index, int64_t now);
static ngx_int_t ngx_http_evbus_handler_produce(ngx_http_request_t *r,
    ngx_http_evbus_ctx_t *ctx, ngx_evbus_event_t *ev, size_t index,
    ngx_str_t *timestamp, int64_t now);
static ngx_int_t ngx_http_evbus_handler_hold(ngx_http_request_t *r,
    ngx_http_evbus_ctx_t *ctx, ngx_http_evbus_loc_conf_t *elcf);
static void ngx_http_evbus_handler_wait_cleanup(void *data);
static void ngx_http_evbus_handler_wait_done(ngx_evbus_wait_t *wait);
static void ngx_http_evbus_handler_wait_timeout(ngx_event_t *ev);
static ngx_int_t ngx_http_evbus_handler_finish(ngx_http_request_t *r,
    ngx_http_evbus_ctx_t *ctx, ngx_uint_t timedout);
static void *ngx_http_evbus_handler_alloc(void *ctx, size_t size);
static ngx_int_t ngx_http_evbus_handler_segment(ngx_http_request_t *r,
    ngx_http_evbus_ctx_t *ctx);
static ngx_int_t ngx_http_evbus_handler_segment_key(ngx_http_request_t *r,
    ngx_http_evbus_ctx_t *ctx, ngx_evbus_parser_t *parser,
    ngx_evbus_enrich_t *enrich, ngx_str_t *timestamp, ngx_str_t *metadata,
    const char **error);


static ngx_evbus_uuid_gen_t  ngx_http_evbus_handler_uuid;
static ngx_evbus_log_limit_t  ngx_http_evbus_handler_queue_log;


ngx_int_t
ngx_http_evbus_handler_init_process(ngx_cycle_t *cycle)
{
    if (ngx_evbus_uuid_init(&ngx_http_evbus_handler_uuid) != 0) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                      "evbus: getrandom() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_evbus_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_http_evbus_ctx_t       *ctx;
    ngx_http_evbus_loc_conf_t  *elcf;

    elcf = ngx_http_get_module_loc_conf(r, ngx_http_evbus_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_evbus_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_evbus_module);

    rc = ngx_http_evbus_handler_early(r, ctx, elcf);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_evbus_handler_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * Everything that can be decided without the body is decided before it
 * is read: origin, method, write key, content type and encoding, and the
 * declared length; NGX_DECLINED to read the body, else the handler's
 * result.
 */

static ngx_int_t
ngx_http_evbus_handler_early(ngx_http_request_t *r, ngx_http_evbus_ctx_t *ctx,
    ngx_http_evbus_loc_conf_t *elcf)
{
    off_t             max;
    u_char           *error;
    ngx_int_t         rc;
    ngx_str_t         label;
    ngx_table_elt_t  *h;

    if (elcf->cors) {
        ctx->cors_checked = 1;

        rc = ngx_http_evbus_cors(r, elcf->cors);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_HTTP_FORBIDDEN) {
            return ngx_http_evbus_handler_reject(r, NGX_HTTP_FORBIDDEN,
                                                 "origin not allowed"
                                                 " (evbus_cors_origins)");
        }

        if (rc == NGX_DONE) {
            rc = ngx_http_discard_request_body(r);
            if (rc != NGX_OK) {
                return rc;
            }

            return ngx_http_evbus_response_preflight(r);
        }
    }

    if (!(r->method & NGX_HTTP_POST)) {
        return ngx_http_evbus_handler_reject(r, NGX_HTTP_NOT_ALLOWED,
                                             "method not allowed, use POST");
    }

    if (elcf->write_keys) {
        rc = ngx_http_evbus_write_key(r, elcf->write_keys, &label,
                                      &ctx->write_key);

        /* a Segment body may carry "writeKey": checked once it is read */

        if (rc == NGX_DECLINED
            && elcf->format != NGX_HTTP_EVBUS_FORMAT_SEGMENT)
        {
            return ngx_http_evbus_handler_reject(r, NGX_HTTP_UNAUTHORIZED,
                                                 "a write key is required:"
                                                 " Authorization: Basic,"
                                                 " X-Write-Key or writeKey");
        }

        if (rc != NGX_OK && rc != NGX_DECLINED) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "evbus: unknown write key");

            return ngx_http_evbus_handler_reject(r, NGX_HTTP_UNAUTHORIZED,
                                                 "unknown write key");
        }
    }

    ctx->format = ngx_http_evbus_handler_content_type(r, elcf);

    if (ctx->format == NGX_DECLINED) {
        return ngx_http_evbus_handler_reject(r,
                                             NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                             elcf->accept_text_plain
                                             ? "unsupported content type, use"
                                               " application/json,"
                                               " application/x-ndjson or"
                                               " text/plain"
                                             : "unsupported content type, use"
                                               " application/json or"
                                               " application/x-ndjson");
    }

    h = ngx_http_evbus_header_in(r, "Content-Encoding",
                                 sizeof("Content-Encoding") - 1);

    if (h) {
        rc = ngx_evbus_inflate_encoding(h->value.data, h->value.len);

        if (rc < 0) {
            return ngx_http_evbus_handler_reject(r,
                                              NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                              "unsupported content encoding,"
                                              " use gzip or deflate");
        }

        ctx->encoding = rc;
    }

    if (elcf->format == NGX_HTTP_EVBUS_FORMAT_SEGMENT) {
        rc = ngx_http_evbus_handler_segment(r, ctx);
        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    /* a compressed body longer than the limit inflates beyond it */

    max = (ctx->encoding != NGX_EVBUS_ENCODING_IDENTITY)
          ? (off_t) elcf->max_inflated_size : -1;

    if (max >= 0 && r->headers_in.content_length_n > max) {
        error = ngx_pnalloc(r->pool, 80 + NGX_OFF_T_LEN);
        if (error == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        (void) ngx_sprintf(error, "the request body is larger than"
                           " evbus_max_inflated_size (%O bytes)%Z", max);

        return ngx_http_evbus_handler_reject(r,
                                             NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                             (char *) error);
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_evbus_handler_reject(ngx_http_request_t *r, ngx_int_t status,
    const char *error)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_evbus_response_error(r, status, error);
}


static ngx_int_t
ngx_http_evbus_handler_content_type(ngx_http_request_t *r,
    ngx_http_evbus_loc_conf_t *elcf)
{
    u_char     *p, *last;
    ngx_str_t   type;

    if (r->headers_in.content_type == NULL) {
        return NGX_DECLINED;
    }

    p = r->headers_in.content_type->value.data;
    last = p + r->headers_in.content_type->value.len;

    type.data = p;

    while (p < last && *p != ';' && *p != ' ' && *p != '\t') {
        p++;
    }

    type.len = p - type.data;

    if (type.len == sizeof("application/json") - 1
        && ngx_strncasecmp(type.data, (u_char *) "application/json",
                           type.len) == 0)
    {
        return NGX_EVBUS_FORMAT_JSON;
    }

    if ((type.len == sizeof("application/x-ndjson") - 1
         && ngx_strncasecmp(type.data, (u_char *) "application/x-ndjson",
                            type.len) == 0)
        || (type.len == sizeof("application/ndjson") - 1
            && ngx_strncasecmp(type.data, (u_char *) "application/ndjson",
                               type.len) == 0))
    {
        return NGX_EVBUS_FORMAT_NDJSON;
    }

    /* what sendBeacon() and analytics.js send to avoid a preflight */

    if (elcf->accept_text_plain
        && type.len == sizeof("text/plain") - 1
        && ngx_strncasecmp(type.data, (u_char *) "text/plain", type.len) == 0)
    {
        return NGX_EVBUS_FORMAT_JSON;
    }

    return NGX_DECLINED;
}


static void
ngx_http_evbus_handler_body(ngx_http_request_t *r)
{
    ngx_http_evbus_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_evbus_module);

    ngx_http_finalize_request(r, ngx_http_evbus_handler_process(r, ctx));
}


static ngx_int_t
ngx_http_evbus_handler_process(ngx_http_request_t *r,
    ngx_http_evbus_ctx_t *ctx)
{
    int                         rc;
    u_char                     *error;
    size_t                      i, n;
    const char                 *reason;
    int64_t                     now;
    ngx_str_t                   timestamp, metadata;
    ngx_time_t                 *tp;
    ngx_evbus_event_t          *events;
    ngx_evbus_limits_t          limits;
    ngx_evbus_enrich_t          enrich;
    ngx_evbus_parser_t         *parser;
    ngx_pool_cleanup_t         *cln;
    ngx_evbus_inflate_t        *inf;
    ngx_http_evbus_loc_conf_t  *elcf;

    elcf = ngx_http_get_module_loc_conf(r, ngx_http_evbus_module);

    ngx_http_evbus_observe_start(r, ctx);

    tp = ngx_timeofday();
    now = (int64_t) tp->sec * 1000 + tp->msec;

    if (ngx_http_evbus_handler_metadata(r, elcf, &timestamp, &metadata)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    limits.max_event_size = elcf->max_event_size;
    limits.max_events = elcf->max_events;
    limits.max_depth = elcf->max_depth;

    if (ctx->format >= NGX_EVBUS_FORMAT_SEGMENT) {
        limits.max_event_size = ngx_min(limits.max_event_size,
                                        NGX_EVBUS_SEGMENT_EVENT_MAX);
        limits.max_events = NGX_EVBUS_SEGMENT_EVENTS_MAX;
    }

    enrich.metadata = metadata.data;
    enrich.metadata_len = metadata.len;
    enrich.now_ms = now;
    enrich.uuid = &ngx_http_evbus_handler_uuid;
    enrich.reserved = NULL;
    enrich.nreserved = 0;

    if (elcf->metadata) {
        enrich.reserved = ngx_http_evbus_metadata_names(elcf->metadata,
                                                        &enrich.nreserved);
    }

    ngx_http_evbus_handler_sent_at(r, &enrich);

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    parser = ngx_evbus_parser_create(ctx->format, &limits, &enrich,
                                     ngx_http_evbus_handler_alloc, r->pool);
    if (parser == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = (ngx_pool_cleanup_pt) ngx_evbus_parser_destroy;
    cln->data = parser;

    if (ctx->format == NGX_EVBUS_FORMAT_SEGMENT) {
        ngx_evbus_parser_set_segment_call(parser,
                                      ngx_evbus_segment_path(r->uri.data,
                                                             r->uri.len));
    }

    if (ngx_evbus_parser_set_schemas(parser, elcf->schemas,
                                     elcf->schema_default_version,
                                     elcf->unknown_types
                                     == NGX_EVBUS_UNKNOWN_ACCEPT)
        != NGX_EVBUS_PARSE_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    inf = NULL;

    if (ctx->encoding != NGX_EVBUS_ENCODING_IDENTITY) {
        inf = ngx_evbus_inflate_create(ctx->encoding,
                                       (ctx->format
                                        >= NGX_EVBUS_FORMAT_SEGMENT)
                                       ? ngx_min(elcf->max_inflated_size,
                                                 NGX_EVBUS_SEGMENT_BODY_MAX)
                                       : elcf->max_inflated_size,
                                       ngx_http_evbus_handler_sink, parser,
                                       ngx_http_evbus_handler_alloc, r->pool);
        if (inf == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    rc = ngx_http_evbus_handler_feed(r, parser, inf);

    if (rc == NGX_EVBUS_PARSE_OK && inf) {
        rc = ngx_evbus_inflate_finish(inf);
    }

    if (rc == NGX_EVBUS_PARSE_OK) {
        rc = ngx_evbus_parser_finish(parser);
    }

    if (rc == NGX_EVBUS_INFLATE_TOO_LARGE) {
        error = ngx_pnalloc(r->pool, 80 + NGX_SIZE_T_LEN);
        if (error == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        (void) ngx_sprintf(error, "the inflated body is larger than"
                           " evbus_max_inflated_size (%uz bytes)%Z",
                           elcf->max_inflated_size);

        return ngx_http_evbus_response_error(r,
                                             NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                             (char *) error);
    }

    if (rc == NGX_EVBUS_INFLATE_BAD) {
        return ngx_http_evbus_response_error(r, NGX_HTTP_BAD_REQUEST,
                                             ngx_evbus_inflate_error(inf));
    }

    if (rc == NGX_EVBUS_PARSE_TOO_MANY) {
        error = ngx_pnalloc(r->pool, 80 + NGX_INT_T_LEN);
        if (error == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        (void) ngx_sprintf(error, "more than %uz events in one request"
                           " (%s)%Z", limits.max_events,
                           (ctx->format >= NGX_EVBUS_FORMAT_SEGMENT)
                           ? "Segment's limit" : "evbus_max_events");

        return ngx_http_evbus_response_error(r,
                                             NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                             (char *) error);
    }

    if (rc == NGX_EVBUS_PARSE_BAD_BODY) {
        return ngx_http_evbus_response_error(r, NGX_HTTP_BAD_REQUEST,
                                             ngx_evbus_parser_error(parser));
    }

    if (rc != NGX_EVBUS_PARSE_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->format >= NGX_EVBUS_FORMAT_SEGMENT) {
        rc = ngx_http_evbus_handler_segment_key(r, ctx, parser, &enrich,
                                                &timestamp, &metadata,
                                                &reason);
        if (rc != NGX_OK) {
            return reason ? ngx_http_evbus_response_error(r, rc, reason)
                          : rc;
        }

        if (ngx_evbus_parser_build(parser) != NGX_EVBUS_PARSE_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ctx->t_parsed = ngx_evbus_observe_now();

    events = ngx_evbus_parser_events(parser, &n);

    ctx->events = events;
    ctx->nevents = n;

    ctx->queued = ngx_pcalloc(r->pool, n);
    if (ctx->queued == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (elcf->ack == NGX_EVBUS_ACK_KAFKA) {
        ctx->wait = ngx_evbus_wait_create(n, r->connection->log);
        if (ctx->wait == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    for (i = 0; i < n; i++) {

        /* NGX_DECLINED: rejected for its topic */

        if (events[i].error == NULL
            && ngx_http_evbus_handler_produce(r, ctx, &events[i], i,
                                              &timestamp, now)
               != NGX_DECLINED)
        {
            continue;
        }

        ngx_http_evbus_dead_letter(r, &events[i], &metadata, &timestamp, now);
    }

    ctx->event_type.len = 0;
    ctx->t_produced = ngx_evbus_observe_now();

    if (ctx->wait == NULL) {
        return ngx_http_evbus_handler_finish(r, ctx, 0);
    }

    if (ctx->wait->pending == 0) {
        ngx_evbus_wait_detach(ctx->wait);
        ctx->wait = NULL;
        return ngx_http_evbus_handler_finish(r, ctx, 0);
    }

    return ngx_http_evbus_handler_hold(r, ctx, elcf);
}


/*
 * The response waits, without blocking the worker, for delivery reports
 * or spool writes.  Outcomes reach the request through a heap wait that
 * the request's pool cleanup detaches, so a late report never touches a
 * freed request.
 */

static ngx_int_t
ngx_http_evbus_handler_hold(ngx_http_request_t *r, ngx_http_evbus_ctx_t *ctx,
    ngx_http_evbus_loc_conf_t *elcf)
{
    ngx_evbus_wait_t    *wait;
    ngx_pool_cleanup_t  *cln;

    wait = ctx->wait;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ctx->wait = NULL;
        ngx_evbus_wait_detach(wait);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_evbus_handler_wait_cleanup;
    cln->data = wait;

    wait->data = r;
    wait->handler = ngx_http_evbus_handler_wait_done;
    wait->cleanup = cln;

    /* not cancelable: a worker that shuts down still answers */

    wait->timer.handler = ngx_http_evbus_handler_wait_timeout;
    wait->timer.data = wait;
    wait->timer.log = r->connection->log;
    ngx_add_timer(&wait->timer, elcf->ack_timeout);

    ngx_evbus_held++;

    ctx->held = 1;
    ctx->held_at = ngx_current_msec;

    r->main->count++;
    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    return NGX_DONE;
}


static void
ngx_http_evbus_handler_wait_cleanup(void *data)
{
    ngx_evbus_wait_t  *wait = data;

    ngx_evbus_held--;

    wait->cleanup = NULL;
    ngx_evbus_wait_detach(wait);
}


static void
ngx_http_evbus_handler_wait_done(ngx_evbus_wait_t *wait)
{
    ngx_int_t              rc;
    ngx_connection_t      *c;
    ngx_http_request_t    *r;
    ngx_http_evbus_ctx_t  *ctx;

    r = wait->data;
    c = r->connection;

    ctx = ngx_http_get_module_ctx(r, ngx_http_evbus_module);

    rc = ngx_http_evbus_handler_finish(r, ctx, 0);

    /* detached before finalizing: the pool and its cleanup may go */

    ctx->wait = NULL;
    wait->data = NULL;
    ngx_evbus_held--;

    if (wait->cleanup) {
        wait->cleanup->handler = NULL;
        wait->cleanup = NULL;
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_evbus_handler_wait_timeout(ngx_event_t *ev)
{
    ngx_int_t              rc;
    ngx_evbus_wait_t      *wait;
    ngx_connection_t      *c;
    ngx_http_request_t    *r;
    ngx_http_evbus_ctx_t  *ctx;

    wait = ev->data;
    r = wait->data;
    c = r->connection;

    ctx = ngx_http_get_module_ctx(r, ngx_http_evbus_module);

    ngx_log_error(NGX_LOG_WARN, c->log, 0,
                  "evbus: no outcome for %ui events within evbus_ack_timeout",
                  wait->pending);

    rc = ngx_http_evbus_handler_finish(r, ctx, 1);

    ctx->wait = NULL;
    ngx_evbus_held--;
    ngx_evbus_wait_detach(wait);

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* the final answer, from the events and, when held, their outcomes */

static ngx_int_t
ngx_http_evbus_handler_finish(ngx_http_request_t *r, ngx_http_evbus_ctx_t *ctx,
    ngx_uint_t timedout)
{
    u_char              *p;
    size_t               i, len;
    ngx_int_t            status;
    ngx_uint_t           unknown, unavailable, ack;
    const char          *error, *err;
    ngx_evbus_event_t   *ev;
    ngx_evbus_result_t  *res;
    ngx_http_evbus_loc_conf_t  *elcf;

    elcf = ngx_http_get_module_loc_conf(r, ngx_http_evbus_module);

    ack = elcf->ack;
    unknown = 0;
    unavailable = 0;

    for (i = 0; i < ctx->nevents; i++) {
        ev = &ctx->events[i];

        if (ev->error) {
            if (ctx->queued[i] == NGX_HTTP_EVBUS_UNQUEUED
                || ctx->queued[i] == NGX_HTTP_EVBUS_SHED)
            {
                unavailable++;
            }

            continue;
        }

        if (ctx->wait == NULL || ctx->queued[i] != NGX_HTTP_EVBUS_WAITING) {
            continue;
        }

        res = &ctx->wait->results[i];

        if (!res->done) {
            unknown++;
            ev->error = "outcome unknown: no delivery report within"
                        " evbus_ack_timeout";
            ev->error_kind = "timeout";
            continue;
        }

        if (res->err == 0) {
            continue;
        }

        unavailable++;
        ev->error_kind = "delivery_failed";

        if (res->spooled || ack == NGX_EVBUS_ACK_QUEUED) {
            ev->error = "could not be queued: the spool write failed";
            continue;
        }

        err = ngx_evbus_outbox_strerror(res->err);
        len = sizeof("delivery failed: ") + ngx_strlen(err);

        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        (void) ngx_sprintf(p, "delivery failed: %s%Z", err);
        ev->error = (char *) p;
    }

    ctx->accepted = 0;
    ctx->rejected = 0;

    for (i = 0; i < ctx->nevents; i++) {
        if (ctx->events[i].error) {
            ctx->rejected++;

        } else {
            ctx->accepted++;
        }
    }

    ctx->done = 1;
    error = NULL;

    ngx_evbus_stats_add(NGX_EVBUS_STAT_ACCEPTED, ctx->accepted);
    ngx_evbus_stats_add(NGX_EVBUS_STAT_REJECTED, ctx->rejected);
    ngx_evbus_stats_add(NGX_EVBUS_STAT_UNQUEUED, unavailable);

    if (timedout) {
        ngx_evbus_stats_add(NGX_EVBUS_STAT_ACK_TIMEOUTS, 1);

        status = NGX_HTTP_GATEWAY_TIME_OUT;
        error = "timed out waiting for Kafka: the outcome of some events"
                " is unknown, they may or may not arrive";

    } else if (ctx->accepted) {
        status = (ack == NGX_EVBUS_ACK_KAFKA) ? NGX_HTTP_OK
                                              : NGX_HTTP_ACCEPTED;

    } else if (unavailable && unavailable == ctx->shed) {
        status = NGX_HTTP_SERVICE_UNAVAILABLE;
        error = "every event was shed: Kafka's queue is too full for their"
                " priority, retry later";

    } else if (unavailable) {
        status = NGX_HTTP_SERVICE_UNAVAILABLE;
        error = (ack == NGX_EVBUS_ACK_KAFKA)
                ? "no event was delivered to Kafka, retry later"
                : "no event could be queued for Kafka, retry later";

    } else {
        status = NGX_HTTP_BAD_REQUEST;
        error = "no valid event in the request";
    }

    /*
     * Segment's libraries: 2xx is success; a 429 they retry after its
     * Retry-After without spending their few retries, as a 503 would
     */

    if (ctx->format >= NGX_EVBUS_FORMAT_SEGMENT) {
        if (status == NGX_HTTP_ACCEPTED) {
            status = NGX_HTTP_OK;

        } else if (status == NGX_HTTP_SERVICE_UNAVAILABLE) {
            status = NGX_HTTP_TOO_MANY_REQUESTS;
        }
    }

    ngx_http_evbus_observe_finish(r, ctx, status);

    return ngx_http_evbus_response_send(r, status, ctx->events,
                                        ctx->nevents, error,
                                        (ack == NGX_EVBUS_ACK_KAFKA
                                         && ctx->wait)
                                        ? ctx->wait->results : NULL,
                                        unknown);
}


static int
ngx_http_evbus_handler_feed(ngx_http_request_t *r,
    ngx_evbus_parser_t *parser, ngx_evbus_inflate_t *inf)
{
    int           rc;
    off_t         offset;
    u_char       *chunk;
    size_t        size;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (r->request_body == NULL) {
        return NGX_EVBUS_PARSE_OK;
    }

    chunk = NULL;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {
            rc = inf ? ngx_evbus_inflate_feed(inf, b->pos, b->last - b->pos)
                     : ngx_evbus_parser_feed(parser, b->pos, b->last - b->pos);
            if (rc != NGX_EVBUS_PARSE_OK) {
                return rc;
            }

            continue;
        }

        /* nginx buffered the body to a temporary file */

        if (chunk == NULL) {
            chunk = ngx_pnalloc(r->pool, NGX_EVBUS_FILE_CHUNK);
            if (chunk == NULL) {
                return NGX_EVBUS_PARSE_NOMEM;
            }
        }

        for (offset = b->file_pos; offset < b->file_last; offset += n) {
            size = (size_t) ngx_min(b->file_last - offset,
                                    NGX_EVBUS_FILE_CHUNK);

            n = ngx_read_file(b->file, chunk, size, offset);

            if (n == NGX_ERROR || n == 0) {
                ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                              "evbus: cannot read the request body from"
                              " \"%V\"", &b->file->name);
                return NGX_EVBUS_PARSE_NOMEM;
            }

            rc = inf ? ngx_evbus_inflate_feed(inf, chunk, n)
                     : ngx_evbus_parser_feed(parser, chunk, n);
            if (rc != NGX_EVBUS_PARSE_OK) {
                return rc;
            }
        }
    }

    return NGX_EVBUS_PARSE_OK;
}


/* the client's clock when it sent the request: X-Sent-At or sent_at */

static void
ngx_http_evbus_handler_sent_at(ngx_http_request_t *r,
    ngx_evbus_enrich_t *enrich)
{
    u_char           *dst, *src;
    ngx_str_t         v;
    ngx_table_elt_t  *h;

    enrich->has_sent_at = 0;
    enrich->sent_at_ms = NGX_EVBUS_CLOCK_NONE;

    h = ngx_http_evbus_header_in(r, "X-Sent-At", sizeof("X-Sent-At") - 1);

    if (h) {
        v = h->value;

    } else if (r->args.len == 0
               || ngx_http_arg(r, (u_char *) "sent_at",
                               sizeof("sent_at") - 1, &v)
                  != NGX_OK)
    {
        return;
    }

    /* a query argument's "+" and ":" may come escaped */

    if (ngx_strlchr(v.data, v.data + v.len, '%')) {
        dst = ngx_pnalloc(r->pool, v.len);
        if (dst == NULL) {
            return;
        }

        src = v.data;
        v.data = dst;
        ngx_unescape_uri(&dst, &src, v.len, 0);
        v.len = dst - v.data;
    }

    enrich->sent_at_ms = ngx_evbus_clock_parse(v.data, v.len);
    enrich->has_sent_at = (enrich->sent_at_ms != NGX_EVBUS_CLOCK_NONE);
}


/* the inflated body goes to the parser a piece at a time */

static int
ngx_http_evbus_handler_sink(void *data, const u_char *p, size_t len)
{
    return ngx_evbus_parser_feed(data, p, len);
}


/*
 * The metadata members shared by the events of one request, ready to be
 * spliced: "ingest_timestamp":"...","source_service":"...",...
 */

static ngx_int_t
ngx_http_evbus_handler_metadata(ngx_http_request_t *r,
    ngx_http_evbus_loc_conf_t *elcf, ngx_str_t *timestamp, ngx_str_t *md)
{
    u_char                      *p;
    size_t                       len, ualen;
    ngx_tm_t                     tm;
    ngx_str_t                   *ip, *ua;
    ngx_time_t                  *tp;
    ngx_str_t                    extra;
    ngx_http_evbus_ctx_t        *ctx;
    ngx_http_variable_value_t   *id;
    ngx_http_evbus_main_conf_t  *emcf;

    ngx_str_t  null = ngx_string("null");

    static time_t      ts_sec;
    static ngx_msec_t  ts_msec;
    static u_char      ts[NGX_EVBUS_TIMESTAMP_LEN];

    ctx = ngx_http_get_module_ctx(r, ngx_http_evbus_module);

    ngx_str_null(&extra);

    if (elcf->metadata
        && ngx_http_evbus_metadata_members(r, elcf->metadata, &extra)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    tp = ngx_timeofday();

    /* formatted once per millisecond */

    if (tp->sec != ts_sec || tp->msec != ts_msec) {
        ngx_gmtime(tp->sec, &tm);

        ngx_http_evbus_handler_timestamp(ts, &tm, tp->msec);
        ts_sec = tp->sec;
        ts_msec = tp->msec;
    }

    timestamp->data = ngx_pnalloc(r->pool, NGX_EVBUS_TIMESTAMP_LEN);
    if (timestamp->data == NULL) {
        return NGX_ERROR;
    }

    timestamp->len = NGX_EVBUS_TIMESTAMP_LEN;
    ngx_memcpy(timestamp->data, ts, NGX_EVBUS_TIMESTAMP_LEN);

    ip = &r->connection->addr_text;
    ua = r->headers_in.user_agent ? &r->headers_in.user_agent->value : &null;

    /* copied into every event of the request: bounded */

    ualen = ngx_evbus_json_cut(ua->data, ua->len,
                               NGX_HTTP_EVBUS_USER_AGENT_MAX);

    emcf = ngx_http_get_module_main_conf(r, ngx_http_evbus_module);

    id = ngx_http_evbus_handler_request_id(r, emcf->request_id_index,
                                           (int64_t) tp->sec * 1000
                                           + tp->msec);
    if (id == NULL) {
        return NGX_ERROR;
    }

    len = sizeof("\"ingest_timestamp\":\"\",\"source_service\":\"\","
                 "\"client_ip\":\"\",\"user_agent\":\"\","
                 "\"request_id\":\"\"") - 1
          + timestamp->len + elcf->source_service.len
          + ngx_evbus_json_escape_len(ip->len)
          + ngx_evbus_json_escape_len(ualen)
          + ngx_evbus_json_escape_len(id->len)
          + sizeof(",\"write_key\":\"\"") - 1 + ctx->write_key.len
          + extra.len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    md->data = p;

    p = ngx_cpymem(p, "\"ingest_timestamp\":\"",
                   sizeof("\"ingest_timestamp\":\"") - 1);
    p = ngx_cpymem(p, timestamp->data, timestamp->len);
    p = ngx_cpymem(p, "\",\"source_service\":\"",
                   sizeof("\",\"source_service\":\"") - 1);
    p = ngx_cpymem(p, elcf->source_service.data, elcf->source_service.len);
    p = ngx_cpymem(p, "\",\"client_ip\":\"",
                   sizeof("\",\"client_ip\":\"") - 1);
    p = ngx_evbus_json_escape(p, ip->data, ip->len);
    p = ngx_cpymem(p, "\",\"user_agent\":", sizeof("\",\"user_agent\":") - 1);

    if (ua == &null) {
        p = ngx_cpymem(p, "null", sizeof("null") - 1);

    } else {
        *p++ = '"';
        p = ngx_evbus_json_escape(p, ua->data, ualen);
        *p++ = '"';
    }

    p = ngx_cpymem(p, ",\"request_id\":\"", sizeof(",\"request_id\":\"") - 1);
    p = ngx_evbus_json_escape(p, id->data, id->len);
    *p++ = '"';

    if (ctx->write_key.len) {
        p = ngx_cpymem(p, ",\"write_key\":\"",
                       sizeof(",\"write_key\":\"") - 1);
        p = ngx_cpymem(p, ctx->write_key.data, ctx->write_key.len);
        *p++ = '"';
    }

    if (extra.len) {
        p = ngx_cpymem(p, extra.data, extra.len);
    }

    md->len = p - md->data;

    return NGX_OK;
}


/*
 * The most the module adds to an event of max bytes: event_id, the
 * metadata object (every member at its longest, escaped at its worst;
 * extra: the operator's evbus_metadata members and the write key's label),
 * the key, the headers (names, values, librdkafka's framing).
 */

size_t
ngx_http_evbus_handler_message_max(size_t max, ngx_str_t *source_service,
    size_t extra)
{
    size_t  md;

    md = sizeof(",\"metadata\":{\"event_version\":,"
                "\"ingest_timestamp\":\"\",\"source_service\":\"\","
                "\"client_ip\":\"\",\"user_agent\":\"\","
                "\"request_id\":\"\"}")
         + sizeof("\"event_id\":\"01234567-0123-0123-0123-0123456789ab\",")
         + NGX_INT64_LEN + NGX_EVBUS_TIMESTAMP_LEN + source_service->len
         + ngx_evbus_json_escape_len(NGX_SOCKADDR_STRLEN)
         + ngx_evbus_json_escape_len(NGX_HTTP_EVBUS_USER_AGENT_MAX)
         + ngx_evbus_json_escape_len(32)
         + sizeof(",\"corrected_timestamp\":\"\"") + NGX_EVBUS_TIMESTAMP_LEN
         + extra;

    /* key; headers: 4 names, the values, 16 bytes of framing each */

    md += NGX_EVBUS_EVENT_ID_MAX
          + sizeof("event_typeevent_versionsource_serviceingest_timestamp")
          + NGX_EVBUS_EVENT_TYPE_MAX + NGX_INT64_LEN + source_service->len
          + NGX_EVBUS_TIMESTAMP_LEN + 4 * 16;

    return max + md;
}


/* "%4d-%02d-%02dT%02d:%02d:%02d.%03MZ" without printf */

static void
ngx_http_evbus_handler_timestamp(u_char *buf, ngx_tm_t *tm, ngx_msec_t msec)
{
    u_char      *p;
    ngx_uint_t   i, k, v[7];

    /* each field's last position and its digits */
    static const u_char  last[] = { 3, 6, 9, 12, 15, 18, 22 };
    static const u_char  digits[] = { 4, 2, 2, 2, 2, 2, 3 };

    v[0] = tm->ngx_tm_year;
    v[1] = tm->ngx_tm_mon;
    v[2] = tm->ngx_tm_mday;
    v[3] = tm->ngx_tm_hour;
    v[4] = tm->ngx_tm_min;
    v[5] = tm->ngx_tm_sec;
    v[6] = msec;

    ngx_memcpy(buf, "0000-00-00T00:00:00.000Z", NGX_EVBUS_TIMESTAMP_LEN);

    for (i = 0; i < 7; i++) {
        p = buf + last[i];

        for (k = 0; k < digits[i]; k++) {
            *p-- = (u_char) ('0' + v[i] % 10);
            v[i] /= 10;
        }
    }
}


/*
 * $request_id, without OpenSSL's DRBG (~9,500 instructions a request):
 * unless something has evaluated it already (then its value is cached on
 * the request and used), the worker's UUIDv7 generator writes 32 hex
 * digits into the variable's cache, so that add_header, the access log
 * and anything else that reads $request_id later see the same id.
 */

static ngx_http_variable_value_t *
ngx_http_evbus_handler_request_id(ngx_http_request_t *r, ngx_int_t index,
    int64_t now)
{
    u_char                     *p;
    ngx_http_variable_value_t  *v;

    v = &r->variables[index];

    if (!v->valid && !v->not_found) {
        p = ngx_pnalloc(r->pool, NGX_EVBUS_UUID_HEX_LEN);
        if (p == NULL) {
            return NULL;
        }

        ngx_evbus_uuid_v7_hex(&ngx_http_evbus_handler_uuid, now, p);

        v->len = NGX_EVBUS_UUID_HEX_LEN;
        v->valid = 1;
        v->no_cacheable = 0;
        v->not_found = 0;
        v->data = p;
        return v;
    }

    v = ngx_http_get_indexed_variable(r, index);
    if (v == NULL || v->not_found) {
        return NULL;
    }

    return v;
}


static ngx_int_t
ngx_http_evbus_handler_produce(ngx_http_request_t *r, ngx_http_evbus_ctx_t *ctx,
    ngx_evbus_event_t *ev, size_t index, ngx_str_t *timestamp, int64_t now)
{
    u_char                     *p, version[NGX_INT64_LEN];
    u_char                      text[NGX_EVBUS_LOG_STR_LEN];
    size_t                      len;
    ngx_int_t                   rc;
    ngx_uint_t                  skipped;
    const char                 *err;
    ngx_evbus_msg_t             msg;
    ngx_http_evbus_loc_conf_t  *elcf;

    elcf = ngx_http_get_module_loc_conf(r, ngx_http_evbus_module);

    ctx->event_type.data = ev->event_type;
    ctx->event_type.len = ev->event_type_len;

    if (elcf->topic->lengths == NULL) {
        msg.topic = elcf->topic->value;

    } else if (ngx_http_complex_value(r, elcf->topic, &msg.topic) != NGX_OK) {
        ev->error = "cannot evaluate evbus_topic";
        return NGX_ERROR;

    } else if (ngx_evbus_outbox_topic(&msg.topic, &err) != NGX_OK) {
        len = sizeof("topic \"\" refused: ") + msg.topic.len
              + ngx_strlen(err);

        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            ev->error = "topic refused";

        } else {
            (void) ngx_sprintf(p, "topic \"%V\" refused: %s%Z", &msg.topic,
                               err);
            ev->error = (char *) p;
        }

        ev->error_kind = "topic";

        return NGX_DECLINED;
    }

    msg.key.data = ev->event_id;
    msg.key.len = ev->event_id_len;
    msg.value.data = ev->value;
    msg.value.len = ev->value_len;
    msg.event_type = ctx->event_type;
    msg.event_version.data = version;
    msg.event_version.len = (ev->event_version >= 0)
                            ? ngx_evbus_json_uint(version,
                                                  ev->event_version)
                              - version
                            : ngx_sprintf(version, "%L", ev->event_version)
                              - version;
    msg.source_service = elcf->source_service_raw;
    msg.ingest_timestamp = *timestamp;
    msg.timestamp = now;
    msg.dead_letter = elcf->dead_letter_topic;
    ngx_str_null(&msg.error_kind);
    msg.traceparent = ctx->traceparent;
    msg.tracestate = ctx->tracestate;

    ngx_http_evbus_overload_priority(r, elcf, &msg);

    rc = ngx_evbus_outbox_send(&msg, elcf->ack == NGX_EVBUS_ACK_KAFKA,
                               &ctx->wait, ctx->nevents, index,
                               r->connection->log, &err);

    if (rc == NGX_OK) {
        ctx->queued[index] = NGX_HTTP_EVBUS_QUEUED;
        return NGX_OK;
    }

    if (rc == NGX_AGAIN) {
        ctx->queued[index] = NGX_HTTP_EVBUS_WAITING;
        return NGX_OK;
    }

    if (rc == NGX_EVBUS_SHED) {
        ctx->queued[index] = NGX_HTTP_EVBUS_SHED;
        ctx->shed++;
        ev->error_kind = "shed";

        len = ngx_strlen(err) + 1;

        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            ev->error = "shed";
            return NGX_ERROR;
        }

        ngx_memcpy(p, err, len);
        ev->error = (char *) p;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "evbus: event to \"%V\" %s", &msg.topic, err);
        return NGX_ERROR;
    }

    if (rc == NGX_BUSY) {
        ctx->queued[index] = NGX_HTTP_EVBUS_UNQUEUED;
    }

    ev->error_kind = "not_queued";

    len = sizeof("could not be queued: ") + ngx_strlen(err);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        ev->error = "could not be queued";
        return NGX_ERROR;
    }

    (void) ngx_sprintf(p, "could not be queued: %s%Z", err);
    ev->error = (char *) p;

    /* the topic may hold the client's bytes ($evbus_event_type, headers) */

    if (ngx_evbus_log_limit(&ngx_http_evbus_handler_queue_log, &skipped)) {
        p = ngx_evbus_log_escape(text, sizeof(text), msg.topic.data,
                                 msg.topic.len);

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "evbus: event to \"%*s\" not queued: %s"
                      " (%ui more not logged)", p - text, text, err, skipped);
    }

    return NGX_ERROR;
}


static void *
ngx_http_evbus_handler_alloc(void *ctx, size_t size)
{
    return ngx_palloc(ctx, size);
}



/*
 * evbus_format segment: the call from the path's last segment, Segment's
 * batch limit from Content-Length (a chunked or compressed body is bounded
 * as it is read)
 */

static ngx_int_t
ngx_http_evbus_handler_segment(ngx_http_request_t *r,
    ngx_http_evbus_ctx_t *ctx)
{
    ngx_int_t  call;

    call = ngx_evbus_segment_path(r->uri.data, r->uri.len);

    if (call == NGX_EVBUS_SEGMENT_NONE) {
        return ngx_http_evbus_handler_reject(r, NGX_HTTP_NOT_FOUND,
                                             "unknown Segment call: use"
                                             " /v1/batch, track, identify,"
                                             " page, screen, group or"
                                             " alias");
    }

    ctx->format = (call == NGX_EVBUS_SEGMENT_BATCH)
                  ? NGX_EVBUS_FORMAT_SEGMENT_BATCH : NGX_EVBUS_FORMAT_SEGMENT;

    if (r->headers_in.content_length_n > NGX_EVBUS_SEGMENT_BODY_MAX) {
        return ngx_http_evbus_handler_reject(r,
                                             NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                             "the request body is larger"
                                             " than Segment's 500 KB");
    }

    return NGX_DECLINED;
}


/*
 * After the body: its size for a chunked one, and the "writeKey" it
 * carries when no header did; the events are built after this, so the
 * key's label still reaches their metadata.
 */

static ngx_int_t
ngx_http_evbus_handler_segment_key(ngx_http_request_t *r,
    ngx_http_evbus_ctx_t *ctx, ngx_evbus_parser_t *parser,
    ngx_evbus_enrich_t *enrich, ngx_str_t *timestamp, ngx_str_t *metadata,
    const char **error)
{
    off_t                       size;
    ngx_int_t                   rc;
    ngx_str_t                   key, label;
    ngx_chain_t                *cl;
    ngx_http_evbus_loc_conf_t  *elcf;

    elcf = ngx_http_get_module_loc_conf(r, ngx_http_evbus_module);

    *error = NULL;
    size = 0;

    for (cl = r->request_body ? r->request_body->bufs : NULL;
         cl;
         cl = cl->next)
    {
        size += ngx_buf_size(cl->buf);
    }

    if (size > NGX_EVBUS_SEGMENT_BODY_MAX) {
        *error = "the request body is larger than Segment's 500 KB";
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    if (elcf->write_keys == NULL || ctx->write_key.len) {
        return NGX_OK;
    }

    key.data = (u_char *) ngx_evbus_parser_write_key(parser, &key.len);

    if (key.data == NULL) {
        *error = "a write key is required: Authorization: Basic or writeKey";
        return NGX_HTTP_UNAUTHORIZED;
    }

    rc = ngx_http_evbus_write_key_lookup(elcf->write_keys, &key, &label,
                                         &ctx->write_key);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "evbus: unknown write key");

        *error = "unknown write key";
        return NGX_HTTP_UNAUTHORIZED;
    }

    /* the metadata again, now with the key's label */

    if (ngx_http_evbus_handler_metadata(r, elcf, timestamp, metadata)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    enrich->metadata = metadata->data;
    enrich->metadata_len = metadata->len;

    return NGX_OK;
}
