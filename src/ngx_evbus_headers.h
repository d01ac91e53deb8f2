
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_HEADERS_H_INCLUDED_
#define _NGX_EVBUS_HEADERS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * A request header that nginx does not keep a pointer to (Origin,
 * Content-Encoding, X-Write-Key...): the first one, or NULL.
 */
ngx_table_elt_t *ngx_http_evbus_header_in(ngx_http_request_t *r,
    const char *name, size_t len);

/* adds a response header; NGX_ERROR when out of memory */
ngx_int_t ngx_http_evbus_header_out(ngx_http_request_t *r,
    const char *name, size_t len, ngx_str_t *value);


#endif /* _NGX_EVBUS_HEADERS_H_INCLUDED_ */
