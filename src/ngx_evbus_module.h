
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_MODULE_H_INCLUDED_
#define _NGX_EVBUS_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_version.h"

#define NGX_EVBUS_ACK_QUEUED  0
#define NGX_EVBUS_ACK_KAFKA   1

/* linger.ms when no location uses "evbus_ack kafka" (docs/bench.md) */
#define NGX_EVBUS_QUEUED_LINGER   "50"

#define NGX_EVBUS_UNKNOWN_REJECT  0
#define NGX_EVBUS_UNKNOWN_ACCEPT  1

#define NGX_HTTP_EVBUS_FORMAT_EVBUS    0
#define NGX_HTTP_EVBUS_FORMAT_SEGMENT  1


typedef struct {
    ngx_str_t                   brokers;
    ngx_array_t                 topics;         /* ngx_str_t, known at start */
    ngx_array_t                 locations;      /* loc confs using evbus */
    ngx_msec_t                  flush_timeout;
    ngx_msec_t                  unavailable_after;
    ngx_uint_t                  max_topics;
    void                       *spool;          /* ngx_evbus_spool_conf_t */
    ngx_array_t                *schema_sets;    /* loaded, by path */
    ngx_flag_t                  status;
    void                       *stats_zone;     /* ngx_evbus_stats_conf_t */
    ngx_int_t                   request_id_index;

    void                       *kafka_conf;     /* rd_kafka_conf_t, checked */
    ngx_uint_t                  properties_line;
    ngx_str_t                   properties_file;
    ngx_flag_t                  linger_set;     /* by evbus_kafka_property */
} ngx_http_evbus_main_conf_t;


typedef struct {
    ngx_flag_t                  enable;
    ngx_http_complex_value_t   *topic;
    ngx_str_t                   source_service;  /* JSON-escaped */
    ngx_str_t                   source_service_raw;
    size_t                      max_event_size;
    ngx_uint_t                  max_events;
    ngx_uint_t                  max_depth;
    ngx_uint_t                  ack;
    ngx_msec_t                  ack_timeout;

    void                       *schemas;        /* ngx_evbus_schemas_t */
    ngx_int_t                   schema_default_version;
    ngx_uint_t                  unknown_types;
    ngx_str_t                   dead_letter_topic;

    void                       *cors;           /* ngx_http_evbus_cors_t */
    ngx_flag_t                  accept_text_plain;
    size_t                      max_inflated_size;
    ngx_array_t                *write_keys;     /* of the write_key room */
    void                       *metadata;       /* evbus_metadata */
    ngx_http_complex_value_t   *priority;       /* NULL: nothing is shed */
    ngx_uint_t                  shed[3];        /* % full: low, normal, high */
    ngx_uint_t                  format;         /* evbus_format */
} ngx_http_evbus_loc_conf_t;


extern ngx_module_t  ngx_http_evbus_module;


#endif /* _NGX_EVBUS_MODULE_H_INCLUDED_ */
