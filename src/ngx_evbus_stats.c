
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_stats.h"


/*
 * Counters shared by all workers in a shared memory zone that survives
 * reloads, and per-worker gauges (queue, spool, availability, held
 * requests) refreshed by each worker's producer timer.  evbus_status shows
 * them in Prometheus' text format.
 */

#define NGX_EVBUS_STATS_WORKERS  256


typedef struct {
    ngx_atomic_t                pid;
    ngx_atomic_t                queued;
    ngx_atomic_t                spooled;
    ngx_atomic_t                available;
    ngx_atomic_t                held;
} ngx_evbus_stats_worker_t;


typedef struct {
    ngx_atomic_t                counters[NGX_EVBUS_STAT_N];
    ngx_evbus_stats_worker_t    workers[NGX_EVBUS_STATS_WORKERS];
} ngx_evbus_shctx_t;


typedef struct {
    const char                 *name;
    const char                 *label;
    const char                 *help;
} ngx_evbus_stat_name_t;


static ngx_int_t ngx_evbus_stats_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);


ngx_uint_t  ngx_evbus_held;

static ngx_uint_t  ngx_evbus_stats_local[NGX_EVBUS_STAT_N];

static ngx_evbus_shctx_t  *ngx_evbus_shctx;

static ngx_str_t  ngx_evbus_stats_zone_name = ngx_string("evbus_stats");


static ngx_evbus_stat_name_t  ngx_evbus_stat_names[] = {
    { "evbus_requests_total", NULL,
      "Requests answered by evbus locations." },
    { "evbus_responses_total", "class=\"2xx\"",
      "Responses of evbus locations by status class." },
    { "evbus_responses_total", "class=\"4xx\"", NULL },
    { "evbus_responses_total", "class=\"5xx\"", NULL },
    { "evbus_events_total", "outcome=\"accepted\"",
      "Events by outcome of the request that carried them." },
    { "evbus_events_total", "outcome=\"rejected\"", NULL },
    { "evbus_events_unqueued_total", NULL,
      "Valid events refused because Kafka and the spool could not take"
      " them (backpressure)." },
    { "evbus_kafka_messages_total", "result=\"produced\"",
      "Messages given to librdkafka, and their delivery reports." },
    { "evbus_kafka_messages_total", "result=\"delivered\"", NULL },
    { "evbus_kafka_messages_total", "result=\"failed\"", NULL },
    { "evbus_spool_records_total", "op=\"written\"",
      "Events written to and replayed from the spool." },
    { "evbus_spool_records_total", "op=\"replayed\"", NULL },
    { "evbus_lost_total", NULL,
      "Accepted events that could neither be delivered nor spooled"
      " (nor, failing for good, dead-lettered)." },
    { "evbus_dead_letters_total", NULL,
      "Rejected events, and events Kafka refused for good, produced to the"
      " dead-letter topic." },
    { "evbus_ack_timeouts_total", NULL,
      "Held responses answered 504 after evbus_ack_timeout." },
};


ngx_int_t
ngx_evbus_stats_conf(ngx_conf_t *cf, void *tag)
{
    ngx_shm_zone_t  *shm_zone;

    shm_zone = ngx_shared_memory_add(cf, &ngx_evbus_stats_zone_name,
                                     2 * sizeof(ngx_evbus_shctx_t)
                                     + 8 * ngx_pagesize, tag);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_evbus_stats_init_zone;

    return NGX_OK;
}


static ngx_int_t
ngx_evbus_stats_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t    *shpool;
    ngx_evbus_shctx_t  *shctx;

    if (data) {
        shm_zone->data = data;
        ngx_evbus_shctx = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        ngx_evbus_shctx = shpool->data;
        return NGX_OK;
    }

    shctx = ngx_slab_calloc(shpool, sizeof(ngx_evbus_shctx_t));
    if (shctx == NULL) {
        return NGX_ERROR;
    }

    shpool->data = shctx;
    shm_zone->data = shctx;
    ngx_evbus_shctx = shctx;

    return NGX_OK;
}


/*
 * One path for every count: the shared zone for /status, and this
 * process's own share of it for its exit log line.
 */

void
ngx_evbus_stats_add(ngx_evbus_stat_e stat, ngx_atomic_int_t n)
{
    ngx_evbus_stats_local[stat] += n;

    if (ngx_evbus_shctx && n) {
        (void) ngx_atomic_fetch_add(&ngx_evbus_shctx->counters[stat], n);
    }
}


ngx_uint_t
ngx_evbus_stats_process(ngx_evbus_stat_e stat)
{
    return ngx_evbus_stats_local[stat];
}


void
ngx_evbus_stats_worker(ngx_uint_t queued, off_t spooled,
    ngx_uint_t available, ngx_uint_t held)
{
    ngx_evbus_stats_worker_t  *w;

    if (ngx_evbus_shctx == NULL || ngx_worker >= NGX_EVBUS_STATS_WORKERS) {
        return;
    }

    w = &ngx_evbus_shctx->workers[ngx_worker];

    w->pid = ngx_pid;
    w->queued = queued;
    w->spooled = spooled;
    w->available = available;
    w->held = held;
}


void
ngx_evbus_stats_worker_exit(void)
{
    ngx_evbus_stats_worker_t  *w;

    if (ngx_evbus_shctx == NULL || ngx_worker >= NGX_EVBUS_STATS_WORKERS) {
        return;
    }

    w = &ngx_evbus_shctx->workers[ngx_worker];

    /* the slot may already be a newer worker's */

    if (w->pid == (ngx_atomic_uint_t) ngx_pid) {
        ngx_memzero(w, sizeof(ngx_evbus_stats_worker_t));
    }
}


ngx_int_t
ngx_http_evbus_status_handler(ngx_http_request_t *r)
{
    u_char                    *p;
    size_t                     len;
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    ngx_uint_t                 i;
    ngx_chain_t                out;
    ngx_evbus_stat_name_t     *s;
    ngx_evbus_stats_worker_t  *w;

    static const char  *gauges[][2] = {
        { "evbus_kafka_queue_messages",
          "Messages in the worker's librdkafka queue." },
        { "evbus_spool_bytes",
          "Bytes in the worker's spool files, not yet replayed." },
        { "evbus_kafka_available",
          "1 when the worker's producer takes messages, else 0." },
        { "evbus_held_requests",
          "Responses held for delivery reports or spool writes." },
    };

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_evbus_shctx == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    len = 0;

    for (i = 0; i < NGX_EVBUS_STAT_N; i++) {
        s = &ngx_evbus_stat_names[i];
        len += 2 * ngx_strlen(s->name) + 64 + NGX_ATOMIC_T_LEN
               + (s->label ? ngx_strlen(s->label) : 0)
               + (s->help ? ngx_strlen(s->help) : 0);
    }

    for (i = 0; i < 4; i++) {
        len += 2 * ngx_strlen(gauges[i][0]) + ngx_strlen(gauges[i][1]) + 64
               + NGX_EVBUS_STATS_WORKERS
                 * (ngx_strlen(gauges[i][0]) + 32 + NGX_ATOMIC_T_LEN);
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;

    for (i = 0; i < NGX_EVBUS_STAT_N; i++) {
        s = &ngx_evbus_stat_names[i];

        if (s->help) {
            p = ngx_sprintf(p, "# HELP %s %s\n# TYPE %s counter\n",
                            s->name, s->help, s->name);
        }

        if (s->label) {
            p = ngx_sprintf(p, "%s{%s} %uA\n", s->name, s->label,
                            ngx_evbus_shctx->counters[i]);

        } else {
            p = ngx_sprintf(p, "%s %uA\n", s->name,
                            ngx_evbus_shctx->counters[i]);
        }
    }

    for (i = 0; i < 4; i++) {
        p = ngx_sprintf(p, "# HELP %s %s\n# TYPE %s gauge\n",
                        gauges[i][0], gauges[i][1], gauges[i][0]);

        for (w = ngx_evbus_shctx->workers;
             w < ngx_evbus_shctx->workers + NGX_EVBUS_STATS_WORKERS;
             w++)
        {
            if (w->pid == 0) {
                continue;
            }

            p = ngx_sprintf(p, "%s{worker=\"%ui\"} %uA\n", gauges[i][0],
                            (ngx_uint_t) (w - ngx_evbus_shctx->workers),
                            i == 0 ? w->queued
                            : i == 1 ? w->spooled
                            : i == 2 ? w->available : w->held);
        }
    }

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "text/plain; version=0.0.4");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
