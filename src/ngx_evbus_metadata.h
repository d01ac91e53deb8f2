
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_METADATA_H_INCLUDED_
#define _NGX_EVBUS_METADATA_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_event.h"


/* evbus_metadata name value; a pointer at cmd->offset, repeatable */
char *ngx_http_evbus_metadata(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * The operator's members, ready to be appended to the request's
 * metadata: ,"name":"value" for each, null for an empty value.
 */
ngx_int_t ngx_http_evbus_metadata_members(ngx_http_request_t *r,
    void *conf, ngx_str_t *out);

/* a member's value: its first bytes, on a UTF-8 boundary */
#define NGX_HTTP_EVBUS_METADATA_VALUE_MAX  512

/* the most bytes the members add to an event's metadata */
size_t ngx_http_evbus_metadata_max(void *conf);

/* their names, which a client's metadata may not set */
const ngx_evbus_name_t *ngx_http_evbus_metadata_names(void *conf,
    size_t *n);


#endif /* _NGX_EVBUS_METADATA_H_INCLUDED_ */
