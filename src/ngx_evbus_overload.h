
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_OVERLOAD_H_INCLUDED_
#define _NGX_EVBUS_OVERLOAD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_module.h"
#include "ngx_evbus_msg.h"


char *ngx_http_evbus_shed(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_evbus_overload_merge(ngx_conf_t *cf,
    ngx_http_evbus_loc_conf_t *prev, ngx_http_evbus_loc_conf_t *conf);
void ngx_http_evbus_overload_priority(ngx_http_request_t *r,
    ngx_http_evbus_loc_conf_t *elcf, ngx_evbus_msg_t *msg);


#endif /* _NGX_EVBUS_OVERLOAD_H_INCLUDED_ */
