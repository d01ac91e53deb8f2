
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_stats.h"
#include "ngx_evbus_priority.h"

#include <xxhash.h>


/*
 * Counters shared by all workers in a shared memory zone that survives
 * reloads, and per-worker gauges (queue, spool, availability, held
 * requests) refreshed by each worker's producer timer.  evbus_status shows
 * them in Prometheus' text format.
 */

#define NGX_EVBUS_STATS_WORKERS  256
#define NGX_EVBUS_STATS_TYPES    64
#define NGX_EVBUS_STATS_BUCKETS  16


#define NGX_EVBUS_STATS_NAME_LEN 256


/*
 * The counts of an event type (accepted, rejected) or of a topic
 * (produced, delivered, failed), in an open-addressing table found by
 * hash, at most "max" names; the rest share "other".
 */

typedef struct {
    ngx_atomic_t                hash;            /* 0: free */
    ngx_atomic_t                ready;           /* name written */
    ngx_atomic_t                n[3];
    size_t                      len;
    u_char                      name[NGX_EVBUS_STATS_NAME_LEN];
} ngx_evbus_stats_named_t;


typedef struct {
    ngx_atomic_t                max;
    ngx_atomic_t                count;
    ngx_uint_t                  capacity;        /* a power of 2 */
    ngx_evbus_stats_named_t     other;
    ngx_evbus_stats_named_t    *entries;
} ngx_evbus_stats_table_t;


typedef struct {
    ngx_atomic_t                buckets[NGX_EVBUS_STATS_BUCKETS];
    ngx_atomic_t                sum;
    ngx_atomic_t                count;
} ngx_evbus_stats_hist_t;


typedef struct {
    const char                 *name;
    const char                 *help;
    ngx_uint_t                  ms;              /* shown in seconds */
    ngx_uint_t                  bounds[NGX_EVBUS_STATS_BUCKETS];
} ngx_evbus_stats_hist_name_t;


/* the rejection reasons: the dead-letter kinds and the transport's */

static const char  *ngx_evbus_stats_reasons[] = {
    "depth", "duplicate_key", "event_id", "event_type", "event_version",
    "invalid_json", "invalid_utf8", "metadata", "not_object", "schema",
    "too_large", "topic", "unknown_type", "unknown_version", "not_queued",
    "delivery_failed", "timeout", "shed", "other"
};

#define NGX_EVBUS_STATS_REASONS                                               \
    (sizeof(ngx_evbus_stats_reasons) / sizeof(ngx_evbus_stats_reasons[0]))


typedef struct {
    ngx_atomic_t                pid;
    ngx_atomic_t                queued;
    ngx_atomic_t                spooled;
    ngx_atomic_t                available;
    ngx_atomic_t                held;
    ngx_atomic_t                queue_max;
    ngx_atomic_t                spool_max;
    ngx_atomic_t                rd_at;           /* 0: no statistics yet */
    ngx_evbus_rdstats_t         rd;
} ngx_evbus_stats_worker_t;


typedef struct {
    ngx_atomic_t                counters[NGX_EVBUS_STAT_N];
    ngx_evbus_stats_worker_t    workers[NGX_EVBUS_STATS_WORKERS];

    ngx_atomic_t                reasons[NGX_EVBUS_STATS_REASONS];
    ngx_atomic_t                shed[NGX_EVBUS_PRIORITY_N];
    ngx_evbus_stats_hist_t      hists[NGX_EVBUS_HIST_N];

    ngx_evbus_stats_table_t     types;
    ngx_evbus_stats_table_t     topics;
    ngx_evbus_stats_named_t     invalid;         /* no valid event_type */
} ngx_evbus_shctx_t;


/* what "evbus_status" writes to, Prometheus text or JSON */

typedef struct {
    ngx_http_request_t         *r;
    ngx_chain_t                *out;
    ngx_chain_t               **last;
    ngx_buf_t                  *b;
    ngx_uint_t                  json;
    ngx_uint_t                  families;
    ngx_uint_t                  samples;
    ngx_uint_t                  error;
} ngx_evbus_stats_writer_t;


typedef struct {
    const char                 *name;
    const char                 *label;
    const char                 *help;
} ngx_evbus_stat_name_t;


static ngx_int_t ngx_evbus_stats_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_evbus_stats_named_t *ngx_evbus_stats_find(
    ngx_evbus_stats_table_t *table, u_char *name, size_t len);
static u_char *ngx_evbus_stats_room(ngx_evbus_stats_writer_t *w,
    size_t size);
static void ngx_evbus_stats_family(ngx_evbus_stats_writer_t *w,
    const char *name, const char *type, const char *help);
static void ngx_evbus_stats_sample(ngx_evbus_stats_writer_t *w,
    const char *name, const char *suffix, u_char *labels, size_t len);
static void ngx_evbus_stats_uint(ngx_evbus_stats_writer_t *w,
    const char *name, const char *fmt, ...);
static void ngx_evbus_stats_end(ngx_evbus_stats_writer_t *w);
static void ngx_evbus_stats_write_table(ngx_evbus_stats_writer_t *w,
    ngx_evbus_stats_table_t *table, const char *name, const char *label,
    const char *help, const char **results, ngx_uint_t nresults);
static void ngx_evbus_stats_write_hists(ngx_evbus_stats_writer_t *w);
static void ngx_evbus_stats_write_rdkafka(ngx_evbus_stats_writer_t *w);


ngx_uint_t  ngx_evbus_held;

static ngx_uint_t  ngx_evbus_stats_local[NGX_EVBUS_STAT_N];

static ngx_evbus_shctx_t  *ngx_evbus_shctx;

static ngx_str_t  ngx_evbus_stats_zone_name = ngx_string("evbus_stats");


static ngx_evbus_stats_hist_name_t  ngx_evbus_stats_hists[] = {
    { "evbus_request_events",
      "Events per request.", 0,
      { 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 0 } },
    { "evbus_request_body_bytes",
      "Request body bytes.", 0,
      { 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 0 } },
    { "evbus_delivery_seconds",
      "From the produce call to Kafka's delivery report.", 1,
      { 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
        30000, 0 } },
    { "evbus_held_seconds",
      "Responses held for delivery reports (evbus_ack kafka).", 1,
      { 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
        30000, 0 } },
};


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


/* evbus_stats_zone name size [max_types=number] | off; */

char *
ngx_http_evbus_stats_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ssize_t                   size;
    ngx_int_t                 n;
    ngx_str_t                *value;
    ngx_uint_t                i;
    ngx_evbus_stats_conf_t  **zp, *z;

    zp = (ngx_evbus_stats_conf_t **) (p + cmd->offset);

    if (*zp != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    z = ngx_pcalloc(cf->pool, sizeof(ngx_evbus_stats_conf_t));
    if (z == NULL) {
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 2) {
        if (value[1].len != 3 || ngx_strncmp(value[1].data, "off", 3) != 0) {
            return "takes \"off\" or a name and a size";
        }

        z->off = 1;
        *zp = z;

        return NGX_CONF_OK;
    }

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    z->name = value[1];

    size = ngx_parse_size(&value[2]);

    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    z->size = size;
    z->max_types = NGX_EVBUS_STATS_TYPES;

    for (i = 3; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "max_types=", 10) == 0) {
            n = ngx_atoi(value[i].data + 10, value[i].len - 10);
            if (n == NGX_ERROR || n < 1 || n > 65536) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid max_types \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            z->max_types = n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    *zp = z;

    return NGX_CONF_OK;
}


static ngx_uint_t
ngx_evbus_stats_capacity(ngx_uint_t max_types)
{
    ngx_uint_t  cap;

    for (cap = 4; cap < 2 * max_types; cap <<= 1) { /* void */ }

    return cap;
}


static size_t
ngx_evbus_stats_need(ngx_uint_t max_types)
{
    return sizeof(ngx_evbus_shctx_t)
           + 2 * ngx_evbus_stats_capacity(max_types)
             * sizeof(ngx_evbus_stats_named_t)
           + 8 * ngx_pagesize;
}


ngx_int_t
ngx_evbus_stats_conf(ngx_conf_t *cf, void *tag, ngx_evbus_stats_conf_t *zone)
{
    ngx_shm_zone_t          *shm_zone;
    ngx_evbus_stats_conf_t  *z;

    z = zone;

    if (z && z->off) {
        return NGX_OK;
    }

    if (z == NULL) {
        z = ngx_pcalloc(cf->pool, sizeof(ngx_evbus_stats_conf_t));
        if (z == NULL) {
            return NGX_ERROR;
        }

        z->name = ngx_evbus_stats_zone_name;
        z->max_types = NGX_EVBUS_STATS_TYPES;
        z->size = ngx_evbus_stats_need(z->max_types) + 8 * ngx_pagesize;

    } else if (z->size < ngx_evbus_stats_need(z->max_types)) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"evbus_stats_zone\" \"%V\" is too small for"
                      " max_types=%ui: at least %uzk are needed",
                      &z->name, z->max_types,
                      ngx_evbus_stats_need(z->max_types) / 1024 + 1);
        return NGX_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &z->name, z->size, tag);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_evbus_stats_init_zone;
    shm_zone->data = z;

    return NGX_OK;
}


static ngx_int_t
ngx_evbus_stats_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_uint_t               max;
    ngx_slab_pool_t         *shpool;
    ngx_evbus_shctx_t       *shctx;
    ngx_evbus_stats_conf_t  *z;

    z = shm_zone->data;
    max = z->max_types;

    if (data) {
        shctx = data;

    } else {
        shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

        if (shm_zone->shm.exists) {
            shctx = shpool->data;

        } else {
            shctx = ngx_slab_calloc(shpool, sizeof(ngx_evbus_shctx_t));
            if (shctx == NULL) {
                return NGX_ERROR;
            }

            shctx->types.capacity = ngx_evbus_stats_capacity(max);
            shctx->types.entries = ngx_slab_calloc(shpool,
                                        shctx->types.capacity
                                        * sizeof(ngx_evbus_stats_named_t));
            shctx->topics.capacity = shctx->types.capacity;
            shctx->topics.entries = ngx_slab_calloc(shpool,
                                        shctx->topics.capacity
                                        * sizeof(ngx_evbus_stats_named_t));

            if (shctx->types.entries == NULL
                || shctx->topics.entries == NULL)
            {
                return NGX_ERROR;
            }

            shpool->data = shctx;
        }
    }

    /* a reused zone keeps its table: a larger max_types is capped by it */

    shctx->types.max = ngx_min(max, shctx->types.capacity / 2);
    shctx->topics.max = shctx->types.max;

    shm_zone->data = shctx;
    ngx_evbus_shctx = shctx;

    return NGX_OK;
}


/*
 * The zone of this cycle, or none: the pointer the master set at zone
 * init may be a freed zone's after a reload to "evbus_stats_zone off".
 */

void
ngx_evbus_stats_init_process(ngx_cycle_t *cycle, void *tag)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *zone;

    ngx_evbus_shctx = NULL;

    part = &cycle->shared_memory.part;
    zone = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            zone = part->elts;
            i = 0;
        }

        if (zone[i].tag == tag && zone[i].init == ngx_evbus_stats_init_zone) {
            ngx_evbus_shctx = zone[i].data;
            return;
        }
    }
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


static ngx_evbus_stats_named_t *
ngx_evbus_stats_find(ngx_evbus_stats_table_t *table, u_char *name,
    size_t len)
{
    ngx_uint_t                i, n, mask;
    ngx_atomic_uint_t         h;
    ngx_evbus_stats_named_t  *t;

    if (len > NGX_EVBUS_STATS_NAME_LEN) {
        return &table->other;
    }

    h = (ngx_atomic_uint_t) XXH3_64bits(name, len) | 1;
    mask = table->capacity - 1;

    for (i = h & mask, n = 0; n < table->capacity; i = (i + 1) & mask, n++) {
        t = &table->entries[i];

        if (t->hash == h) {
            return t;
        }

        if (t->hash != 0) {
            continue;
        }

        if (table->count >= table->max) {
            return &table->other;
        }

        if (ngx_atomic_fetch_add(&table->count, 1) >= table->max) {
            (void) ngx_atomic_fetch_add(&table->count, -1);
            return &table->other;
        }

        if (ngx_atomic_cmp_set(&t->hash, 0, h)) {
            ngx_memcpy(t->name, name, len);
            t->len = len;
            ngx_memory_barrier();
            t->ready = 1;
            return t;
        }

        /* another worker took the slot first */

        (void) ngx_atomic_fetch_add(&table->count, -1);

        if (t->hash == h) {
            return t;
        }
    }

    return &table->other;
}


/* 0: produced, 1: delivered, 2: failed */

void
ngx_evbus_stats_topic(ngx_str_t *topic, ngx_uint_t result)
{
    ngx_evbus_stats_named_t  *t;

    if (ngx_evbus_shctx == NULL) {
        return;
    }

    t = ngx_evbus_stats_find(&ngx_evbus_shctx->topics, topic->data,
                             topic->len);

    (void) ngx_atomic_fetch_add(&t->n[result], 1);
}


/*
 * Per type and per reason, once per request when its answer is known;
 * a run of events of one type costs one lookup and two atomic adds.
 */

void
ngx_evbus_stats_events(ngx_evbus_event_t *events, size_t n)
{
    size_t                   i, j;
    ngx_uint_t               accepted, rejected, shed;
    const char              *kind;
    ngx_evbus_event_t       *ev, *prev;
    ngx_evbus_stats_named_t  *t;

    if (ngx_evbus_shctx == NULL) {
        return;
    }

    t = NULL;
    prev = NULL;
    accepted = 0;
    rejected = 0;
    shed = 0;

    for (i = 0; i < n; i++) {
        ev = &events[i];

        if (prev == NULL
            || ev->event_type_len != prev->event_type_len
            || (ev->event_type_len
                && ngx_memcmp(ev->event_type, prev->event_type,
                              ev->event_type_len) != 0))
        {
            if (t) {
                (void) ngx_atomic_fetch_add(&t->n[0], accepted);
                (void) ngx_atomic_fetch_add(&t->n[1], rejected);
                (void) ngx_atomic_fetch_add(&t->n[2], shed);
            }

            t = (ev->event_type_len
                 && ngx_evbus_type_valid(ev->event_type, ev->event_type_len))
                ? ngx_evbus_stats_find(&ngx_evbus_shctx->types,
                                       ev->event_type, ev->event_type_len)
                : &ngx_evbus_shctx->invalid;
            accepted = 0;
            rejected = 0;
            shed = 0;
        }

        prev = ev;

        if (ev->error == NULL) {
            accepted++;
            continue;
        }

        kind = ev->error_kind ? ev->error_kind : "other";

        if (ngx_strcmp(kind, "shed") == 0) {
            shed++;

        } else {
            rejected++;
        }

        for (j = 0; j < NGX_EVBUS_STATS_REASONS - 1; j++) {
            if (ngx_strcmp(ngx_evbus_stats_reasons[j], kind) == 0) {
                break;
            }
        }

        (void) ngx_atomic_fetch_add(&ngx_evbus_shctx->reasons[j], 1);
    }

    if (t) {
        (void) ngx_atomic_fetch_add(&t->n[0], accepted);
        (void) ngx_atomic_fetch_add(&t->n[1], rejected);
        (void) ngx_atomic_fetch_add(&t->n[2], shed);
    }
}


void
ngx_evbus_stats_shed(ngx_uint_t priority)
{
    if (ngx_evbus_shctx == NULL || priority >= NGX_EVBUS_PRIORITY_N) {
        return;
    }

    (void) ngx_atomic_fetch_add(&ngx_evbus_shctx->shed[priority], 1);
}


void
ngx_evbus_stats_observe(ngx_evbus_hist_e hist, ngx_uint_t value)
{
    ngx_uint_t               i;
    ngx_uint_t              *bounds;
    ngx_evbus_stats_hist_t  *h;

    if (ngx_evbus_shctx == NULL) {
        return;
    }

    h = &ngx_evbus_shctx->hists[hist];
    bounds = ngx_evbus_stats_hists[hist].bounds;

    for (i = 0; bounds[i] && value > bounds[i]; i++) { /* void */ }

    (void) ngx_atomic_fetch_add(&h->buckets[i], 1);
    (void) ngx_atomic_fetch_add(&h->sum, value);
    (void) ngx_atomic_fetch_add(&h->count, 1);
}


void
ngx_evbus_stats_limits(ngx_uint_t queue_max, off_t spool_max)
{
    ngx_evbus_stats_worker_t  *w;

    if (ngx_evbus_shctx == NULL || ngx_worker >= NGX_EVBUS_STATS_WORKERS) {
        return;
    }

    w = &ngx_evbus_shctx->workers[ngx_worker];

    w->queue_max = queue_max;
    w->spool_max = spool_max;
}


void
ngx_evbus_stats_rdkafka(ngx_evbus_rdstats_t *st)
{
    ngx_evbus_stats_worker_t  *w;

    if (ngx_evbus_shctx == NULL || ngx_worker >= NGX_EVBUS_STATS_WORKERS) {
        return;
    }

    w = &ngx_evbus_shctx->workers[ngx_worker];

    ngx_memcpy(&w->rd, st, sizeof(ngx_evbus_rdstats_t));
    w->rd_at = ngx_time();
}


/*
 * NULL when this nginx can deliver: every worker's producer takes
 * messages and, once librdkafka's statistics came, has a broker up, its
 * queue is below half and its spool not full; else the reason.
 */

const char *
ngx_evbus_stats_health(void)
{
    ngx_uint_t                 i, up, live;
    ngx_evbus_stats_worker_t  *w;

    if (ngx_evbus_shctx == NULL) {
        return "no statistics zone";
    }

    live = 0;

    for (w = ngx_evbus_shctx->workers;
         w < ngx_evbus_shctx->workers + NGX_EVBUS_STATS_WORKERS;
         w++)
    {
        if (w->pid == 0) {
            continue;
        }

        live++;

        if (!w->available) {
            return "Kafka does not take messages";
        }

        if (w->rd_at) {
            up = 0;

            for (i = 0; i < w->rd.nbrokers && i < NGX_EVBUS_RDSTATS_BROKERS;
                 i++)
            {
                up += w->rd.brokers[i].up;
            }

            if (up == 0) {
                return "no Kafka broker connected";
            }
        }

        if (w->queue_max && w->queued >= w->queue_max / 2) {
            return "the Kafka queue is half full";
        }

        if (w->spool_max && w->spooled >= w->spool_max) {
            return "the spool is full";
        }
    }

    if (live == 0) {
        return "no worker has reported yet";
    }

    return NULL;
}


ngx_int_t
ngx_http_evbus_status_handler(ngx_http_request_t *r)
{
    u_char                    *p, labels[64];
    ngx_int_t                  rc;
    ngx_str_t                  format;
    ngx_uint_t                 i, last;
    ngx_chain_t               *cl;
    ngx_evbus_stat_name_t     *s;
    ngx_evbus_stats_writer_t   w;
    ngx_evbus_stats_worker_t  *wk;

    static const char  *outcomes[] = { "outcome=\"accepted\"",
                                       "outcome=\"rejected\"",
                                       "outcome=\"shed\"" };
    static const char  *results[] = { "result=\"produced\"",
                                      "result=\"delivered\"",
                                      "result=\"failed\"" };

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

    ngx_memzero(&w, sizeof(ngx_evbus_stats_writer_t));

    w.r = r;
    w.last = &w.out;

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK
        && format.len == 4 && ngx_strncmp(format.data, "json", 4) == 0)
    {
        w.json = 1;
        p = ngx_evbus_stats_room(&w, 1);
        if (p) {
            *p++ = '{';
            w.b->last = p;
        }
    }

    last = (ngx_uint_t) -1;

    for (i = 0; i < NGX_EVBUS_STAT_N; i++) {
        s = &ngx_evbus_stat_names[i];

        if (i == NGX_EVBUS_STAT_ACCEPTED) {
            if (last != (ngx_uint_t) -1) {
                ngx_evbus_stats_end(&w);
            }

            ngx_evbus_stats_write_table(&w, &ngx_evbus_shctx->types,
                                        "evbus_events_total", "event_type",
                                        "Events by type and by outcome of"
                                        " the request that carried them.",
                                        outcomes, 3);
            last = (ngx_uint_t) -1;
            continue;
        }

        if (i == NGX_EVBUS_STAT_REJECTED) {
            continue;
        }

        if (s->help) {
            if (last != (ngx_uint_t) -1) {
                ngx_evbus_stats_end(&w);
            }

            ngx_evbus_stats_family(&w, s->name, "counter", s->help);
            last = i;
        }

        if (s->label) {
            ngx_evbus_stats_sample(&w, s->name, "", (u_char *) s->label,
                                   ngx_strlen(s->label));
        }

        ngx_evbus_stats_uint(&w, s->label ? NULL : s->name, "%uA",
                             ngx_evbus_shctx->counters[i]);
    }

    ngx_evbus_stats_end(&w);

    ngx_evbus_stats_family(&w, "evbus_rejections_total", "counter",
                           "Rejected events by reason.");

    for (i = 0; i < NGX_EVBUS_STATS_REASONS; i++) {
        p = ngx_sprintf(labels, "reason=\"%s\"", ngx_evbus_stats_reasons[i]);
        ngx_evbus_stats_sample(&w, "evbus_rejections_total", "", labels,
                               p - labels);
        ngx_evbus_stats_uint(&w, NULL, "%uA", ngx_evbus_shctx->reasons[i]);
    }

    ngx_evbus_stats_end(&w);

    ngx_evbus_stats_family(&w, "evbus_events_shed_total", "counter",
                           "Events shed under overload by priority"
                           " (evbus_priority, evbus_shed).");

    for (i = 0; i < NGX_EVBUS_PRIORITY_N; i++) {
        p = ngx_sprintf(labels, "priority=\"%s\"",
                        ngx_evbus_priority_name(i));
        ngx_evbus_stats_sample(&w, "evbus_events_shed_total", "", labels,
                               p - labels);
        ngx_evbus_stats_uint(&w, NULL, "%uA", ngx_evbus_shctx->shed[i]);
    }

    ngx_evbus_stats_end(&w);

    ngx_evbus_stats_write_table(&w, &ngx_evbus_shctx->topics,
                                "evbus_topic_messages_total", "topic",
                                "Messages given to librdkafka per topic,"
                                " and their delivery reports.", results, 3);

    ngx_evbus_stats_write_hists(&w);

    for (i = 0; i < 4; i++) {
        ngx_evbus_stats_family(&w, gauges[i][0], "gauge", gauges[i][1]);

        for (wk = ngx_evbus_shctx->workers;
             wk < ngx_evbus_shctx->workers + NGX_EVBUS_STATS_WORKERS;
             wk++)
        {
            if (wk->pid == 0) {
                continue;
            }

            p = ngx_sprintf(labels, "worker=\"%ui\"",
                            (ngx_uint_t) (wk - ngx_evbus_shctx->workers));
            ngx_evbus_stats_sample(&w, gauges[i][0], "", labels,
                                   p - labels);
            ngx_evbus_stats_uint(&w, NULL, "%uA",
                                 i == 0 ? wk->queued
                                 : i == 1 ? wk->spooled
                                 : i == 2 ? wk->available : wk->held);
        }

        ngx_evbus_stats_end(&w);
    }

    ngx_evbus_stats_write_rdkafka(&w);

    if (w.json) {
        p = ngx_evbus_stats_room(&w, 2);
        if (p) {
            *p++ = '}';
            *p++ = '\n';
            w.b->last = p;
        }
    }

    if (w.error || w.out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = 0;

    for (cl = w.out; cl; cl = cl->next) {
        r->headers_out.content_length_n += cl->buf->last - cl->buf->pos;
    }

    w.b->last_buf = (r == r->main) ? 1 : 0;
    w.b->last_in_chain = 1;

    if (w.json) {
        ngx_str_set(&r->headers_out.content_type, "application/json");

    } else {
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, w.out);
}


static void
ngx_evbus_stats_write_table(ngx_evbus_stats_writer_t *w,
    ngx_evbus_stats_table_t *table, const char *name, const char *label,
    const char *help, const char **results, ngx_uint_t nresults)
{
    u_char                   *p, labels[NGX_EVBUS_STATS_NAME_LEN + 128];
    ngx_uint_t                i, o, cap;
    ngx_evbus_stats_named_t  *t;

    ngx_evbus_stats_family(w, name, "counter", help);

    cap = table->capacity;

    for (o = 0; o < nresults; o++) {
        for (i = 0; i < cap + 2; i++) {
            if (i < cap) {
                t = &table->entries[i];

                if (!t->ready) {
                    continue;
                }

                p = ngx_sprintf(labels, "%s=\"%*s\",%s", label, t->len,
                                t->name, results[o]);

            } else if (i == cap) {
                t = &table->other;
                p = ngx_sprintf(labels, "%s=\"other\",%s", label,
                                results[o]);

            } else if (table == &ngx_evbus_shctx->types) {
                t = &ngx_evbus_shctx->invalid;
                p = ngx_sprintf(labels, "%s=\"invalid\",%s", label,
                                results[o]);

            } else {
                continue;
            }

            ngx_evbus_stats_sample(w, name, "", labels, p - labels);
            ngx_evbus_stats_uint(w, NULL, "%uA", t->n[o]);
        }
    }

    ngx_evbus_stats_end(w);
}


static void
ngx_evbus_stats_write_hists(ngx_evbus_stats_writer_t *w)
{
    u_char                       *p, labels[64];
    ngx_uint_t                    i, j, cum;
    ngx_evbus_stats_hist_t       *h;
    ngx_evbus_stats_hist_name_t  *hn;

    for (i = 0; i < NGX_EVBUS_HIST_N; i++) {
        hn = &ngx_evbus_stats_hists[i];
        h = &ngx_evbus_shctx->hists[i];

        ngx_evbus_stats_family(w, hn->name, "histogram", hn->help);

        cum = 0;

        for (j = 0; ; j++) {
            cum += h->buckets[j];

            if (hn->bounds[j] == 0) {
                p = ngx_sprintf(labels, "le=\"+Inf\"");

            } else if (hn->ms) {
                p = ngx_sprintf(labels, "le=\"%ui.%03ui\"",
                                hn->bounds[j] / 1000, hn->bounds[j] % 1000);

            } else {
                p = ngx_sprintf(labels, "le=\"%ui\"", hn->bounds[j]);
            }

            ngx_evbus_stats_sample(w, hn->name, "_bucket", labels,
                                   p - labels);
            ngx_evbus_stats_uint(w, NULL, "%ui", cum);

            if (hn->bounds[j] == 0) {
                break;
            }
        }

        ngx_evbus_stats_sample(w, hn->name, "_sum", NULL, 0);

        if (hn->ms) {
            ngx_evbus_stats_uint(w, NULL, "%uA.%03uA", h->sum / 1000,
                                 h->sum % 1000);

        } else {
            ngx_evbus_stats_uint(w, NULL, "%uA", h->sum);
        }

        ngx_evbus_stats_sample(w, hn->name, "_count", NULL, 0);
        ngx_evbus_stats_uint(w, NULL, "%uA", h->count);

        ngx_evbus_stats_end(w);
    }
}


/* librdkafka's statistics, per worker and broker */

static void
ngx_evbus_stats_write_rdkafka(ngx_evbus_stats_writer_t *w)
{
    u_char                      *p, *n, labels[2 * NGX_EVBUS_RDSTATS_NAME_LEN
                                               + 64];
    uint64_t                     v;
    ngx_uint_t                   i, j, worker;
    ngx_evbus_stats_worker_t    *wk;
    ngx_evbus_rdstats_broker_t  *b;

    static const char  *brokers[][3] = {
        { "evbus_rdkafka_broker_up", "gauge",
          "1 when librdkafka's connection to the broker is up." },
        { "evbus_rdkafka_broker_rtt_seconds", "gauge",
          "Broker round-trip time in librdkafka's window: avg and p99." },
        { "evbus_rdkafka_broker_outstanding_requests", "gauge",
          "Requests waiting to be sent or for their response." },
        { "evbus_rdkafka_broker_requests_total", "counter",
          "Requests sent to the broker." },
        { "evbus_rdkafka_broker_errors_total", "counter",
          "Transmit errors." },
        { "evbus_rdkafka_broker_retries_total", "counter",
          "Requests retried." },
        { "evbus_rdkafka_broker_sent_bytes_total", "counter",
          "Bytes sent to the broker (compressed)." },
    };

    static const char  *worker_gauges[][3] = {
        { "evbus_rdkafka_batch_bytes", "gauge",
          "Average batch size in bytes (librdkafka's window)." },
        { "evbus_rdkafka_batch_messages", "gauge",
          "Average messages per batch (librdkafka's window)." },
        { "evbus_rdkafka_message_bytes_total", "counter",
          "Message bytes sent, before compression; divided by"
          " evbus_rdkafka_broker_sent_bytes_total: the compression ratio." },
    };

    for (i = 0; i < sizeof(brokers) / sizeof(brokers[0]); i++) {
        ngx_evbus_stats_family(w, brokers[i][0], brokers[i][1],
                               brokers[i][2]);

        for (wk = ngx_evbus_shctx->workers;
             wk < ngx_evbus_shctx->workers + NGX_EVBUS_STATS_WORKERS;
             wk++)
        {
            if (wk->pid == 0 || wk->rd_at == 0) {
                continue;
            }

            worker = wk - ngx_evbus_shctx->workers;

            for (j = 0; j < wk->rd.nbrokers && j < NGX_EVBUS_RDSTATS_BROKERS;
                 j++)
            {
                b = &wk->rd.brokers[j];

                p = ngx_sprintf(labels, "worker=\"%ui\",broker=\"", worker);

                for (n = b->name;
                     n < b->name + NGX_EVBUS_RDSTATS_NAME_LEN && *n;
                     n++)
                {
                    if (*n == '"' || *n == '\\') {
                        *p++ = '\\';
                    }

                    *p++ = (*n < 0x20) ? '_' : *n;
                }

                *p++ = '"';

                switch (i) {
                case 0:
                    v = b->up;
                    break;
                case 1:
                    v = b->rtt_avg;
                    break;
                case 2:
                    v = b->outstanding;
                    break;
                case 3:
                    v = b->tx;
                    break;
                case 4:
                    v = b->txerrs;
                    break;
                case 5:
                    v = b->txretries;
                    break;
                default:
                    v = b->txbytes;
                }

                if (i == 1) {
                    n = ngx_cpymem(p, ",stat=\"avg\"", 11);
                    ngx_evbus_stats_sample(w, brokers[i][0], "", labels,
                                           n - labels);
                    ngx_evbus_stats_uint(w, NULL, "%uL.%06uL", v / 1000000,
                                         v % 1000000);

                    v = b->rtt_p99;
                    n = ngx_cpymem(p, ",stat=\"p99\"", 11);
                    ngx_evbus_stats_sample(w, brokers[i][0], "", labels,
                                           n - labels);
                    ngx_evbus_stats_uint(w, NULL, "%uL.%06uL", v / 1000000,
                                         v % 1000000);
                    continue;
                }

                ngx_evbus_stats_sample(w, brokers[i][0], "", labels,
                                       p - labels);
                ngx_evbus_stats_uint(w, NULL, "%uL", v);
            }
        }

        ngx_evbus_stats_end(w);
    }

    for (i = 0; i < sizeof(worker_gauges) / sizeof(worker_gauges[0]); i++) {
        ngx_evbus_stats_family(w, worker_gauges[i][0], worker_gauges[i][1],
                               worker_gauges[i][2]);

        for (wk = ngx_evbus_shctx->workers;
             wk < ngx_evbus_shctx->workers + NGX_EVBUS_STATS_WORKERS;
             wk++)
        {
            if (wk->pid == 0 || wk->rd_at == 0) {
                continue;
            }

            p = ngx_sprintf(labels, "worker=\"%ui\"",
                            (ngx_uint_t) (wk - ngx_evbus_shctx->workers));
            ngx_evbus_stats_sample(w, worker_gauges[i][0], "", labels,
                                   p - labels);
            ngx_evbus_stats_uint(w, NULL, "%uL",
                                 i == 0 ? wk->rd.batch_bytes
                                 : i == 1 ? wk->rd.batch_msgs
                                 : wk->rd.txmsg_bytes);
        }

        ngx_evbus_stats_end(w);
    }
}


/* room for "size" more bytes in the current buffer, or in a new one */

static u_char *
ngx_evbus_stats_room(ngx_evbus_stats_writer_t *w, size_t size)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (w->error) {
        return NULL;
    }

    if (w->b && (size_t) (w->b->end - w->b->last) >= size) {
        return w->b->last;
    }

    b = ngx_create_temp_buf(w->r->pool, ngx_max(size, 16384));
    cl = ngx_alloc_chain_link(w->r->pool);

    if (b == NULL || cl == NULL) {
        w->error = 1;
        return NULL;
    }

    cl->buf = b;
    cl->next = NULL;
    *w->last = cl;
    w->last = &cl->next;
    w->b = b;

    return b->last;
}


static void
ngx_evbus_stats_family(ngx_evbus_stats_writer_t *w, const char *name,
    const char *type, const char *help)
{
    u_char  *p;
    size_t   len;

    len = 2 * ngx_strlen(name) + ngx_strlen(type) + ngx_strlen(help) + 64;

    p = ngx_evbus_stats_room(w, len);
    if (p == NULL) {
        return;
    }

    if (w->json) {
        p = ngx_sprintf(p, "%s\"%s\":{\"type\":\"%s\",\"help\":\"%s\","
                        "\"samples\":[", w->families ? "," : "",
                        name, type, help);

    } else {
        p = ngx_sprintf(p, "# HELP %s %s\n# TYPE %s %s\n",
                        name, help, name, type);
    }

    w->b->last = p;
    w->families++;
    w->samples = 0;
}


/*
 * A sample's name and labels; its value follows with
 * ngx_evbus_stats_uint().  Label values are ours or escaped the way
 * Prometheus and JSON both read them.
 */

static void
ngx_evbus_stats_sample(ngx_evbus_stats_writer_t *w, const char *name,
    const char *suffix, u_char *labels, size_t len)
{
    u_char  *p, *l, *last;

    p = ngx_evbus_stats_room(w, 2 * len + ngx_strlen(name)
                                + ngx_strlen(suffix) + 64);
    if (p == NULL) {
        return;
    }

    if (!w->json) {
        p = ngx_sprintf(p, "%s%s", name, suffix);

        if (len) {
            *p++ = '{';
            p = ngx_cpymem(p, labels, len);
            *p++ = '}';
        }

        *p++ = ' ';
        w->b->last = p;
        return;
    }

    p = ngx_sprintf(p, "%s{\"name\":\"%s%s\",\"labels\":{",
                    w->samples ? "," : "", name, suffix);

    /* a="b",c="d" -> "a":"b","c":"d" */

    l = labels;
    last = labels + len;

    while (l < last) {
        *p++ = '"';

        while (l < last && *l != '=') {
            *p++ = *l++;
        }

        *p++ = '"';
        *p++ = ':';
        l++;

        if (l < last) {
            *p++ = *l++;                        /* the opening quote */
        }

        while (l < last && *l != '"') {
            if (*l == '\\' && l + 1 < last) {
                *p++ = *l++;
            }

            *p++ = *l++;
        }

        if (l < last) {
            *p++ = *l++;                        /* the closing quote */
        }

        if (l < last && *l == ',') {
            *p++ = *l++;
        }
    }

    p = ngx_cpymem(p, "},\"value\":", 10);

    w->b->last = p;
    w->samples++;
}


static void
ngx_evbus_stats_uint(ngx_evbus_stats_writer_t *w, const char *name,
    const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    if (name) {
        ngx_evbus_stats_sample(w, name, "", NULL, 0);
    }

    p = ngx_evbus_stats_room(w, NGX_INT64_LEN * 2 + 8);
    if (p == NULL) {
        return;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(p, w->b->end, fmt, args);
    va_end(args);

    if (w->json) {
        *p++ = '}';

    } else {
        *p++ = '\n';
    }

    w->b->last = p;
}


static void
ngx_evbus_stats_end(ngx_evbus_stats_writer_t *w)
{
    u_char  *p;

    if (!w->json) {
        return;
    }

    p = ngx_evbus_stats_room(w, 4);
    if (p == NULL) {
        return;
    }

    *p++ = ']';
    *p++ = '}';
    w->b->last = p;
}
