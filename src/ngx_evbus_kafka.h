
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_KAFKA_H_INCLUDED_
#define _NGX_EVBUS_KAFKA_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_evbus_module.h"


typedef struct {
    ngx_str_t           topic;
    ngx_str_t           key;
    ngx_str_t           value;
    ngx_str_t           event_type;
    ngx_str_t           event_version;
    ngx_str_t           source_service;
    ngx_str_t           ingest_timestamp;
    int64_t             timestamp;        /* ms */
} ngx_evbus_kafka_msg_t;


typedef struct {
    ngx_atomic_uint_t   produced;
    ngx_atomic_uint_t   delivered;
    ngx_atomic_uint_t   failed;
    ngx_atomic_uint_t   queue_errors;
    ngx_atomic_uint_t   lost_at_exit;
} ngx_evbus_kafka_stats_t;


void *ngx_evbus_kafka_conf_create(ngx_conf_t *cf);
char *ngx_evbus_kafka_conf_set(ngx_conf_t *cf, void *conf, ngx_str_t *name,
    ngx_str_t *value);
char *ngx_evbus_kafka_conf_check(ngx_conf_t *cf,
    ngx_http_evbus_main_conf_t *emcf);

ngx_int_t ngx_evbus_kafka_init_process(ngx_cycle_t *cycle,
    ngx_http_evbus_main_conf_t *emcf);
void ngx_evbus_kafka_exit_process(ngx_cycle_t *cycle);

/* NGX_OK: queued; NGX_DECLINED: not queued, *err says why */
ngx_int_t ngx_evbus_kafka_produce(ngx_evbus_kafka_msg_t *msg,
    const char **err);
ngx_uint_t ngx_evbus_kafka_retry_after(void);

extern ngx_evbus_kafka_stats_t  ngx_evbus_kafka_stats;


#endif /* _NGX_EVBUS_KAFKA_H_INCLUDED_ */
