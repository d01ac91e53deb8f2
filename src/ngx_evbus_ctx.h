
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_CTX_H_INCLUDED_
#define _NGX_EVBUS_CTX_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_event.h"
#include "ngx_evbus_wait.h"


/*
 * The request's state in an evbus location, shared by the handler (which
 * fills it), the response (which marks it answered, and creates it when
 * it answers before the handler made one) and the variables.
 */

#define NGX_HTTP_EVBUS_QUEUED    1
#define NGX_HTTP_EVBUS_WAITING   2     /* for a delivery report or spool */
#define NGX_HTTP_EVBUS_UNQUEUED  3     /* Kafka and spool could not take it */
#define NGX_HTTP_EVBUS_SHED      4     /* refused for its priority */


typedef struct {
    ngx_str_t           event_type;     /* of the event being produced */
    ngx_uint_t          accepted;
    ngx_uint_t          rejected;
    ngx_uint_t          shed;
    ngx_int_t           format;
    ngx_evbus_event_t  *events;
    size_t              nevents;
    u_char             *queued;         /* per event */
    ngx_evbus_wait_t   *wait;
    ngx_buf_t          *error_page;     /* nginx's own error, as JSON */

    /* observations: ngx_evbus_observe.c */
    ngx_str_t           traceparent;    /* validated, or empty */
    ngx_str_t           tracestate;
    uint64_t            t_start;        /* microseconds, monotonic */
    uint64_t            t_parsed;
    uint64_t            t_produced;
    ngx_msec_t          held_at;
    ngx_msec_t          delivery_ms;
    ngx_uint_t          status;         /* the final answer's */
    ngx_str_t           write_key;      /* the key's label, escaped */
    ngx_uint_t          encoding;       /* of the body, for inflate */
    unsigned            done:1;
    unsigned            responded:1;
    unsigned            error_sent:1;
    unsigned            held:1;
    unsigned            cors_checked:1;
} ngx_http_evbus_ctx_t;


#endif /* _NGX_EVBUS_CTX_H_INCLUDED_ */
