
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_health.h"
#include "ngx_evbus_stats.h"
#include "ngx_evbus_json.h"


/*
 * evbus_health: for load balancers, 200 {"status":"ok"} when this nginx
 * can deliver, 503 {"status":"unavailable","reason":"..."} otherwise;
 * read from the workers' gauges in the statistics zone.
 */

ngx_int_t
ngx_http_evbus_health_handler(ngx_http_request_t *r)
{
    u_char       *p;
    size_t        len;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    const char   *reason;
    ngx_chain_t   out;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    reason = ngx_evbus_stats_health();

    len = sizeof("{\"status\":\"unavailable\",\"reason\":\"\"}\n") + 128;

    if (reason) {
        len += ngx_evbus_json_escape_len(ngx_strlen(reason));
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;

    if (reason == NULL) {
        p = ngx_cpymem(p, "{\"status\":\"ok\"}\n",
                       sizeof("{\"status\":\"ok\"}\n") - 1);
        r->headers_out.status = NGX_HTTP_OK;

    } else {
        p = ngx_cpymem(p, "{\"status\":\"unavailable\",\"reason\":\"",
                       sizeof("{\"status\":\"unavailable\",\"reason\":\"")
                       - 1);
        p = ngx_evbus_json_escape(p, (u_char *) reason, ngx_strlen(reason));
        p = ngx_cpymem(p, "\"}\n", 3);
        r->headers_out.status = NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
