
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_module.h"
#include "ngx_evbus_handler.h"
#include "ngx_evbus_stats.h"


/*
 * Errors nginx answers by itself in an evbus location before the module
 * sees the request (413 for client_max_body_size, 400, 408, 411, limit_req's
 * 503...) would otherwise be HTML pages: SDKs get the same JSON shape as
 * for the module's own errors.
 */


static ngx_int_t ngx_http_evbus_errors_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_evbus_errors_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


ngx_int_t
ngx_http_evbus_errors_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_evbus_errors_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_evbus_errors_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_evbus_errors_header_filter(ngx_http_request_t *r)
{
    u_char                     *p;
    size_t                      len;
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

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_evbus_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_evbus_module);
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

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    len = sizeof("{\"accepted\":0,\"rejected\":0,\"event_ids\":[],"
                 "\"errors\":[],\"error\":\" ()\"}\n") + reason.len
          + NGX_OFF_T_LEN;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(b->last, "{\"accepted\":0,\"rejected\":0,\"event_ids\":[],"
                   "\"errors\":[],\"error\":\"",
                   sizeof("{\"accepted\":0,\"rejected\":0,\"event_ids\":[],"
                          "\"errors\":[],\"error\":\"") - 1);
    p = ngx_cpymem(p, reason.data, reason.len);

    if (r->headers_out.status == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
        p = ngx_sprintf(p, " (%O bytes)", clcf->client_max_body_size);
    }

    p = ngx_cpymem(p, "\"}\n", 3);

    b->last = p;
    b->last_buf = 1;
    b->last_in_chain = 1;

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
ngx_http_evbus_errors_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
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
