
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_module.h"
#include "ngx_evbus_ctx.h"
#include "ngx_evbus_json.h"
#include "ngx_evbus_observe.h"
#include "ngx_evbus_stats.h"
#include "ngx_evbus_trace.h"


/*
 * What one request tells the operator: the W3C trace headers its events
 * carry into Kafka, its counts and histograms in the statistics zone,
 * Server-Timing, and the log_format variables.
 */

#define NGX_EVBUS_TYPES_MAX_LEN  4096


static ngx_table_elt_t *ngx_http_evbus_observe_header(ngx_http_request_t *r,
    const char *name, size_t len, ngx_uint_t *n);
static off_t ngx_http_evbus_observe_body(ngx_http_request_t *r);
static u_char *ngx_evbus_observe_ms(u_char *p, uint64_t us);


static ngx_str_t  ngx_http_evbus_observe_results[] = {
    ngx_string("ok"),
    ngx_string("partial"),
    ngx_string("rejected"),
    ngx_string("unavailable"),
    ngx_string("timeout"),
    ngx_string("shed"),
};


uint64_t
ngx_evbus_observe_now(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


static ngx_table_elt_t *
ngx_http_evbus_observe_header(ngx_http_request_t *r, const char *name,
    size_t len, ngx_uint_t *n)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *found;

    found = NULL;
    *n = 0;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            if (found == NULL) {
                found = &h[i];
            }

            (*n)++;
        }
    }

    return found;
}


/*
 * The request's traceparent and tracestate, when well formed, go into
 * every event's Kafka headers; a malformed or repeated one is dropped,
 * and tracestate without a valid traceparent too.
 */

void
ngx_http_evbus_observe_start(ngx_http_request_t *r, ngx_http_evbus_ctx_t *ctx)
{
    ngx_uint_t        n;
    ngx_table_elt_t  *h;

    ctx->t_start = ngx_evbus_observe_now();

    h = ngx_http_evbus_observe_header(r, "traceparent", 11, &n);

    if (h == NULL) {
        return;
    }

    if (n != 1 || !ngx_evbus_traceparent_valid(h->value.data, h->value.len))
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "evbus: traceparent dropped: \"%V\"", &h->value);
        return;
    }

    ctx->traceparent = h->value;

    h = ngx_http_evbus_observe_header(r, "tracestate", 10, &n);

    if (h && n == 1
        && ngx_evbus_tracestate_valid(h->value.data, h->value.len))
    {
        ctx->tracestate = h->value;
    }
}


/* microseconds as milliseconds with three decimals, without a printf */

static u_char *
ngx_evbus_observe_ms(u_char *p, uint64_t us)
{
    ngx_uint_t  frac;

    p = ngx_evbus_json_uint(p, us / 1000);
    frac = (ngx_uint_t) (us % 1000);

    *p++ = '.';
    *p++ = (u_char) ('0' + frac / 100);
    *p++ = (u_char) ('0' + frac / 10 % 10);
    *p++ = (u_char) ('0' + frac % 10);

    return p;
}


static off_t
ngx_http_evbus_observe_body(ngx_http_request_t *r)
{
    off_t         size;
    ngx_chain_t  *cl;

    if (r->request_body == NULL) {
        return 0;
    }

    size = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        size += ngx_buf_size(cl->buf);
    }

    return size;
}


/* before the answer is sent: counts, histograms, Server-Timing */

void
ngx_http_evbus_observe_finish(ngx_http_request_t *r,
    ngx_http_evbus_ctx_t *ctx, ngx_uint_t status)
{
    u_char           *p;
    uint64_t          now, parse, produce;
    ngx_table_elt_t  *h;

    ctx->status = status;

    ngx_evbus_stats_events(ctx->events, ctx->nevents);
    ngx_evbus_stats_observe(NGX_EVBUS_HIST_EVENTS, ctx->nevents);
    ngx_evbus_stats_observe(NGX_EVBUS_HIST_BODY,
                            (ngx_uint_t) ngx_http_evbus_observe_body(r));

    if (ctx->held) {
        ctx->delivery_ms = ngx_current_msec - ctx->held_at;
        ngx_evbus_stats_observe(NGX_EVBUS_HIST_HELD, ctx->delivery_ms);
    }

    if (ctx->t_start == 0) {
        return;
    }

    now = ngx_evbus_observe_now();
    parse = ctx->t_parsed ? ctx->t_parsed - ctx->t_start : 0;
    produce = (ctx->t_produced && ctx->t_parsed)
              ? ctx->t_produced - ctx->t_parsed : 0;

    p = ngx_pnalloc(r->pool,
                    3 * (sizeof("produce;dur=.000, ") + NGX_INT64_LEN));
    if (p == NULL) {
        return;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    ngx_str_set(&h->key, "Server-Timing");
    h->value.data = p;

    p = ngx_cpymem(p, "parse;dur=", sizeof("parse;dur=") - 1);
    p = ngx_evbus_observe_ms(p, parse);
    p = ngx_cpymem(p, ", produce;dur=", sizeof(", produce;dur=") - 1);
    p = ngx_evbus_observe_ms(p, produce);

    if (ctx->held && ctx->t_produced) {
        p = ngx_cpymem(p, ", wait;dur=", sizeof(", wait;dur=") - 1);
        p = ngx_evbus_observe_ms(p, now - ctx->t_produced);
    }

    h->value.len = p - h->value.data;
}


ngx_int_t
ngx_http_evbus_variable_result(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t             *res;
    ngx_uint_t             status;
    ngx_http_evbus_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_evbus_module);

    status = ctx ? (ctx->status ? ctx->status : r->headers_out.status) : 0;

    if (status == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (status == NGX_HTTP_GATEWAY_TIME_OUT) {
        res = &ngx_http_evbus_observe_results[4];

    } else if (ctx->shed) {
        res = &ngx_http_evbus_observe_results[5];

    } else if (status >= NGX_HTTP_INTERNAL_SERVER_ERROR) {
        res = &ngx_http_evbus_observe_results[3];

    } else if (status >= NGX_HTTP_BAD_REQUEST) {
        res = &ngx_http_evbus_observe_results[2];

    } else {
        res = &ngx_http_evbus_observe_results[ctx->rejected ? 1 : 0];
    }

    v->len = res->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = res->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_evbus_variable_event_types(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                *p, *s, *last;
    size_t                 i, len;
    ngx_evbus_event_t     *ev;
    ngx_http_evbus_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_evbus_module);

    if (ctx == NULL || ctx->nevents == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_EVBUS_TYPES_MAX_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    last = p + NGX_EVBUS_TYPES_MAX_LEN;

    for (i = 0; i < ctx->nevents; i++) {
        ev = &ctx->events[i];
        len = ev->event_type_len;

        if (len == 0 || !ngx_evbus_type_valid(ev->event_type, len)
            || (size_t) (last - p) < len + 1)
        {
            continue;
        }

        /* distinct: look for ",type," in ",list," */

        for (s = v->data; s < p; s++) {
            if ((s == v->data || s[-1] == ',')
                && (size_t) (p - s) >= len
                && ngx_memcmp(s, ev->event_type, len) == 0
                && (s + len == p || s[len] == ','))
            {
                break;
            }
        }

        if (s < p) {
            continue;
        }

        if (p > v->data) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, ev->event_type, len);
    }

    if (p == v->data) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = p - v->data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


ngx_int_t
ngx_http_evbus_variable_delivery_ms(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                *p;
    ngx_http_evbus_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_evbus_module);

    if (ctx == NULL || !ctx->held || ctx->status == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%M", ctx->delivery_ms) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}
