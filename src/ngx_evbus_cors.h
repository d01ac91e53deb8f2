
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_CORS_H_INCLUDED_
#define _NGX_EVBUS_CORS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_EVBUS_CORS_MAX_AGE  "7200"


/* evbus_cors_origins origin ... | *; a pointer at cmd->offset */
char *ngx_http_evbus_cors_origins(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * Before the body is read: NGX_OK to go on (the CORS response headers
 * added when an allowed Origin came), NGX_DONE for a preflight from an
 * allowed origin (its headers added, to be answered 204),
 * NGX_HTTP_FORBIDDEN for another origin, NGX_ERROR.
 */
ngx_int_t ngx_http_evbus_cors(ngx_http_request_t *r, void *cors);

/* the response headers only, for answers nginx gives by itself */
ngx_int_t ngx_http_evbus_cors_headers(ngx_http_request_t *r, void *cors);


#endif /* _NGX_EVBUS_CORS_H_INCLUDED_ */
