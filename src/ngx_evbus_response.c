
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_module.h"
#include "ngx_evbus_ctx.h"
#include "ngx_evbus_json.h"
#include "ngx_evbus_outbox.h"
#include "ngx_evbus_stats.h"
#include "ngx_evbus_response.h"
#include "ngx_evbus_cors.h"
#include "ngx_evbus_headers.h"


/* room for the longest reason of an nginx error, " (N bytes)" and NUL */
#define NGX_HTTP_EVBUS_RESPONSE_REASON_LEN                                   \
    (64 + sizeof(" ( bytes)") + NGX_OFF_T_LEN)


static ngx_buf_t *ngx_http_evbus_response_json(ngx_pool_t *pool,
    ngx_evbus_event_t *events, size_t n, const char *error,
    ngx_evbus_result_t *results, ngx_uint_t unknown);
static ngx_int_t ngx_http_evbus_response_output(ngx_http_request_t *r,
    ngx_int_t status, ngx_buf_t *b);
static ngx_http_evbus_ctx_t *ngx_http_evbus_response_ctx(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_evbus_response_header_filter(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_evbus_response_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_buf_t *
ngx_http_evbus_response_json(ngx_pool_t *pool, ngx_evbus_event_t *events,
    size_t n, const char *error, ngx_evbus_result_t *results,
    ngx_uint_t unknown)
{
    u_char     *p;
    size_t      i, len, accepted, rejected;
    ngx_buf_t  *b;

    accepted = 0;
    rejected = 0;

    len = sizeof("{\"accepted\":,\"rejected\":,\"event_ids\":[],"
                 "\"errors\":[],\"error\":\"\",\"results\":[],"
                 "\"unknown\":}\n") + 3 * NGX_SIZE_T_LEN;

    if (error) {
        len += ngx_evbus_json_escape_len(ngx_strlen(error));
    }

    for (i = 0; i < n; i++) {
        if (events[i].error) {
            len += sizeof("{\"index\":,\"error\":\"\"},") + NGX_SIZE_T_LEN
                   + ngx_evbus_json_escape_len(ngx_strlen(events[i].error));
            rejected++;

        } else {
            len += (sizeof("\"\",")
                    + ngx_evbus_json_escape_len(events[i].event_id_len)) * 2
                   + sizeof("{\"index\":,\"event_id\":,\"partition\":,"
                            "\"offset\":},") + NGX_SIZE_T_LEN
                   + NGX_INT32_LEN + NGX_INT64_LEN;
            accepted++;
        }
    }

    b = ngx_create_temp_buf(pool, len);
    if (b == NULL) {
        return NULL;
    }

    /* the common answer without printf */

    p = ngx_cpymem(b->last, "{\"accepted\":", sizeof("{\"accepted\":") - 1);
    p = ngx_evbus_json_uint(p, accepted);
    p = ngx_cpymem(p, ",\"rejected\":", sizeof(",\"rejected\":") - 1);
    p = ngx_evbus_json_uint(p, rejected);
    p = ngx_cpymem(p, ",\"event_ids\":[", sizeof(",\"event_ids\":[") - 1);

    for (i = 0; i < n; i++) {
        if (events[i].error) {
            continue;
        }

        *p++ = '"';
        p = ngx_evbus_json_escape(p, events[i].event_id,
                                  events[i].event_id_len);
        *p++ = '"';
        *p++ = ',';
    }

    if (p[-1] == ',') {
        p--;
    }

    p = ngx_cpymem(p, "],\"errors\":[", sizeof("],\"errors\":[") - 1);

    for (i = 0; i < n; i++) {
        if (events[i].error == NULL) {
            continue;
        }

        p = ngx_sprintf(p, "{\"index\":%uz,\"error\":\"", events[i].index);
        p = ngx_evbus_json_escape(p, (u_char *) events[i].error,
                                  ngx_strlen(events[i].error));
        p = ngx_cpymem(p, "\"},", sizeof("\"},") - 1);
    }

    if (p[-1] == ',') {
        p--;
    }

    *p++ = ']';

    if (results) {
        p = ngx_cpymem(p, ",\"results\":[", sizeof(",\"results\":[") - 1);

        for (i = 0; i < n; i++) {
            if (events[i].error) {
                continue;
            }

            p = ngx_sprintf(p, "{\"index\":%uz,\"event_id\":\"", i);
            p = ngx_evbus_json_escape(p, events[i].event_id,
                                      events[i].event_id_len);
            p = ngx_sprintf(p, "\",\"partition\":%D,\"offset\":%L},",
                            results[i].partition, results[i].offset);
        }

        if (p[-1] == ',') {
            p--;
        }

        *p++ = ']';
    }

    if (unknown) {
        p = ngx_sprintf(p, ",\"unknown\":%ui", unknown);
    }

    if (error) {
        p = ngx_cpymem(p, ",\"error\":\"", sizeof(",\"error\":\"") - 1);
        p = ngx_evbus_json_escape(p, (u_char *) error, ngx_strlen(error));
        *p++ = '"';
    }

    *p++ = '}';
    *p++ = '\n';

    b->last = p;
    b->last_in_chain = 1;

    return b;
}


ngx_int_t
ngx_http_evbus_response_send(ngx_http_request_t *r, ngx_int_t status,
    ngx_evbus_event_t *events, size_t n, const char *error,
    ngx_evbus_result_t *results, ngx_uint_t unknown)
{
    ngx_buf_t             *b;
    ngx_table_elt_t       *h;
    ngx_http_evbus_ctx_t  *ctx;

    static u_char  success[] = "{\"success\":true}\n";

    ctx = ngx_http_get_module_ctx(r, ngx_http_evbus_module);

    if (status == NGX_HTTP_OK && ctx
        && ctx->format >= NGX_EVBUS_FORMAT_SEGMENT)
    {
        /* what Segment's libraries expect */

        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->pos = success;
        b->last = success + sizeof(success) - 1;
        b->memory = 1;

        return ngx_http_evbus_response_output(r, status, b);
    }

    b = ngx_http_evbus_response_json(r->pool, events, n, error, results,
                                     unknown);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE
        || status == NGX_HTTP_TOO_MANY_REQUESTS)
    {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->value.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (h->value.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Retry-After");
        h->value.len = ngx_sprintf(h->value.data, "%ui",
                                   ngx_evbus_outbox_retry_after())
                       - h->value.data;
    }

    return ngx_http_evbus_response_output(r, status, b);
}


ngx_int_t
ngx_http_evbus_response_error(ngx_http_request_t *r, ngx_int_t status,
    const char *error)
{
    ngx_table_elt_t  *h;

    if (status == NGX_HTTP_NOT_ALLOWED) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Allow");
        ngx_str_set(&h->value, "POST");
    }

    /*
     * a browser asks its user for a password on a Basic challenge, and
     * a page's script waits for that answer: none for requests of pages
     */

    if (status == NGX_HTTP_UNAUTHORIZED
        && ngx_http_evbus_header_in(r, "Origin", sizeof("Origin") - 1)
           == NULL)
    {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "WWW-Authenticate");
        ngx_str_set(&h->value, "Basic realm=\"evbus\"");
    }

    return ngx_http_evbus_response_send(r, status, NULL, 0, error, NULL, 0);
}


ngx_int_t
ngx_http_evbus_response_preflight(ngx_http_request_t *r)
{
    ngx_http_evbus_ctx_t  *ctx;

    ctx = ngx_http_evbus_response_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->responded = 1;

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


static ngx_int_t
ngx_http_evbus_response_output(ngx_http_request_t *r, ngx_int_t status,
    ngx_buf_t *b)
{
    ngx_int_t              rc;
    ngx_chain_t            out;
    ngx_http_evbus_ctx_t  *ctx;

    ctx = ngx_http_evbus_response_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->responded = 1;

    ngx_evbus_stats_add(NGX_EVBUS_STAT_REQUESTS, 1);
    ngx_evbus_stats_add(status < 300 ? NGX_EVBUS_STAT_RESPONSES_2XX
                        : status < 500 ? NGX_EVBUS_STAT_RESPONSES_4XX
                                       : NGX_EVBUS_STAT_RESPONSES_5XX, 1);

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    b->last_buf = (r == r->main) ? 1 : 0;

    out.buf = b;
    out.next = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, &out);
}


/* errors answered before the handler ran have no context yet */

static ngx_http_evbus_ctx_t *
ngx_http_evbus_response_ctx(ngx_http_request_t *r)
{
    ngx_http_evbus_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_evbus_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_evbus_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_evbus_module);
    }

    return ctx;
}


/*
 * Errors nginx answers by itself in an evbus location before the module
 * sees the request (413 for client_max_body_size, 400, 408, 411, limit_req's
 * 503...) would otherwise be HTML pages: SDKs get the same JSON shape as
 * for the module's own errors.
 */

ngx_int_t
ngx_http_evbus_response_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_evbus_response_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_evbus_response_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_evbus_response_header_filter(ngx_http_request_t *r)
{
    u_char                      error[NGX_HTTP_EVBUS_RESPONSE_REASON_LEN];
    ngx_str_t                   reason;
    ngx_buf_t                  *b;
    ngx_http_evbus_ctx_t       *ctx;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_evbus_loc_conf_t  *elcf;

    if (r != r->main || r->headers_out.status < NGX_HTTP_BAD_REQUEST) {
        return ngx_http_next_header_filter(r);
    }

    elcf = ngx_http_get_module_loc_conf(r, ngx_http_evbus_module);

    if (elcf == NULL || !elcf->enable) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_evbus_module);

    if (ctx && ctx->responded) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_evbus_response_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    /* nginx answered before the handler added them (413, 400...) */

    if (elcf->cors && !ctx->cors_checked
        && ngx_http_evbus_cors_headers(r, elcf->cors) != NGX_OK)
    {
        return NGX_ERROR;
    }

    switch (r->headers_out.status) {

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        ngx_str_set(&reason, "the request body is larger than"
                             " client_max_body_size");
        break;

    case NGX_HTTP_REQUEST_TIME_OUT:
        ngx_str_set(&reason, "the request timed out");
        break;

    case NGX_HTTP_LENGTH_REQUIRED:
        ngx_str_set(&reason, "a Content-Length is required");
        break;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
    case 429:
        ngx_str_set(&reason, "too many requests, retry later");
        break;

    case NGX_HTTP_FORBIDDEN:
        ngx_str_set(&reason, "forbidden");
        break;

    default:
        if (r->headers_out.status >= NGX_HTTP_INTERNAL_SERVER_ERROR) {
            ngx_str_set(&reason, "internal server error");

        } else {
            ngx_str_set(&reason, "bad request");
        }
    }

    if (r->headers_out.status == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

        (void) ngx_sprintf(error, "%V (%O bytes)%Z", &reason,
                           clcf->client_max_body_size);

    } else {
        (void) ngx_sprintf(error, "%V%Z", &reason);
    }

    b = ngx_http_evbus_response_json(r->pool, NULL, 0, (char *) error, NULL,
                                     0);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last_buf = 1;

    ctx->error_page = b;
    ctx->responded = 1;

    ngx_evbus_stats_add(NGX_EVBUS_STAT_REQUESTS, 1);
    ngx_evbus_stats_add(r->headers_out.status < 500
                        ? NGX_EVBUS_STAT_RESPONSES_4XX
                        : NGX_EVBUS_STAT_RESPONSES_5XX, 1);

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;
    r->headers_out.content_length_n = b->last - b->pos;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_evbus_response_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t             *b;
    ngx_chain_t           *cl, out;
    ngx_http_evbus_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_evbus_module);

    if (ctx == NULL || ctx->error_page == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    /* nginx's own page is consumed and replaced */

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (ctx->error_sent) {
        return NGX_OK;
    }

    ctx->error_sent = 1;
    b = ctx->error_page;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}
