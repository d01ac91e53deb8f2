
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_STATS_H_INCLUDED_
#define _NGX_EVBUS_STATS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_event.h"
#include "ngx_evbus_rdstats.h"


typedef enum {
    NGX_EVBUS_STAT_REQUESTS = 0,
    NGX_EVBUS_STAT_RESPONSES_2XX,
    NGX_EVBUS_STAT_RESPONSES_4XX,
    NGX_EVBUS_STAT_RESPONSES_5XX,
    NGX_EVBUS_STAT_ACCEPTED,
    NGX_EVBUS_STAT_REJECTED,
    NGX_EVBUS_STAT_UNQUEUED,
    NGX_EVBUS_STAT_PRODUCED,
    NGX_EVBUS_STAT_DELIVERED,
    NGX_EVBUS_STAT_FAILED,
    NGX_EVBUS_STAT_SPOOLED,
    NGX_EVBUS_STAT_REPLAYED,
    NGX_EVBUS_STAT_LOST,
    NGX_EVBUS_STAT_DEAD_LETTERS,
    NGX_EVBUS_STAT_ACK_TIMEOUTS,
    NGX_EVBUS_STAT_N
} ngx_evbus_stat_e;


typedef enum {
    NGX_EVBUS_HIST_EVENTS = 0,        /* events per request */
    NGX_EVBUS_HIST_BODY,              /* request body bytes */
    NGX_EVBUS_HIST_DELIVERY,          /* produce to delivery report, ms */
    NGX_EVBUS_HIST_HELD,              /* evbus_ack kafka: held, ms */
    NGX_EVBUS_HIST_N
} ngx_evbus_hist_e;


typedef struct {
    ngx_str_t                   name;
    size_t                      size;
    ngx_uint_t                  max_types;
    ngx_uint_t                  off;
} ngx_evbus_stats_conf_t;


char *ngx_http_evbus_stats_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_evbus_stats_conf(ngx_conf_t *cf, void *tag,
    ngx_evbus_stats_conf_t *zone);
void ngx_evbus_stats_init_process(ngx_cycle_t *cycle, void *tag);
void ngx_evbus_stats_events(ngx_evbus_event_t *events, size_t n);
void ngx_evbus_stats_topic(ngx_str_t *topic, ngx_uint_t result);
void ngx_evbus_stats_shed(ngx_uint_t priority);
void ngx_evbus_stats_observe(ngx_evbus_hist_e hist, ngx_uint_t value);
void ngx_evbus_stats_limits(ngx_uint_t queue_max, off_t spool_max);
void ngx_evbus_stats_rdkafka(ngx_evbus_rdstats_t *st);
const char *ngx_evbus_stats_health(void);
void ngx_evbus_stats_add(ngx_evbus_stat_e stat, ngx_atomic_int_t n);
ngx_uint_t ngx_evbus_stats_process(ngx_evbus_stat_e stat);
void ngx_evbus_stats_worker(ngx_uint_t queued, off_t spooled,
    ngx_uint_t available, ngx_uint_t held);
void ngx_evbus_stats_worker_exit(void);

extern ngx_uint_t  ngx_evbus_held;
ngx_int_t ngx_http_evbus_status_handler(ngx_http_request_t *r);


#endif /* _NGX_EVBUS_STATS_H_INCLUDED_ */
