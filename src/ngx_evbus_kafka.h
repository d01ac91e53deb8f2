
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
    ngx_str_t           error_kind;       /* dead letters only */
    int64_t             timestamp;        /* ms */
} ngx_evbus_kafka_msg_t;


/*
 * A request waiting for the outcome of its events (delivery reports, spool
 * writes).  It lives on the heap, never in the request's pool: reports can
 * come after the client has gone.  "data" is the request, or NULL once the
 * request has been detached from it; the wait is freed when the last
 * outcome has arrived and no request is attached.
 */

typedef struct ngx_evbus_wait_s  ngx_evbus_wait_t;

typedef void (*ngx_evbus_wait_pt)(ngx_evbus_wait_t *wait);

typedef struct {
    int64_t             offset;
    int32_t             partition;
    int32_t             err;              /* rd_kafka_resp_err_t */
    unsigned            done:1;
    unsigned            spooled:1;
} ngx_evbus_result_t;

struct ngx_evbus_wait_s {
    void               *data;
    ngx_evbus_wait_pt   handler;          /* all outcomes in, data set */
    ngx_uint_t          pending;
    ngx_uint_t          nresults;
    ngx_evbus_result_t *results;
    ngx_event_t         timer;
    ngx_pool_cleanup_t *cleanup;
};


typedef struct {
    ngx_atomic_uint_t   produced;
    ngx_atomic_uint_t   delivered;
    ngx_atomic_uint_t   failed;
    ngx_atomic_uint_t   queue_errors;
    ngx_atomic_uint_t   lost_at_exit;
    ngx_atomic_uint_t   spooled;
    ngx_atomic_uint_t   replayed;
} ngx_evbus_kafka_stats_t;


#define NGX_EVBUS_ERR_TIMED_OUT  (-192)   /* RD_KAFKA_RESP_ERR__MSG_TIMED_OUT */


void *ngx_evbus_kafka_conf_create(ngx_conf_t *cf);
char *ngx_evbus_kafka_conf_set(ngx_conf_t *cf, void *conf, ngx_str_t *name,
    ngx_str_t *value);
char *ngx_evbus_kafka_conf_check(ngx_conf_t *cf,
    ngx_http_evbus_main_conf_t *emcf);

ngx_int_t ngx_evbus_kafka_init_process(ngx_cycle_t *cycle,
    ngx_http_evbus_main_conf_t *emcf);
void ngx_evbus_kafka_exit_process(ngx_cycle_t *cycle);

/*
 * NGX_OK: queued; NGX_BUSY: Kafka cannot take it now (queue full, brokers
 * unavailable), a spool may; NGX_DECLINED: not queued; *err says why.
 */
ngx_int_t ngx_evbus_kafka_produce(ngx_evbus_kafka_msg_t *msg,
    ngx_evbus_wait_t *wait, ngx_uint_t index, const char **err);
ngx_int_t ngx_evbus_kafka_produce_dead_letter(ngx_evbus_kafka_msg_t *msg,
    ngx_str_t *error_kind, const char **err);
ngx_int_t ngx_evbus_kafka_available(void);
ngx_uint_t ngx_evbus_kafka_retry_after(void);
const char *ngx_evbus_kafka_err2str(int err);

ngx_evbus_wait_t *ngx_evbus_wait_create(ngx_uint_t n, ngx_log_t *log);
void ngx_evbus_wait_report(ngx_evbus_wait_t *wait, ngx_uint_t index,
    int32_t partition, int64_t offset, int err, ngx_uint_t spooled);
void ngx_evbus_wait_detach(ngx_evbus_wait_t *wait);

extern ngx_evbus_kafka_stats_t  ngx_evbus_kafka_stats;


#endif /* _NGX_EVBUS_KAFKA_H_INCLUDED_ */
