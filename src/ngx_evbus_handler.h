
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_HANDLER_H_INCLUDED_
#define _NGX_EVBUS_HANDLER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_module.h"
#include "ngx_evbus_event.h"
#include "ngx_evbus_wait.h"


#define NGX_HTTP_EVBUS_QUEUED    1
#define NGX_HTTP_EVBUS_WAITING   2     /* for a delivery report or spool */
#define NGX_HTTP_EVBUS_UNQUEUED  3     /* Kafka and spool could not take it */


typedef struct {
    ngx_str_t           event_type;     /* of the event being produced */
    ngx_uint_t          accepted;
    ngx_uint_t          rejected;
    ngx_int_t           format;
    ngx_evbus_event_t  *events;
    size_t              nevents;
    u_char             *queued;         /* per event */
    ngx_evbus_wait_t   *wait;
    ngx_buf_t          *error_page;     /* nginx's own error, as JSON */
    unsigned            done:1;
    unsigned            responded:1;
    unsigned            error_sent:1;
} ngx_http_evbus_ctx_t;


ngx_int_t ngx_http_evbus_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_evbus_handler_init_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_evbus_errors_init(ngx_conf_t *cf);

/* JSON string contents: escapes, and replaces invalid UTF-8 with U+FFFD */
size_t ngx_http_evbus_escape_json_len(u_char *src, size_t size);
u_char *ngx_http_evbus_escape_json(u_char *dst, u_char *src, size_t size);


#endif /* _NGX_EVBUS_HANDLER_H_INCLUDED_ */
