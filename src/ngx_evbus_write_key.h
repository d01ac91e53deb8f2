
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_WRITE_KEY_H_INCLUDED_
#define _NGX_EVBUS_WRITE_KEY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_EVBUS_WRITE_KEY_MAX  256


/* evbus_write_keys file | off; a pointer at cmd->offset */
char *ngx_http_evbus_write_keys(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * The request's key, from "Authorization: Basic base64(key:)", then
 * "X-Write-Key", then the "writeKey" query argument: NGX_OK and its label
 * (raw, and JSON-escaped when json is not NULL), NGX_DECLINED when no key
 * came, NGX_ABORT for a key that is not in the file.
 */
ngx_int_t ngx_http_evbus_write_key(ngx_http_request_t *r, void *keys,
    ngx_str_t *label, ngx_str_t *json);

/*
 * A key found elsewhere (evbus_format segment: "writeKey" in the body):
 * NGX_OK and its label, NGX_ABORT when it is not in the file
 */
ngx_int_t ngx_http_evbus_write_key_lookup(void *keys, ngx_str_t *key,
    ngx_str_t *label, ngx_str_t *json);

/* the most bytes a label adds to an event's metadata ("write_key") */
size_t ngx_http_evbus_write_key_max(void *conf);

/* $evbus_write_key: the label, empty without a known key */
ngx_int_t ngx_http_evbus_write_key_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


#endif /* _NGX_EVBUS_WRITE_KEY_H_INCLUDED_ */
