
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_SCHEMA_CONF_H_INCLUDED_
#define _NGX_EVBUS_SCHEMA_CONF_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* evbus_schemas path | off; */
char *ngx_http_evbus_schemas(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_EVBUS_SCHEMA_CONF_H_INCLUDED_ */
