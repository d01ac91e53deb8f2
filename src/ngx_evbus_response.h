
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_RESPONSE_H_INCLUDED_
#define _NGX_EVBUS_RESPONSE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_event.h"
#include "ngx_evbus_wait.h"


/*
 * Every answer of an evbus location is one JSON shape:
 *
 * {"accepted":N,"rejected":N,"event_ids":[...],
 *  "errors":[{"index":N,"error":"..."}],
 *  "results":[{"index":N,"event_id":"...","partition":N,"offset":N}],
 *  "unknown":N,"error":"..."}
 *
 * results only for held responses, unknown and error only when they apply.
 */

/* the events' answer; results (indexed like events) when held, or NULL */
ngx_int_t ngx_http_evbus_response_send(ngx_http_request_t *r,
    ngx_int_t status, ngx_evbus_event_t *events, size_t n,
    const char *error, ngx_evbus_result_t *results, ngx_uint_t unknown);

/* an answer without events: 405 (with Allow), 413, 415, 400 */
ngx_int_t ngx_http_evbus_response_error(ngx_http_request_t *r,
    ngx_int_t status, const char *error);

/* a CORS preflight's answer: 204, its headers already added */
ngx_int_t ngx_http_evbus_response_preflight(ngx_http_request_t *r);

/* the filters that give nginx's own errors in evbus locations that shape */
ngx_int_t ngx_http_evbus_response_init(ngx_conf_t *cf);


#endif /* _NGX_EVBUS_RESPONSE_H_INCLUDED_ */
