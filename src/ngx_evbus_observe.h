
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_OBSERVE_H_INCLUDED_
#define _NGX_EVBUS_OBSERVE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_ctx.h"


uint64_t ngx_evbus_observe_now(void);
void ngx_http_evbus_observe_start(ngx_http_request_t *r,
    ngx_http_evbus_ctx_t *ctx);
void ngx_http_evbus_observe_finish(ngx_http_request_t *r,
    ngx_http_evbus_ctx_t *ctx, ngx_uint_t status);

ngx_int_t ngx_http_evbus_variable_result(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_http_evbus_variable_event_types(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_http_evbus_variable_delivery_ms(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


#endif /* _NGX_EVBUS_OBSERVE_H_INCLUDED_ */
