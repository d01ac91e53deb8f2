
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_evbus_outbox.h"
#include "ngx_evbus_priority.h"
#include "ngx_evbus_stats.h"
#include "ngx_evbus_json.h"


/* the start of an undeliverable event kept in its dead letter */
#define NGX_EVBUS_OUTBOX_RAW_MAX  65536


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
static ngx_int_t ngx_evbus_outbox_replay(ngx_evbus_msg_t *msg, void *file);
static ngx_int_t ngx_evbus_outbox_undeliverable(ngx_evbus_msg_t *msg,
    int err);


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
            *err = "out of memory";
            return NGX_BUSY;
        }
    }

    /*
     * The spool holds a reference to the wait from the write on, and
     * gives it back with the outcome; a write it refuses keeps none.
     */

    (*wait)->pending++;

    rc = ngx_evbus_spool_write(msg, *wait, index);

    if (rc == NGX_OK) {
        return NGX_AGAIN;
    }

    (*wait)->pending--;

    *err = (rc == NGX_BUSY) ? "Kafka is unavailable and the spool is full"
                            : "Kafka is unavailable and the spool cannot be"
                              " written";

    return NGX_BUSY;
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


/*
 * A delivery report.  A failure: a waiting client learns of it; else a
 * permanent error (ngx_evbus_kafka_err_permanent()) goes to the location's
 * dead-letter topic, or is lost, and a retriable one goes to the spool.
 */

static void
ngx_evbus_outbox_report(ngx_evbus_kafka_report_t *report)
{
    ngx_int_t          rc;
    void              *file;
    ngx_uint_t         level;
    const char        *outcome;
    ngx_evbus_wait_t  *wait;

    wait = report->data;
    file = NULL;

    /* a record replayed from a spool file: the file waits for it */

    if (report->index == NGX_EVBUS_SPOOL_REPLAYED) {
        file = report->data;
        wait = NULL;
    }

    if (wait) {
        ngx_evbus_wait_report(wait, report->index, report->partition,
                              report->offset, report->err, 0);
    }

    if (report->err == 0) {
        ngx_evbus_stats_observe(NGX_EVBUS_HIST_DELIVERY, report->latency);
        ngx_evbus_stats_add(NGX_EVBUS_STAT_DELIVERED, 1);
        ngx_evbus_stats_topic(&report->topic, 1);

        if (file) {
            ngx_evbus_spool_replayed(file, 1);
        }

        return;
    }

    ngx_evbus_stats_add(NGX_EVBUS_STAT_FAILED, 1);
    ngx_evbus_stats_topic(&report->topic, 2);

    if (wait) {
        outcome = "reported to the client";
        level = NGX_LOG_WARN;

    } else if (ngx_evbus_kafka_err_permanent(report->err)) {

        rc = ngx_evbus_outbox_undeliverable(report->msg, report->err);

        if (rc == NGX_OK) {
            outcome = "a permanent error, sent to the dead-letter topic";
            level = NGX_LOG_WARN;

        } else {
            outcome = (rc == NGX_DECLINED)
                      ? "a permanent error, lost"
                      : "a permanent error, lost (its dead letter could not"
                        " be queued)";
            level = NGX_LOG_ERR;
            ngx_evbus_stats_add(NGX_EVBUS_STAT_LOST, 1);
        }

        /* a replayed record cannot be delivered: its file is done with it */

        if (file) {
            ngx_evbus_spool_replayed(file, 1);
        }

    } else if (ngx_evbus_spool_enabled()
               && ngx_evbus_spool_write(report->msg, file,
                                        NGX_EVBUS_SPOOL_REPLAYED)
                  == NGX_OK)
    {
        outcome = "spooled for replay";
        level = NGX_LOG_WARN;
        ngx_evbus_outbox.respooled++;

    } else if (file) {
        outcome = "left in its spool file for another replay";
        level = NGX_LOG_WARN;
        ngx_evbus_spool_replayed(file, 0);

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

        /* a failed replayed record, spooled again: its old file waits */

        if (waiters[i].index == NGX_EVBUS_SPOOL_REPLAYED) {
            ngx_evbus_spool_replayed(waiters[i].data, err == 0);
            continue;
        }

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
ngx_evbus_outbox_replay(ngx_evbus_msg_t *msg, void *file)
{
    ngx_int_t    rc;
    const char  *err;

    rc = ngx_evbus_kafka_produce(msg, file, NGX_EVBUS_SPOOL_REPLAYED, &err);

    if (rc == NGX_BUSY) {
        return NGX_AGAIN;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_evbus_outbox.log, 0,
                      "evbus: a spooled event to \"%V\" is dropped: %s",
                      &msg->topic, err);
        return NGX_DECLINED;
    }

    ngx_evbus_stats_add(NGX_EVBUS_STAT_PRODUCED, 1);
    ngx_evbus_stats_add(NGX_EVBUS_STAT_REPLAYED, 1);
    ngx_evbus_stats_topic(&msg->topic, 0);

    return NGX_OK;
}


/*
 * The dead letter of an event Kafka refused for good (kind "delivery"):
 *
 * {"error":{"kind":"delivery","pointer":"","message":"Broker: Message size
 *  too large"},"event_type":"purchase","raw":"<the produced value>",
 *  "metadata":{"ingest_timestamp":"...","source_service":"..."}}
 *
 * raw is the value as produced (metadata included), its first 64 KiB with
 * "raw_truncated":true when longer.  Dead letters of dead letters are not
 * made.
 */

static ngx_int_t
ngx_evbus_outbox_undeliverable(ngx_evbus_msg_t *msg, int err)
{
    u_char           *b, *p;
    size_t            len, raw, elen;
    ngx_int_t         rc;
    const char       *reason, *e;
    ngx_evbus_msg_t   dl;

    static ngx_str_t  kind = ngx_string("delivery");

    if (msg->dead_letter.len == 0 || msg->error_kind.len) {
        return NGX_DECLINED;
    }

    reason = ngx_evbus_kafka_err2str(err);
    elen = ngx_strlen(reason);
    raw = ngx_min(msg->value.len, NGX_EVBUS_OUTBOX_RAW_MAX);

    len = sizeof("{\"error\":{\"kind\":\"delivery\",\"pointer\":\"\","
                 "\"message\":\"\"},\"event_type\":\"\",\"raw\":\"\","
                 "\"raw_truncated\":true,\"metadata\":{"
                 "\"ingest_timestamp\":\"\",\"source_service\":\"\"}}")
          + ngx_evbus_json_escape_len(elen)
          + ngx_evbus_json_escape_len(msg->event_type.len)
          + ngx_evbus_json_escape_len(raw)
          + ngx_evbus_json_escape_len(msg->ingest_timestamp.len)
          + ngx_evbus_json_escape_len(msg->source_service.len);

    b = ngx_alloc(len, ngx_evbus_outbox.log);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(b, "{\"error\":{\"kind\":\"delivery\",\"pointer\":\"\","
                   "\"message\":\"",
                   sizeof("{\"error\":{\"kind\":\"delivery\",\"pointer\":\"\","
                          "\"message\":\"") - 1);
    p = ngx_evbus_json_escape(p, (u_char *) reason, elen);
    p = ngx_cpymem(p, "\"}", 2);

    if (msg->event_type.len) {
        p = ngx_cpymem(p, ",\"event_type\":\"",
                       sizeof(",\"event_type\":\"") - 1);
        p = ngx_evbus_json_escape(p, msg->event_type.data,
                                  msg->event_type.len);
        *p++ = '"';
    }

    p = ngx_cpymem(p, ",\"raw\":\"", sizeof(",\"raw\":\"") - 1);
    p = ngx_evbus_json_escape(p, msg->value.data, raw);
    *p++ = '"';

    if (raw < msg->value.len) {
        p = ngx_cpymem(p, ",\"raw_truncated\":true",
                       sizeof(",\"raw_truncated\":true") - 1);
    }

    p = ngx_cpymem(p, ",\"metadata\":{\"ingest_timestamp\":\"",
                   sizeof(",\"metadata\":{\"ingest_timestamp\":\"") - 1);
    p = ngx_evbus_json_escape(p, msg->ingest_timestamp.data,
                              msg->ingest_timestamp.len);
    p = ngx_cpymem(p, "\",\"source_service\":\"",
                   sizeof("\",\"source_service\":\"") - 1);
    p = ngx_evbus_json_escape(p, msg->source_service.data,
                              msg->source_service.len);
    p = ngx_cpymem(p, "\"}}", 3);

    dl = *msg;
    dl.topic = msg->dead_letter;
    dl.value.data = b;
    dl.value.len = p - b;
    dl.error_kind = kind;
    ngx_str_null(&dl.event_version);
    ngx_str_null(&dl.dead_letter);

    rc = ngx_evbus_outbox_produce(&dl, NULL, 0, &e);

    ngx_free(b);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_evbus_stats_add(NGX_EVBUS_STAT_DEAD_LETTERS, 1);

    return NGX_OK;
}


ngx_int_t
ngx_evbus_outbox_topic(ngx_str_t *topic, const char **err)
{
    return ngx_evbus_kafka_topic_check(topic, err);
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
