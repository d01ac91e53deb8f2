
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_KAFKA_H_INCLUDED_
#define _NGX_EVBUS_KAFKA_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_evbus_msg.h"
#include "ngx_evbus_rdstats.h"


/*
 * The outcome of one produced message.  "msg" is given for failed
 * deliveries only, rebuilt from the message librdkafka gives back, and
 * lives for the call only.
 */

typedef struct {
    void                       *data;          /* as given to produce */
    ngx_uint_t                  index;
    int32_t                     partition;
    int64_t                     offset;
    int                         err;           /* rd_kafka_resp_err_t */
    ngx_msec_t                  latency;       /* since the produce call */
    ngx_str_t                   topic;
    ngx_evbus_msg_t            *msg;
} ngx_evbus_kafka_report_t;

typedef void (*ngx_evbus_kafka_report_pt)(ngx_evbus_kafka_report_t *report);

/* librdkafka's statistics, parsed, every statistics.interval.ms */
typedef void (*ngx_evbus_kafka_stats_pt)(ngx_evbus_rdstats_t *st);

/* called on every poll tick; returns 1 to be called again soon */
typedef ngx_uint_t (*ngx_evbus_kafka_tick_pt)(void);


typedef struct {
    ngx_str_t                   brokers;
    void                       *kafka_conf;    /* rd_kafka_conf_t, checked */
    ngx_array_t                *topics;        /* ngx_str_t, known at start */
    ngx_msec_t                  flush_timeout;
    ngx_msec_t                  unavailable_after;
    ngx_uint_t                  max_topics;    /* computed topic names */

    ngx_evbus_kafka_report_pt   report;
    ngx_evbus_kafka_tick_pt     tick;
    ngx_evbus_kafka_stats_pt    stats;
} ngx_evbus_kafka_conf_t;


void *ngx_evbus_kafka_conf_create(ngx_conf_t *cf);
char *ngx_evbus_kafka_conf_set(ngx_conf_t *cf, void *conf, ngx_str_t *name,
    ngx_str_t *value);
char *ngx_evbus_kafka_conf_check(ngx_conf_t *cf, void *conf,
    ngx_str_t *file, ngx_uint_t line);

ngx_int_t ngx_evbus_kafka_init_process(ngx_cycle_t *cycle,
    ngx_evbus_kafka_conf_t *conf);
void ngx_evbus_kafka_exit_process(ngx_cycle_t *cycle);

/*
 * NGX_OK: queued, the report callback gets the outcome with "data" and
 * "index"; NGX_BUSY: Kafka cannot take it now (queue full, brokers
 * unavailable); NGX_DECLINED: not queued; *err says why.  A message with
 * an error_kind is a dead letter: error_kind instead of event_version.
 */
ngx_int_t ngx_evbus_kafka_produce(ngx_evbus_msg_t *msg, void *data,
    ngx_uint_t index, const char **err);
ngx_int_t ngx_evbus_kafka_available(void);
ngx_uint_t ngx_evbus_kafka_queued(void);
ngx_uint_t ngx_evbus_kafka_queue_max(void);
ngx_uint_t ngx_evbus_kafka_fill(void);
ngx_uint_t ngx_evbus_kafka_retry_after(void);
const char *ngx_evbus_kafka_err2str(int err);
ngx_uint_t ngx_evbus_kafka_err_permanent(int err);
ngx_int_t ngx_evbus_kafka_conf_int(void *conf, char *name);
ngx_uint_t ngx_evbus_topic_valid(ngx_str_t *name, const char **err);

/*
 * A topic computed from a request: NGX_OK, or NGX_DECLINED when it starts
 * with "_", is no valid name, or would be one more than max_topics.
 */
ngx_int_t ngx_evbus_kafka_topic_check(ngx_str_t *name, const char **err);


#endif /* _NGX_EVBUS_KAFKA_H_INCLUDED_ */
