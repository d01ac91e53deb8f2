
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_evbus_outbox.h"
#include "ngx_evbus_priority.h"
#include "ngx_evbus_stats.h"


/*
 * The one place that decides where a message goes: to Kafka, to the spool
 * or back to the client.  The producer and the spool never call each
 * other; they report to the outbox through callbacks.
 */

typedef struct {
    ngx_evbus_outbox_conf_t     conf;
    ngx_log_t                  *log;
    ngx_msec_t                  gauged;

    ngx_uint_t                  respooled;
    ngx_uint_t                  lost_at_exit;

    time_t                      fail_logged;
    ngx_uint_t                  fail_suppressed;

    u_char                      shed_err[sizeof("shed: queue 100% full,"
                                                " priority critical")];

    unsigned                    running:1;
    unsigned                    exiting:1;
} ngx_evbus_outbox_t;


static ngx_int_t ngx_evbus_outbox_produce(ngx_evbus_msg_t *msg,
    ngx_evbus_wait_t *wait, ngx_uint_t index, const char **err);
static void ngx_evbus_outbox_report(ngx_evbus_kafka_report_t *report);
static void ngx_evbus_outbox_written(ngx_uint_t nrecords,
    ngx_evbus_spool_waiter_t *waiters, ngx_uint_t nwaiters, ngx_err_t err);
static ngx_uint_t ngx_evbus_outbox_tick(void);
static void ngx_evbus_outbox_rdstats(ngx_evbus_rdstats_t *st);
static ngx_int_t ngx_evbus_outbox_replay(ngx_evbus_msg_t *msg);


static ngx_evbus_outbox_t  ngx_evbus_outbox;


ngx_int_t
ngx_evbus_outbox_init_process(ngx_cycle_t *cycle,
    ngx_evbus_outbox_conf_t *conf)
{
    ngx_memzero(&ngx_evbus_outbox, sizeof(ngx_evbus_outbox_t));

    ngx_evbus_outbox.conf = *conf;
    ngx_evbus_outbox.log = cycle->log;

    ngx_evbus_outbox.conf.kafka.report = ngx_evbus_outbox_report;
    ngx_evbus_outbox.conf.kafka.stats = ngx_evbus_outbox_rdstats;
    ngx_evbus_outbox.conf.kafka.tick = ngx_evbus_outbox_tick;

    /*
     * A producer that cannot start leaves the worker serving: its events
     * get 503 and the error log says why.
     */

    if (ngx_evbus_kafka_init_process(cycle, &ngx_evbus_outbox.conf.kafka)
        == NGX_OK)
    {
        ngx_evbus_outbox.running = 1;
    }

    (void) ngx_evbus_spool_init_process(cycle, conf->spool,
                                        ngx_evbus_outbox_written);

    return NGX_OK;
}


ngx_int_t
ngx_evbus_outbox_send(ngx_evbus_msg_t *msg, ngx_uint_t delivered,
    ngx_evbus_wait_t **wait, ngx_uint_t n, ngx_uint_t index, ngx_log_t *log,
    const char **err)
{
    ngx_int_t   rc;
    ngx_uint_t  fill;

    /*
     * Under overload what matters least goes first: an event is shed when
     * the worker's queue is fuller than its priority allows.  Shed events
     * are not spooled: the spool is for what was admitted.
     */

    if (msg->shed_above < NGX_EVBUS_SHED_NEVER) {
        fill = ngx_evbus_kafka_fill();

        if (fill > msg->shed_above) {
            (void) ngx_sprintf(ngx_evbus_outbox.shed_err,
                               "shed: queue %ui%% full, priority %s%Z", fill,
                               ngx_evbus_priority_name(msg->priority));
            *err = (const char *) ngx_evbus_outbox.shed_err;

            ngx_evbus_stats_shed(msg->priority);

            return NGX_EVBUS_SHED;
        }
    }

    if (delivered) {
        rc = ngx_evbus_outbox_produce(msg, *wait, index, err);
        return (rc == NGX_OK) ? NGX_AGAIN : rc;
    }

    rc = ngx_evbus_outbox_produce(msg, NULL, 0, err);

    if (rc != NGX_BUSY || !ngx_evbus_spool_enabled()) {
        return rc;
    }

    /* "queued" also means "in the spool"; "kafka" means delivered */

    if (*wait == NULL) {
        *wait = ngx_evbus_wait_create(n, log);
        if (*wait == NULL) {
            return NGX_BUSY;
        }
    }

    rc = ngx_evbus_spool_write(msg, *wait, index);

    if (rc == NGX_OK) {
        (*wait)->pending++;
        return NGX_AGAIN;
    }

    *err = (rc == NGX_BUSY) ? "Kafka is unavailable and the spool is full"
                            : "Kafka is unavailable and the spool failed";

    return rc;
}


ngx_int_t
ngx_evbus_outbox_dead_letter(ngx_evbus_msg_t *msg, ngx_str_t *error_kind,
    const char **err)
{
    msg->error_kind = *error_kind;

    return ngx_evbus_outbox_produce(msg, NULL, 0, err);
}


static ngx_int_t
ngx_evbus_outbox_produce(ngx_evbus_msg_t *msg, ngx_evbus_wait_t *wait,
    ngx_uint_t index, const char **err)
{
    ngx_int_t  rc;

    rc = ngx_evbus_kafka_produce(msg, wait, index, err);

    if (rc == NGX_OK) {
        ngx_evbus_stats_add(NGX_EVBUS_STAT_PRODUCED, 1);
        ngx_evbus_stats_topic(&msg->topic, 0);

        if (wait) {
            wait->pending++;
        }
    }

    return rc;
}


/* a delivery report: a waiting client learns of a failure, others spool */

static void
ngx_evbus_outbox_report(ngx_evbus_kafka_report_t *report)
{
    ngx_uint_t         level;
    const char        *outcome;
    ngx_evbus_wait_t  *wait;

    wait = report->data;

    if (wait) {
        ngx_evbus_wait_report(wait, report->index, report->partition,
                              report->offset, report->err, 0);
    }

    if (report->err == 0) {
        ngx_evbus_stats_observe(NGX_EVBUS_HIST_DELIVERY, report->latency);
        ngx_evbus_stats_add(NGX_EVBUS_STAT_DELIVERED, 1);
        ngx_evbus_stats_topic(&report->topic, 1);
        return;
    }

    ngx_evbus_stats_add(NGX_EVBUS_STAT_FAILED, 1);
    ngx_evbus_stats_topic(&report->topic, 2);

    if (wait) {
        outcome = "reported to the client";
        level = NGX_LOG_WARN;

    } else if (ngx_evbus_spool_enabled()
               && ngx_evbus_spool_write(report->msg, NULL, 0) == NGX_OK)
    {
        outcome = "spooled for replay";
        level = NGX_LOG_WARN;
        ngx_evbus_outbox.respooled++;

    } else {
        if (ngx_evbus_spool_enabled()) {
            ngx_log_error(NGX_LOG_ERR, ngx_evbus_outbox.log, 0,
                          "evbus: an undelivered event to \"%V\" could not be"
                          " spooled and is lost", &report->msg->topic);
        }

        outcome = "lost";
        level = NGX_LOG_ERR;
        ngx_evbus_stats_add(NGX_EVBUS_STAT_LOST, 1);

        if (ngx_evbus_outbox.exiting) {
            ngx_evbus_outbox.lost_at_exit++;
        }
    }

    if (ngx_evbus_outbox.fail_logged == ngx_time()) {
        ngx_evbus_outbox.fail_suppressed++;
        return;
    }

    ngx_log_error(level, ngx_evbus_outbox.log, 0,
                  "evbus: delivery to \"%V\" failed: %s, %s"
                  " (%ui more failures not logged)",
                  &report->msg->topic, ngx_evbus_kafka_err2str(report->err),
                  outcome, ngx_evbus_outbox.fail_suppressed);

    ngx_evbus_outbox.fail_logged = ngx_time();
    ngx_evbus_outbox.fail_suppressed = 0;
}


static void
ngx_evbus_outbox_written(ngx_uint_t nrecords,
    ngx_evbus_spool_waiter_t *waiters, ngx_uint_t nwaiters, ngx_err_t err)
{
    ngx_uint_t  i;

    ngx_evbus_stats_add(NGX_EVBUS_STAT_SPOOLED, nrecords);

    for (i = 0; i < nwaiters; i++) {
        ngx_evbus_wait_report(waiters[i].data, waiters[i].index, -1, -1,
                              err ? -1 : 0, err ? 0 : 1);
    }
}


static void
ngx_evbus_outbox_rdstats(ngx_evbus_rdstats_t *st)
{
    ngx_evbus_stats_rdkafka(st);
}


/* the producer's poll timer: gauges, and the replay of the spool */

static ngx_uint_t
ngx_evbus_outbox_tick(void)
{
    if (ngx_current_msec - ngx_evbus_outbox.gauged >= 1000) {
        ngx_evbus_stats_limits(ngx_evbus_kafka_queue_max(),
                               ngx_evbus_outbox.conf.spool
                               ? ngx_evbus_outbox.conf.spool->max_size : 0);
        ngx_evbus_stats_worker(ngx_evbus_kafka_queued(),
                               ngx_evbus_spool_bytes(),
                               ngx_evbus_kafka_available(), ngx_evbus_held);
        ngx_evbus_outbox.gauged = ngx_current_msec;
    }

    ngx_evbus_spool_rescan();

    if (!ngx_evbus_kafka_available()) {
        return 0;
    }

    return ngx_evbus_spool_replay(ngx_evbus_outbox_replay);
}


static ngx_int_t
ngx_evbus_outbox_replay(ngx_evbus_msg_t *msg)
{
    ngx_int_t    rc;
    const char  *err;

    rc = ngx_evbus_outbox_produce(msg, NULL, 0, &err);

    if (rc == NGX_BUSY) {
        return NGX_AGAIN;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_evbus_outbox.log, 0,
                      "evbus: a spooled event to \"%V\" is dropped: %s",
                      &msg->topic, err);
        return NGX_OK;
    }

    ngx_evbus_stats_add(NGX_EVBUS_STAT_REPLAYED, 1);

    return NGX_OK;
}


ngx_uint_t
ngx_evbus_outbox_retry_after(void)
{
    return ngx_evbus_kafka_retry_after();
}


const char *
ngx_evbus_outbox_strerror(int err)
{
    return ngx_evbus_kafka_err2str(err);
}


/* what Kafka does not take in time goes to the spool, if any */

void
ngx_evbus_outbox_exit_process(ngx_cycle_t *cycle)
{
    ngx_evbus_spool_exit_begin(cycle);

    ngx_evbus_wait_close();
    ngx_evbus_outbox.exiting = 1;

    ngx_evbus_kafka_exit_process(cycle);

    if (ngx_evbus_outbox.running) {
        ngx_evbus_outbox.running = 0;

        if (ngx_evbus_outbox.fail_suppressed) {
            ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                          "evbus: %ui more delivery failures were not logged",
                          ngx_evbus_outbox.fail_suppressed);
        }

        if (ngx_evbus_outbox.lost_at_exit) {
            ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                          "evbus: %ui events were not delivered within"
                          " evbus_flush_timeout %M and are lost",
                          ngx_evbus_outbox.lost_at_exit,
                          ngx_evbus_outbox.conf.kafka.flush_timeout);
        }

        ngx_evbus_stats_worker_exit();

        ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                      "evbus: producer stopped: %ui produced, %ui delivered,"
                      " %ui failed (%ui of them spooled, %ui lost); spool:"
                      " %ui written, %ui replayed",
                      ngx_evbus_stats_process(NGX_EVBUS_STAT_PRODUCED),
                      ngx_evbus_stats_process(NGX_EVBUS_STAT_DELIVERED),
                      ngx_evbus_stats_process(NGX_EVBUS_STAT_FAILED),
                      ngx_evbus_outbox.respooled,
                      ngx_evbus_stats_process(NGX_EVBUS_STAT_LOST),
                      ngx_evbus_stats_process(NGX_EVBUS_STAT_SPOOLED),
                      ngx_evbus_stats_process(NGX_EVBUS_STAT_REPLAYED));
    }

    ngx_evbus_spool_exit_process(cycle);
}
