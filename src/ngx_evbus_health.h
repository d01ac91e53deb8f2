
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_HEALTH_H_INCLUDED_
#define _NGX_EVBUS_HEALTH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_evbus_health_handler(ngx_http_request_t *r);


#endif /* _NGX_EVBUS_HEALTH_H_INCLUDED_ */
