
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_AVAIL_H_INCLUDED_
#define _NGX_EVBUS_AVAIL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * Whether Kafka's brokers are reachable, shared by every worker: one
 * worker's producer learning that all brokers are down (or that one is up)
 * decides for all, so workers do not answer 202 and 503 in turn.
 */

ngx_int_t ngx_evbus_avail_conf(ngx_conf_t *cf, void *tag);

/* librdkafka reported all brokers down */
void ngx_evbus_avail_down(void);

/* a broker answered: a delivery, or a broker found up */
void ngx_evbus_avail_up(void);

/* since when (ngx_current_msec) no broker is known up; 0: one is */
ngx_msec_t ngx_evbus_avail_down_since(void);


#endif /* _NGX_EVBUS_AVAIL_H_INCLUDED_ */
