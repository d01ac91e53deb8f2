
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_OUTBOX_H_INCLUDED_
#define _NGX_EVBUS_OUTBOX_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_evbus_msg.h"
#include "ngx_evbus_wait.h"
#include "ngx_evbus_kafka.h"
#include "ngx_evbus_spool.h"


/* what a worker's transport is given by the module, plain values only */

typedef struct {
    ngx_evbus_kafka_conf_t      kafka;
    ngx_evbus_spool_conf_t     *spool;         /* NULL: no spool */
} ngx_evbus_outbox_conf_t;


ngx_int_t ngx_evbus_outbox_init_process(ngx_cycle_t *cycle,
    ngx_evbus_outbox_conf_t *conf);
void ngx_evbus_outbox_exit_process(ngx_cycle_t *cycle);

/* a new event refused for its priority under overload */
#define NGX_EVBUS_SHED  NGX_ABORT

/*
 * A new event.  "delivered": the client waits for Kafka's report, *wait
 * exists; else the event may go to the spool when Kafka cannot take it,
 * and *wait (for n events) is created then.
 * NGX_OK: queued, nobody waits; NGX_AGAIN: *wait gets the outcome;
 * NGX_BUSY: neither Kafka nor the spool can take it now; NGX_EVBUS_SHED:
 * the queue is fuller than msg->shed_above percent (*err is valid until
 * the next call); NGX_DECLINED or NGX_ERROR: not queued.  *err says why.
 */
ngx_int_t ngx_evbus_outbox_send(ngx_evbus_msg_t *msg, ngx_uint_t delivered,
    ngx_evbus_wait_t **wait, ngx_uint_t n, ngx_uint_t index, ngx_log_t *log,
    const char **err);

/*
 * Dead letters carry the headers error_kind, event_type (when known),
 * source_service and ingest_timestamp; nobody waits for their reports.
 */
ngx_int_t ngx_evbus_outbox_dead_letter(ngx_evbus_msg_t *msg,
    ngx_str_t *error_kind, const char **err);

/*
 * A topic computed from a request: NGX_OK, or NGX_DECLINED with *err when
 * the event must be rejected for it (evbus_max_topics, "_" first, invalid).
 */
ngx_int_t ngx_evbus_outbox_topic(ngx_str_t *topic, const char **err);

ngx_uint_t ngx_evbus_outbox_retry_after(void);
const char *ngx_evbus_outbox_strerror(int err);


#endif /* _NGX_EVBUS_OUTBOX_H_INCLUDED_ */
