
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_HANDLER_H_INCLUDED_
#define _NGX_EVBUS_HANDLER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* metadata.user_agent: the first bytes of User-Agent, on a UTF-8 boundary */
#define NGX_HTTP_EVBUS_USER_AGENT_MAX  512


ngx_int_t ngx_http_evbus_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_evbus_handler_init_process(ngx_cycle_t *cycle);

/* the largest message (value, key, headers) an event of max bytes makes */
size_t ngx_http_evbus_handler_message_max(size_t max,
    ngx_str_t *source_service, size_t extra);


#endif /* _NGX_EVBUS_HANDLER_H_INCLUDED_ */
