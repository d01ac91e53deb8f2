
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_STATS_H_INCLUDED_
#define _NGX_EVBUS_STATS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


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


ngx_int_t ngx_evbus_stats_conf(ngx_conf_t *cf, void *tag);
void ngx_evbus_stats_add(ngx_evbus_stat_e stat, ngx_atomic_int_t n);
ngx_uint_t ngx_evbus_stats_process(ngx_evbus_stat_e stat);
void ngx_evbus_stats_worker(ngx_uint_t queued, off_t spooled,
    ngx_uint_t available, ngx_uint_t held);
void ngx_evbus_stats_worker_exit(void);

extern ngx_uint_t  ngx_evbus_held;
ngx_int_t ngx_http_evbus_status_handler(ngx_http_request_t *r);


#endif /* _NGX_EVBUS_STATS_H_INCLUDED_ */
