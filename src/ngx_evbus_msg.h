
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_MSG_H_INCLUDED_
#define _NGX_EVBUS_MSG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * One message on its way to Kafka: what the handler produces, what the
 * spool stores and replays, what a failed delivery report gives back.
 * The strings are borrowed: every taker copies what it keeps.
 */

typedef struct {
    ngx_str_t           topic;
    ngx_str_t           key;
    ngx_str_t           value;
    ngx_str_t           event_type;
    ngx_str_t           event_version;
    ngx_str_t           source_service;
    ngx_str_t           ingest_timestamp;
    ngx_str_t           error_kind;       /* dead letters only */
    ngx_str_t           traceparent;      /* W3C, validated; may be empty */
    ngx_str_t           tracestate;
    int64_t             timestamp;        /* ms */

    /*
     * Where a permanent delivery failure goes: the location's dead-letter
     * topic, or none.  Unlike the strings above it must live as long as
     * the configuration: the producer keeps the pointer until the report.
     * Spooled with the event; replay gives a copy as long-lived.
     */
    ngx_str_t           dead_letter;
    ngx_uint_t          priority;         /* new events only */
    ngx_uint_t          shed_above;       /* % full; new events only */
} ngx_evbus_msg_t;


#endif /* _NGX_EVBUS_MSG_H_INCLUDED_ */
