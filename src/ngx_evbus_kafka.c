
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <sys/eventfd.h>
#include <librdkafka/rdkafka.h>

#include "ngx_evbus_kafka.h"
#include "ngx_evbus_event.h"
#include "ngx_evbus_partition.h"
#include "ngx_evbus_avail.h"
#include "ngx_evbus_footprint.h"


#define NGX_EVBUS_POLL_INTERVAL   250
#define NGX_EVBUS_POLL_MAX        1024
#define NGX_EVBUS_TOPIC_LEN_MAX   249
#define NGX_EVBUS_MSG_SLAB        256
#define NGX_EVBUS_KAFKA_HEADERS   7


/* a Kafka header of a message being produced */
typedef struct {
    ngx_str_t                   name;
    ngx_str_t                  *value;
} ngx_evbus_kafka_hdr_t;

#define ngx_evbus_kafka_hdr(hdr, n, nm, v)                                    \
    ngx_str_set(&(hdr)[n].name, nm);                                          \
    (hdr)[(n)++].value = &(v)


typedef struct ngx_evbus_kafka_rec_s  ngx_evbus_kafka_rec_t;

struct ngx_evbus_kafka_rec_s {
    ngx_evbus_kafka_rec_t      *next;
    void                       *data;
    ngx_uint_t                  index;
    ngx_msec_t                  sent;
    ngx_str_t                   dead_letter;
    size_t                      size;         /* counted in "bytes" */
    size_t                      type_len;
    u_char                      type[NGX_EVBUS_EVENT_TYPE_MAX];
};


typedef struct ngx_evbus_kafka_slab_s  ngx_evbus_kafka_slab_t;

struct ngx_evbus_kafka_slab_s {
    ngx_evbus_kafka_slab_t     *next;
    ngx_evbus_kafka_rec_t       msgs[NGX_EVBUS_MSG_SLAB];
};


/*
 * A topic handle lives as long as the producer: librdkafka keeps every
 * topic object (and its metadata) until rd_kafka_destroy() whatever the
 * application does with its handle, so evicting handles would not bound
 * memory.  What bounds it is evbus_max_topics, checked before a computed
 * name gets a handle.
 */

typedef struct {
    ngx_str_node_t              sn;
    ngx_queue_t                 queue;
    rd_kafka_topic_t           *rkt;
} ngx_evbus_kafka_topic_t;


typedef struct {
    rd_kafka_t                 *rk;
    rd_kafka_queue_t           *main_queue;
    ngx_connection_t           *wake;
    ngx_event_t                 timer;
    ngx_log_t                  *log;

    ngx_rbtree_t                topics;
    ngx_rbtree_node_t           sentinel;
    ngx_queue_t                 all;
    ngx_evbus_kafka_topic_t    *last;              /* the last one looked up */
    ngx_uint_t                  computed;          /* topics not configured */
    u_char                      topics_err[96];

    ngx_evbus_kafka_rec_t      *free;
    ngx_evbus_kafka_slab_t     *slabs;

    ngx_evbus_kafka_conf_t     *conf;
    ngx_msec_t                  busy_since;
    ngx_uint_t                  max_messages;
    size_t                      max_bytes;
    size_t                      bytes;            /* queued, real size */
    ngx_uint_t                  messages;         /* queued messages */
    ngx_uint_t                  delivered;
    ngx_uint_t                  delivered_last;
    double                      rate;             /* deliveries per second */
    ngx_msec_t                  rate_at;

    time_t                      error_logged;
    ngx_uint_t                  error_suppressed;

    unsigned                    exiting:1;
} ngx_evbus_kafka_t;


static void ngx_evbus_kafka_conf_cleanup(void *data);
static ngx_int_t ngx_evbus_kafka_set(rd_kafka_conf_t *conf, char *name,
    char *value, ngx_log_t *log);
static void ngx_evbus_kafka_wake_handler(ngx_event_t *ev);
static void ngx_evbus_kafka_timer_handler(ngx_event_t *ev);
static void ngx_evbus_kafka_poll(void);
static void ngx_evbus_kafka_track(void);
static void ngx_evbus_kafka_probe(void);
static ngx_int_t ngx_evbus_kafka_unavailable(void);
static ngx_str_t ngx_evbus_kafka_header(rd_kafka_headers_t *hdrs,
    const char *name);
static void ngx_evbus_kafka_dr(rd_kafka_t *rk, const rd_kafka_message_t *m,
    void *opaque);
static void ngx_evbus_kafka_error(rd_kafka_t *rk, int err,
    const char *reason, void *opaque);
static int ngx_evbus_kafka_stats(rd_kafka_t *rk, char *json, size_t len,
    void *opaque);
static void ngx_evbus_kafka_logger(const rd_kafka_t *rk, int level,
    const char *fac, const char *buf);
static void ngx_evbus_kafka_quiet(const rd_kafka_t *rk, int level,
    const char *fac, const char *buf);
static int32_t ngx_evbus_kafka_partitioner(const rd_kafka_topic_t *rkt,
    const void *key, size_t keylen, int32_t partition_cnt, void *rkt_opaque,
    void *msg_opaque);
static ngx_int_t ngx_evbus_kafka_wake_init(ngx_cycle_t *cycle);
static rd_kafka_topic_t *ngx_evbus_kafka_topic(ngx_str_t *name,
    ngx_uint_t computed, const char **err);
static void ngx_evbus_kafka_topics_free(void);
static ngx_evbus_kafka_rec_t *ngx_evbus_kafka_rec_alloc(void);
static void ngx_evbus_kafka_rec_free(ngx_evbus_kafka_rec_t *msg);
static u_char *ngx_evbus_kafka_settings(rd_kafka_conf_t *conf, u_char *p,
    u_char *last);

static ngx_evbus_kafka_t  ngx_evbus_kafka;


/* the settings the "producer started" line shows, as librdkafka took them */
static char  *ngx_evbus_kafka_shown[] = {
    "acks",
    "linger.ms",
    "compression.type",
    "statistics.interval.ms",
    "queue.buffering.max.messages",
    "queue.buffering.max.kbytes",
    "enable.idempotence",
    NULL
};


/*
 * Producer defaults chosen for an edge tier with one producer per worker;
 * every one can be overridden with evbus_kafka_property.
 */
static char  *ngx_evbus_kafka_defaults[][2] = {
    { "client.id", "ngx_evbus" },
    /* librdkafka's 300 s keeps events in memory too long when Kafka is down */
    { "message.timeout.ms", "120000" },
    /* per worker: librdkafka's 1 GiB default times workers is too much */
    { "queue.buffering.max.kbytes", "65536" },
    { "queue.buffering.max.messages", "100000" },
    { "linger.ms", "5" },
    { "acks", "all" },
    /* snappy: lz4's frame set-up costs ~80,000 instructions a batch */
    { "compression.type", "snappy" },
    { "socket.keepalive.enable", "true" },
    /*
     * per-broker state, RTT and batches for evbus_status and evbus_health;
     * building them costs librdkafka ~2,500,000 instructions a time
     * (percentiles of its latency histograms), every second at 1000
     */
    { "statistics.interval.ms", "10000" },
    { NULL, NULL }
};


static char  *ngx_evbus_kafka_reserved[] = {
    "bootstrap.servers",
    "metadata.broker.list",
    "log.queue",
    "dr_cb",
    "dr_msg_cb",
    NULL
};


void *
ngx_evbus_kafka_conf_create(ngx_conf_t *cf)
{
    char                *errstr;
    ngx_uint_t           i;
    rd_kafka_conf_t     *conf;
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    conf = rd_kafka_conf_new();
    if (conf == NULL) {
        return NULL;
    }

    cln->handler = ngx_evbus_kafka_conf_cleanup;
    cln->data = conf;

    /*
     * Idempotence only where librdkafka handles its fatal errors safely
     * (2.3.0 fixed #4438); before that a possibly-persisted failure makes
     * the producer unusable.  Duplicates are resolved downstream by event_id.
     */

    if (ngx_evbus_kafka_set(conf, "enable.idempotence",
                            rd_kafka_version() >= 0x020300ff ? "true"
                                                             : "false",
                            cf->log)
        != NGX_OK)
    {
        return NULL;
    }

    for (i = 0; ngx_evbus_kafka_defaults[i][0]; i++) {
        if (ngx_evbus_kafka_set(conf, ngx_evbus_kafka_defaults[i][0],
                                ngx_evbus_kafka_defaults[i][1], cf->log)
            != NGX_OK)
        {
            errstr = ngx_evbus_kafka_defaults[i][0];
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "evbus: librdkafka rejected default \"%s\"", errstr);
            return NULL;
        }
    }

    return conf;
}


static void
ngx_evbus_kafka_conf_cleanup(void *data)
{
    rd_kafka_conf_destroy(data);
}


static ngx_int_t
ngx_evbus_kafka_set(rd_kafka_conf_t *conf, char *name, char *value,
    ngx_log_t *log)
{
    char  errstr[512];

    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr))
        != RD_KAFKA_CONF_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, log, 0, "evbus: %s", errstr);
        return NGX_ERROR;
    }

    return NGX_OK;
}


char *
ngx_evbus_kafka_conf_set(ngx_conf_t *cf, void *conf, ngx_str_t *name,
    ngx_str_t *value)
{
    char         errstr[512];
    ngx_uint_t   i;

    for (i = 0; ngx_evbus_kafka_reserved[i]; i++) {
        if (ngx_strcmp(name->data, ngx_evbus_kafka_reserved[i]) == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "Kafka property \"%V\" is set by the module"
                               " (use \"evbus_brokers\" for brokers)", name);
            return NGX_CONF_ERROR;
        }
    }

    /* ngx_conf_read_token() leaves arguments NUL-terminated */

    if (rd_kafka_conf_set(conf, (char *) name->data, (char *) value->data,
                          errstr, sizeof(errstr))
        != RD_KAFKA_CONF_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid Kafka property \"%V\" \"%V\": %s",
                           name, value, errstr);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * Some inconsistencies between properties are only found when a client is
 * created: create one, without brokers, and destroy it at once.
 */

char *
ngx_evbus_kafka_conf_check(ngx_conf_t *cf, void *kafka_conf, ngx_str_t *file,
    ngx_uint_t line)
{
    char              errstr[512];
    rd_kafka_t       *rk;
    rd_kafka_conf_t  *conf;

    conf = rd_kafka_conf_dup(kafka_conf);
    if (conf == NULL) {
        return NGX_CONF_ERROR;
    }

    rd_kafka_conf_set_log_cb(conf, ngx_evbus_kafka_quiet);

    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);

        if (line) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "invalid \"evbus_kafka_property\" set: %s in %V:%ui",
                          errstr, file, line);

        } else {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "evbus: cannot create a Kafka producer: %s", errstr);
        }

        return NGX_CONF_ERROR;
    }

    rd_kafka_destroy(rk);

    return NGX_CONF_OK;
}


ngx_int_t
ngx_evbus_kafka_init_process(ngx_cycle_t *cycle, ngx_evbus_kafka_conf_t *kcf)
{
    char                    errstr[512], *brokers;
    u_char                  settings[512], *last;
    size_t                  size;
    ngx_str_t              *topic;
    ngx_uint_t              i;
    const char             *err;
    rd_kafka_conf_t        *conf;
    rd_kafka_topic_conf_t  *tconf;

    ngx_memzero(&ngx_evbus_kafka, sizeof(ngx_evbus_kafka_t));

    ngx_evbus_kafka.log = cycle->log;
    ngx_rbtree_init(&ngx_evbus_kafka.topics, &ngx_evbus_kafka.sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&ngx_evbus_kafka.all);

    (void) ngx_snprintf(ngx_evbus_kafka.topics_err,
                        sizeof(ngx_evbus_kafka.topics_err),
                        "this worker already produces to %ui computed topics"
                        " (evbus_max_topics)%Z", kcf->max_topics);

    ngx_evbus_kafka.conf = kcf;

    conf = rd_kafka_conf_dup(kcf->kafka_conf);
    if (conf == NULL) {
        return NGX_ERROR;
    }

    brokers = ngx_alloc(kcf->brokers.len + 1, cycle->log);
    if (brokers == NULL) {
        rd_kafka_conf_destroy(conf);
        return NGX_ERROR;
    }

    ngx_cpystrn((u_char *) brokers, kcf->brokers.data, kcf->brokers.len + 1);

    if (ngx_evbus_kafka_set(conf, "bootstrap.servers", brokers, cycle->log)
        != NGX_OK
        || ngx_evbus_kafka_set(conf, "log.queue", "true", cycle->log)
           != NGX_OK)
    {
        ngx_free(brokers);
        rd_kafka_conf_destroy(conf);
        return NGX_ERROR;
    }

    ngx_free(brokers);

    size = sizeof(errstr);
    if (rd_kafka_conf_get(conf, "queue.buffering.max.messages", errstr, &size)
        == RD_KAFKA_CONF_OK)
    {
        ngx_evbus_kafka.max_messages = ngx_atoi((u_char *) errstr,
                                                ngx_strlen(errstr));
    }

    if (ngx_evbus_kafka.max_messages == (ngx_uint_t) NGX_ERROR
        || ngx_evbus_kafka.max_messages == 0)
    {
        ngx_evbus_kafka.max_messages = 100000;
    }

    size = sizeof(errstr);
    if (rd_kafka_conf_get(conf, "queue.buffering.max.kbytes", errstr, &size)
        == RD_KAFKA_CONF_OK)
    {
        ngx_evbus_kafka.max_bytes = ngx_atosz((u_char *) errstr,
                                              ngx_strlen(errstr));
    }

    if (ngx_evbus_kafka.max_bytes == (size_t) NGX_ERROR
        || ngx_evbus_kafka.max_bytes == 0)
    {
        ngx_evbus_kafka.max_bytes = 65536;
    }

    ngx_evbus_kafka.max_bytes *= 1024;

    rd_kafka_conf_set_dr_msg_cb(conf, ngx_evbus_kafka_dr);
    rd_kafka_conf_set_error_cb(conf, ngx_evbus_kafka_error);
    rd_kafka_conf_set_stats_cb(conf, ngx_evbus_kafka_stats);
    rd_kafka_conf_set_log_cb(conf, ngx_evbus_kafka_logger);

    tconf = rd_kafka_conf_get_default_topic_conf(conf);
    if (tconf == NULL) {
        tconf = rd_kafka_topic_conf_new();
        if (tconf == NULL) {
            rd_kafka_conf_destroy(conf);
            return NGX_ERROR;
        }

        rd_kafka_conf_set_default_topic_conf(conf, tconf);
    }

    rd_kafka_topic_conf_set_partitioner_cb(tconf,
                                           ngx_evbus_kafka_partitioner);

    last = ngx_evbus_kafka_settings(conf, settings,
                                    settings + sizeof(settings));

    ngx_evbus_kafka.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
                                      sizeof(errstr));
    if (ngx_evbus_kafka.rk == NULL) {
        rd_kafka_conf_destroy(conf);
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "evbus: rd_kafka_new() failed: %s", errstr);
        return NGX_ERROR;
    }

    if (rd_kafka_set_log_queue(ngx_evbus_kafka.rk, NULL)
        != RD_KAFKA_RESP_ERR_NO_ERROR)
    {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "evbus: rd_kafka_set_log_queue() failed");
    }

    if (ngx_evbus_kafka_wake_init(cycle) != NGX_OK) {
        rd_kafka_destroy(ngx_evbus_kafka.rk);
        ngx_evbus_kafka.rk = NULL;
        return NGX_ERROR;
    }

    ngx_evbus_kafka.timer.handler = ngx_evbus_kafka_timer_handler;
    ngx_evbus_kafka.timer.log = cycle->log;
    ngx_evbus_kafka.timer.data = &ngx_evbus_kafka;
    ngx_evbus_kafka.timer.cancelable = 1;
    ngx_add_timer(&ngx_evbus_kafka.timer, NGX_EVBUS_POLL_INTERVAL);

    /* the first message to an unknown topic waits ~1 s for its metadata */

    topic = kcf->topics->elts;
    for (i = 0; i < kcf->topics->nelts; i++) {
        if (ngx_evbus_kafka_topic(&topic[i], 0, &err) == NULL) {
            ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                          "evbus: topic \"%V\": %s", &topic[i], err);
        }
    }

    ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                  "evbus: producer started (librdkafka %s;%*s)",
                  rd_kafka_version_str(), last - settings, settings);

    return NGX_OK;
}


/* " name value," for each shown setting, the last comma left out */

static u_char *
ngx_evbus_kafka_settings(rd_kafka_conf_t *conf, u_char *p, u_char *last)
{
    char        value[64];
    u_char     *start;
    size_t      size;
    ngx_uint_t  i;

    start = p;

    for (i = 0; ngx_evbus_kafka_shown[i]; i++) {
        size = sizeof(value);

        if (rd_kafka_conf_get(conf, ngx_evbus_kafka_shown[i], value, &size)
            != RD_KAFKA_CONF_OK)
        {
            continue;
        }

        p = ngx_slprintf(p, last, "%s %s %s", p > start ? "," : "",
                         ngx_evbus_kafka_shown[i], value);
    }

    return p;
}


static ngx_int_t
ngx_evbus_kafka_wake_init(ngx_cycle_t *cycle)
{
    int                  fd;
    ngx_event_t         *rev;
    ngx_connection_t    *c;
    static uint64_t      one = 1;

    fd = eventfd(0, EFD_NONBLOCK|EFD_CLOEXEC);
    if (fd == -1) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                      "evbus: eventfd() failed");
        return NGX_ERROR;
    }

    c = ngx_get_connection(fd, cycle->log);
    if (c == NULL) {
        close(fd);
        return NGX_ERROR;
    }

    c->data = &ngx_evbus_kafka;

    rev = c->read;
    rev->handler = ngx_evbus_kafka_wake_handler;
    rev->log = cycle->log;

    if (ngx_add_event(rev, NGX_READ_EVENT, 0) != NGX_OK) {
        ngx_close_connection(c);
        return NGX_ERROR;
    }

    ngx_evbus_kafka.wake = c;
    ngx_evbus_kafka.main_queue = rd_kafka_queue_get_main(ngx_evbus_kafka.rk);

    /* an eventfd takes 8-byte writes only: a shorter payload never wakes */

    rd_kafka_queue_io_event_enable(ngx_evbus_kafka.main_queue, fd, &one,
                                   sizeof(uint64_t));

    return NGX_OK;
}


static void
ngx_evbus_kafka_wake_handler(ngx_event_t *ev)
{
    uint64_t           value;
    ngx_connection_t  *c;

    c = ev->data;

    while (read(c->fd, &value, sizeof(uint64_t)) == sizeof(uint64_t)) {
        /* void */
    }

    ngx_evbus_kafka_poll();
}


static void
ngx_evbus_kafka_timer_handler(ngx_event_t *ev)
{
    ngx_evbus_kafka_poll();
    ngx_evbus_kafka_track();
    ngx_evbus_kafka_probe();
    ngx_evbus_footprint_release(ngx_evbus_kafka.bytes,
                                ngx_evbus_kafka.max_bytes);

    if (!ngx_evbus_kafka.exiting && ngx_evbus_kafka.conf->tick()) {

        /* replay goes on as fast as Kafka takes it */

        if (!ngx_terminate && ngx_evbus_kafka.rk) {
            ngx_add_timer(ev, 10);
            return;
        }
    }

    if (!ngx_terminate && ngx_evbus_kafka.rk) {
        ngx_add_timer(ev, NGX_EVBUS_POLL_INTERVAL);
    }
}


static void
ngx_evbus_kafka_poll(void)
{
    ngx_uint_t  i;

    if (ngx_evbus_kafka.rk == NULL) {
        return;
    }

    /* wake-ups come on empty-to-non-empty transitions only: drain */

    for (i = 0; i < NGX_EVBUS_POLL_MAX; i++) {
        if (rd_kafka_poll(ngx_evbus_kafka.rk, 0) == 0) {
            return;
        }
    }

    /* leave the rest to the timer rather than starve the event loop */

    if (ngx_evbus_kafka.timer.timer_set) {
        ngx_del_timer(&ngx_evbus_kafka.timer);
    }

    ngx_add_timer(&ngx_evbus_kafka.timer, 1);
}


static void
ngx_evbus_kafka_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    size_t                     size;
    ngx_evbus_msg_t            msg;
    rd_kafka_headers_t        *hdrs;
    ngx_evbus_kafka_rec_t     *rec;
    ngx_evbus_kafka_report_t   report;
    rd_kafka_timestamp_type_t  tstype;

    rec = m->_private;

    size = rec ? rec->size : m->len;
    ngx_evbus_kafka.bytes -= ngx_min(ngx_evbus_kafka.bytes, size);

    if (ngx_evbus_kafka.messages) {
        ngx_evbus_kafka.messages--;
    }

    report.data = rec ? rec->data : NULL;
    report.index = rec ? rec->index : 0;
    report.partition = m->partition;
    report.offset = m->offset;
    report.err = m->err;
    report.latency = rec ? ngx_current_msec - rec->sent : 0;
    report.msg = NULL;
    report.topic.data = (u_char *) rd_kafka_topic_name(m->rkt);
    report.topic.len = ngx_strlen(report.topic.data);

    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ngx_evbus_kafka.delivered++;
        ngx_evbus_kafka.busy_since = ngx_current_msec;
        ngx_evbus_avail_up();

    } else {
        if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            hdrs = NULL;
        }

        msg.topic = report.topic;
        msg.key.data = m->key;
        msg.key.len = m->key_len;
        msg.value.data = m->payload;
        msg.value.len = m->len;
        msg.timestamp = rd_kafka_message_timestamp(m, &tstype);
        msg.event_type = ngx_evbus_kafka_header(hdrs, "event_type");
        msg.event_version = ngx_evbus_kafka_header(hdrs, "event_version");
        msg.source_service = ngx_evbus_kafka_header(hdrs, "source_service");
        msg.ingest_timestamp = ngx_evbus_kafka_header(hdrs,
                                                      "ingest_timestamp");
        msg.error_kind = ngx_evbus_kafka_header(hdrs, "error_kind");
        msg.traceparent = ngx_evbus_kafka_header(hdrs, "traceparent");
        msg.tracestate = ngx_evbus_kafka_header(hdrs, "tracestate");

        if (rec) {
            msg.dead_letter = rec->dead_letter;

        } else {
            ngx_str_null(&msg.dead_letter);
        }

        report.msg = &msg;
    }

    ngx_evbus_kafka.conf->report(&report);

    if (rec) {
        ngx_evbus_kafka_rec_free(rec);
    }
}


static void
ngx_evbus_kafka_error(rd_kafka_t *rk, int err, const char *reason,
    void *opaque)
{
    char  errstr[512];

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        err = rd_kafka_fatal_error(rk, errstr, sizeof(errstr));
        ngx_log_error(NGX_LOG_ERR, ngx_evbus_kafka.log, 0,
                      "evbus: Kafka producer fatal error: %s: %s",
                      rd_kafka_err2name(err), errstr);
        return;
    }

    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        ngx_evbus_avail_down();
    }

    /* librdkafka logs these itself */

    if (err == RD_KAFKA_RESP_ERR__TRANSPORT
        || err == RD_KAFKA_RESP_ERR__RESOLVE)
    {
        return;
    }

    if (ngx_evbus_kafka.error_logged == ngx_time()) {
        ngx_evbus_kafka.error_suppressed++;
        return;
    }

    ngx_log_error(NGX_LOG_WARN, ngx_evbus_kafka.log, 0,
                  "evbus: Kafka: %s: %s (%ui more errors not logged)",
                  rd_kafka_err2name(err), reason,
                  ngx_evbus_kafka.error_suppressed);

    ngx_evbus_kafka.error_logged = ngx_time();
    ngx_evbus_kafka.error_suppressed = 0;
}


static void
ngx_evbus_kafka_logger(const rd_kafka_t *rk, int level, const char *fac,
    const char *buf)
{
    ngx_uint_t  nlevel;

    /* syslog levels 0..7 map to nginx's EMERG..DEBUG (1..8) */

    if (level < 3) {
        nlevel = NGX_LOG_CRIT;

    } else if (level > 6) {
        nlevel = NGX_LOG_DEBUG;

    } else {
        nlevel = level + 1;
    }

    if (nlevel == NGX_LOG_DEBUG) {
        ngx_log_debug2(NGX_LOG_DEBUG_CORE, ngx_evbus_kafka.log, 0,
                       "evbus: librdkafka: %s: %s", fac, buf);
        return;
    }

    ngx_log_error(nlevel, ngx_evbus_kafka.log, 0,
                  "evbus: librdkafka: %s: %s", fac, buf);
}


/* on the worker's thread, from rd_kafka_poll(); librdkafka frees "json" */

static int
ngx_evbus_kafka_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    ngx_evbus_rdstats_t  st;

    if (ngx_evbus_kafka.conf->stats
        && ngx_evbus_rdstats_parse((u_char *) json, len, &st,
                                   ngx_evbus_kafka.log)
           == NGX_OK)
    {
        ngx_evbus_kafka.conf->stats(&st);
    }

    return 0;
}


/* the producer made only to check the configuration has nothing to say */

static void
ngx_evbus_kafka_quiet(const rd_kafka_t *rk, int level, const char *fac,
    const char *buf)
{
}


/* may run on librdkafka's threads: touches only the message's own record */

static int32_t
ngx_evbus_kafka_partitioner(const rd_kafka_topic_t *rkt, const void *key,
    size_t keylen, int32_t partition_cnt, void *rkt_opaque, void *msg_opaque)
{
    ngx_evbus_kafka_rec_t  *msg;

    msg = msg_opaque;

    if (msg == NULL) {
        return ngx_evbus_partition((const u_char *) "", 0, key, keylen,
                                   partition_cnt);
    }

    return ngx_evbus_partition(msg->type, msg->type_len, key, keylen,
                               partition_cnt);
}


ngx_int_t
ngx_evbus_kafka_produce(ngx_evbus_msg_t *m, void *data, ngx_uint_t index,
    const char **err)
{
    size_t                  size;
    ngx_uint_t              i, n;
    rd_kafka_topic_t       *rkt;
    rd_kafka_headers_t     *hdrs;
    rd_kafka_resp_err_t     rc;
    ngx_evbus_kafka_rec_t  *rec;
    ngx_evbus_kafka_hdr_t   hdr[NGX_EVBUS_KAFKA_HEADERS];

    if (ngx_evbus_kafka.rk == NULL || ngx_evbus_kafka.exiting) {
        *err = "the Kafka producer is not running";
        return NGX_BUSY;
    }

    if (ngx_evbus_kafka_unavailable()) {
        *err = "Kafka has not taken messages for longer than"
               " evbus_unavailable_after";
        return NGX_BUSY;
    }

    /* replayed and failed messages: their topics were allowed once */

    rkt = ngx_evbus_kafka_topic(&m->topic, 1, err);
    if (rkt == NULL) {
        return NGX_DECLINED;
    }

    if (m->event_type.len > NGX_EVBUS_EVENT_TYPE_MAX) {
        *err = "event_type is too long";
        return NGX_DECLINED;
    }

    /* dead letters: error_kind instead of event_version */

    n = 0;

    if (m->error_kind.len) {
        ngx_evbus_kafka_hdr(hdr, n, "error_kind", m->error_kind);
    }

    if (m->event_type.len) {
        ngx_evbus_kafka_hdr(hdr, n, "event_type", m->event_type);
    }

    if (m->error_kind.len == 0) {
        ngx_evbus_kafka_hdr(hdr, n, "event_version", m->event_version);
    }

    ngx_evbus_kafka_hdr(hdr, n, "source_service", m->source_service);
    ngx_evbus_kafka_hdr(hdr, n, "ingest_timestamp", m->ingest_timestamp);

    if (m->traceparent.len) {
        ngx_evbus_kafka_hdr(hdr, n, "traceparent", m->traceparent);
    }

    if (m->tracestate.len) {
        ngx_evbus_kafka_hdr(hdr, n, "tracestate", m->tracestate);
    }

    /*
     * librdkafka counts the values only against queue.buffering.max.kbytes;
     * the messages really hold more than twice that: count what they hold.
     * An empty queue leaves it to librdkafka: a limit smaller than one
     * message's footprint must not refuse them all.
     */

    size = ngx_evbus_footprint_message(m->value.len, m->key.len)
           + sizeof(ngx_evbus_kafka_rec_t);

    for (i = 0; i < n; i++) {
        size += ngx_evbus_footprint_header(hdr[i].name.len,
                                           hdr[i].value->len);
    }

    if (ngx_evbus_kafka.bytes
        && ngx_evbus_kafka.bytes + size > ngx_evbus_kafka.max_bytes)
    {
        *err = rd_kafka_err2str(RD_KAFKA_RESP_ERR__QUEUE_FULL);
        return NGX_BUSY;
    }

    rec = ngx_evbus_kafka_rec_alloc();
    if (rec == NULL) {
        *err = "out of memory";
        return NGX_DECLINED;
    }

    rec->data = data;
    rec->index = index;
    rec->sent = ngx_current_msec;
    rec->dead_letter = m->dead_letter;
    rec->size = size;
    rec->type_len = m->event_type.len;

    if (m->event_type.len) {
        ngx_memcpy(rec->type, m->event_type.data, m->event_type.len);
    }

    hdrs = rd_kafka_headers_new(NGX_EVBUS_FOOTPRINT_SLOTS);
    if (hdrs == NULL) {
        ngx_evbus_kafka_rec_free(rec);
        *err = "out of memory";
        return NGX_DECLINED;
    }

    for (i = 0; i < n; i++) {
        (void) rd_kafka_header_add(hdrs, (char *) hdr[i].name.data,
                                   (ssize_t) hdr[i].name.len,
                                   hdr[i].value->data,
                                   (ssize_t) hdr[i].value->len);
    }

    rc = rd_kafka_producev(ngx_evbus_kafka.rk,
                           RD_KAFKA_V_RKT(rkt),
                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                           RD_KAFKA_V_VALUE(m->value.data, m->value.len),
                           RD_KAFKA_V_KEY(m->key.data, m->key.len),
                           RD_KAFKA_V_TIMESTAMP(m->timestamp),
                           RD_KAFKA_V_HEADERS(hdrs),
                           RD_KAFKA_V_OPAQUE(rec),
                           RD_KAFKA_V_END);

    /* on success the message owns the headers */

    if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(hdrs);
        ngx_evbus_kafka_rec_free(rec);
        *err = rd_kafka_err2str(rc);

        return (rc == RD_KAFKA_RESP_ERR__QUEUE_FULL
                || rc == RD_KAFKA_RESP_ERR__FATAL) ? NGX_BUSY : NGX_DECLINED;
    }

    if (ngx_evbus_kafka.busy_since == 0) {
        ngx_evbus_kafka.busy_since = ngx_current_msec;
    }

    ngx_evbus_kafka.bytes += rec->size;
    ngx_evbus_kafka.messages++;

    return NGX_OK;
}


/*
 * Kafka is unavailable for longer than evbus_unavailable_after when
 *   - this worker's messages wait and none has been delivered for that long
 *     (brokers down, unreachable or frozen), or
 *   - no worker has known a broker up for that long: all brokers down
 *     (librdkafka's RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN), or none up since
 *     start; shared by the workers (ngx_evbus_avail.c), so that one
 *     worker with an empty queue does not answer 202 while another 503.
 */

static ngx_int_t
ngx_evbus_kafka_unavailable(void)
{
    ngx_msec_t  since;

    if (ngx_evbus_kafka.busy_since
        && ngx_current_msec - ngx_evbus_kafka.busy_since
           > ngx_evbus_kafka.conf->unavailable_after)
    {
        return 1;
    }

    since = ngx_evbus_avail_down_since();

    /* set by another process: may be a little ahead of our clock */

    return since
           && (ngx_msec_int_t) (ngx_current_msec - since)
              > (ngx_msec_int_t) ngx_evbus_kafka.conf->unavailable_after;
}


/*
 * While no broker is known up, ask librdkafka for one: rd_kafka_metadata()
 * with no wait fails with RD_KAFKA_RESP_ERR__TRANSPORT at once when it has
 * no broker connection up, and otherwise sends a (cheap: known topics only)
 * metadata request and times out without waiting for it.  librdkafka
 * 2.0.2 has no other way to tell that a broker is up without traffic.
 */

static void
ngx_evbus_kafka_probe(void)
{
    rd_kafka_resp_err_t              rc;
    const struct rd_kafka_metadata  *md;

    if (ngx_evbus_kafka.rk == NULL || ngx_evbus_kafka.exiting
        || ngx_evbus_avail_down_since() == 0)
    {
        return;
    }

    md = NULL;

    rc = rd_kafka_metadata(ngx_evbus_kafka.rk, 0, NULL, &md, 0);

    if (md) {
        rd_kafka_metadata_destroy(md);
    }

    if (rc != RD_KAFKA_RESP_ERR__TRANSPORT) {
        ngx_log_debug1(NGX_LOG_DEBUG_CORE, ngx_evbus_kafka.log, 0,
                       "evbus: a broker is up (%s)", rd_kafka_err2name(rc));
        ngx_evbus_avail_up();
    }
}


ngx_int_t
ngx_evbus_kafka_available(void)
{
    if (ngx_evbus_kafka.rk == NULL || ngx_evbus_kafka.exiting
        || ngx_evbus_kafka_unavailable())
    {
        return 0;
    }

    return ngx_evbus_kafka.messages < ngx_evbus_kafka.max_messages / 2
           && ngx_evbus_kafka.bytes < ngx_evbus_kafka.max_bytes / 2;
}


static void
ngx_evbus_kafka_track(void)
{
    double      rate;
    ngx_msec_t  elapsed;
    ngx_uint_t  delivered;

    if (rd_kafka_outq_len(ngx_evbus_kafka.rk) == 0) {
        ngx_evbus_kafka.busy_since = 0;
    }

    elapsed = ngx_current_msec - ngx_evbus_kafka.rate_at;

    if (elapsed < 1000) {
        return;
    }

    delivered = ngx_evbus_kafka.delivered;
    rate = (double) (delivered - ngx_evbus_kafka.delivered_last) * 1000
           / elapsed;

    ngx_evbus_kafka.rate = ngx_evbus_kafka.rate * 0.5 + rate * 0.5;
    ngx_evbus_kafka.delivered_last = delivered;
    ngx_evbus_kafka.rate_at = ngx_current_msec;
}


/*
 * Seconds a client should wait before retrying after a 503: the time the
 * producer needs to work off its queue at the rate it has been delivering
 * recently (an average over the last seconds), evbus_unavailable_after when
 * nothing is being delivered, at least 1 s and at most 60 s.
 */

ngx_uint_t
ngx_evbus_kafka_retry_after(void)
{
    double      secs;
    ngx_uint_t  queued;

    if (ngx_evbus_kafka.rk == NULL) {
        return 5;
    }

    /* the producer's messages, not librdkafka's other requests and events */

    queued = ngx_evbus_kafka.messages;

    if (ngx_evbus_kafka.rate < 1) {
        secs = queued ? (double) ngx_evbus_kafka.conf->unavailable_after
                        / 1000
                      : 1;

    } else {
        secs = queued / ngx_evbus_kafka.rate;
    }

    if (secs <= 1) {
        return 1;
    }

    if (secs >= 60) {
        return 60;
    }

    /* rounded up */

    return (ngx_uint_t) secs + (secs > (ngx_uint_t) secs);
}


const char *
ngx_evbus_kafka_err2str(int err)
{
    return rd_kafka_err2str(err);
}


/*
 * A failed delivery is permanent when sending the same message to the same
 * topic again cannot succeed until an operator changes the cluster: the
 * topic does not exist (auto-creation off) or is not writable, the message
 * is too large or refused as a record.  Those must not be spooled, or
 * replay would retry them for ever.  Everything else (timeouts, broken
 * connections, leader changes, not enough replicas, purges at exit,
 * throttling, a fatal producer) is about the cluster or the producer, not
 * the message: retriable, spooled.  An error not listed is retriable:
 * keeping an event wrongly costs a retry, dropping it wrongly loses it.
 * (librdkafka 2.0.2 gives a delivery report only an rd_kafka_resp_err_t,
 * not the rd_kafka_error_t that rd_kafka_error_is_retriable() takes.)
 */

ngx_uint_t
ngx_evbus_kafka_err_permanent(int err)
{
    switch (err) {

    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
        return 1;

    default:
        return 0;
    }
}


/* an integer property of a checked configuration, NGX_ERROR if none */

ngx_int_t
ngx_evbus_kafka_conf_int(void *conf, char *name)
{
    char    buf[64];
    size_t  size;

    size = sizeof(buf);

    if (rd_kafka_conf_get(conf, name, buf, &size) != RD_KAFKA_CONF_OK) {
        return NGX_ERROR;
    }

    if (buf[0] == '-') {
        return (buf[1] == '1' && buf[2] == '\0') ? -1 : NGX_ERROR;
    }

    return ngx_atoi((u_char *) buf, ngx_strlen(buf));
}


/*
 * Messages produced and not yet reported: rd_kafka_outq_len() also counts
 * requests and events (statistics, errors) waiting to be served.
 */

ngx_uint_t
ngx_evbus_kafka_queued(void)
{
    return ngx_evbus_kafka.messages;
}


ngx_uint_t
ngx_evbus_kafka_queue_max(void)
{
    return ngx_evbus_kafka.max_messages;
}


/*
 * How full the queue is, in percent of librdkafka's limits: messages or
 * bytes (what the messages really hold, ngx_evbus_footprint_message() and _header(), against
 * queue.buffering.max.kbytes), whichever is fuller.
 */

ngx_uint_t
ngx_evbus_kafka_fill(void)
{
    ngx_uint_t  messages, bytes;

    if (ngx_evbus_kafka.rk == NULL) {
        return 0;
    }

    messages = ngx_evbus_kafka.messages * 100 / ngx_evbus_kafka.max_messages;
    bytes = ngx_evbus_kafka.bytes / (ngx_evbus_kafka.max_bytes / 100);

    return ngx_min(ngx_max(messages, bytes), 100);
}


static ngx_str_t
ngx_evbus_kafka_header(rd_kafka_headers_t *hdrs, const char *name)
{
    size_t       size;
    ngx_str_t    value;
    const void  *p;

    ngx_str_null(&value);

    if (hdrs
        && rd_kafka_header_get_last(hdrs, name, &p, &size)
           == RD_KAFKA_RESP_ERR_NO_ERROR
        && p)
    {
        value.data = (u_char *) p;
        value.len = size;
    }

    return value;
}


static rd_kafka_topic_t *
ngx_evbus_kafka_topic(ngx_str_t *name, ngx_uint_t computed, const char **err)
{
    u_char                   *p;
    uint32_t                  hash;
    ngx_str_node_t           *sn;
    ngx_evbus_kafka_topic_t  *t;

    /* a location's events mostly go to one topic: no hash, no tree walk */

    t = ngx_evbus_kafka.last;

    if (t && t->sn.str.len == name->len
        && ngx_memcmp(t->sn.str.data, name->data, name->len) == 0)
    {
        return t->rkt;
    }

    hash = ngx_crc32_long(name->data, name->len);

    sn = ngx_str_rbtree_lookup(&ngx_evbus_kafka.topics, name, hash);

    if (sn) {
        t = (ngx_evbus_kafka_topic_t *) sn;
        ngx_evbus_kafka.last = t;
        return t->rkt;
    }

    if (!ngx_evbus_topic_valid(name, err)) {
        return NULL;
    }

    t = ngx_alloc(sizeof(ngx_evbus_kafka_topic_t) + name->len + 1,
                  ngx_evbus_kafka.log);
    if (t == NULL) {
        *err = "out of memory";
        return NULL;
    }

    p = (u_char *) (t + 1);
    ngx_cpystrn(p, name->data, name->len + 1);

    t->rkt = rd_kafka_topic_new(ngx_evbus_kafka.rk, (char *) p, NULL);
    if (t->rkt == NULL) {
        *err = rd_kafka_err2str(rd_kafka_last_error());
        ngx_free(t);
        return NULL;
    }

    t->sn.str.data = p;
    t->sn.str.len = name->len;
    t->sn.node.key = hash;

    ngx_rbtree_insert(&ngx_evbus_kafka.topics, &t->sn.node);
    ngx_queue_insert_tail(&ngx_evbus_kafka.all, &t->queue);
    ngx_evbus_kafka.last = t;

    if (computed) {
        ngx_evbus_kafka.computed++;
    }

    return t->rkt;
}


/*
 * A topic computed from the request (variables in evbus_topic): a valid
 * name, not an internal one ("_" or "__" first, like __consumer_offsets),
 * and a known one or one more within evbus_max_topics.
 */

ngx_int_t
ngx_evbus_kafka_topic_check(ngx_str_t *name, const char **err)
{
    uint32_t  hash;

    if (name->len && name->data[0] == '_') {
        *err = "a computed topic name must not start with \"_\"";
        return NGX_DECLINED;
    }

    if (!ngx_evbus_topic_valid(name, err)) {
        return NGX_DECLINED;
    }

    if (ngx_evbus_kafka.rk == NULL || ngx_evbus_kafka.exiting) {
        return NGX_OK;
    }

    hash = ngx_crc32_long(name->data, name->len);

    if (ngx_str_rbtree_lookup(&ngx_evbus_kafka.topics, name, hash)) {
        return NGX_OK;
    }

    if (ngx_evbus_kafka.computed >= ngx_evbus_kafka.conf->max_topics) {
        *err = (const char *) ngx_evbus_kafka.topics_err;
        return NGX_DECLINED;
    }

    return ngx_evbus_kafka_topic(name, 1, err) ? NGX_OK : NGX_DECLINED;
}


/* Kafka's rule for topic names */

ngx_uint_t
ngx_evbus_topic_valid(ngx_str_t *name, const char **err)
{
    u_char      c;
    ngx_uint_t  i;

    if (name->len == 0 || name->len > NGX_EVBUS_TOPIC_LEN_MAX) {
        *err = "the topic name is empty or longer than 249 bytes";
        return 0;
    }

    for (i = 0; i < name->len; i++) {
        c = name->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
        {
            *err = "the topic name has a character outside"
                   " A-Z a-z 0-9 . _ -";
            return 0;
        }
    }

    return 1;
}


static void
ngx_evbus_kafka_topics_free(void)
{
    ngx_queue_t              *q;
    ngx_evbus_kafka_topic_t  *t;

    ngx_evbus_kafka.last = NULL;

    while (!ngx_queue_empty(&ngx_evbus_kafka.all)) {
        q = ngx_queue_head(&ngx_evbus_kafka.all);
        t = ngx_queue_data(q, ngx_evbus_kafka_topic_t, queue);

        ngx_queue_remove(q);
        ngx_rbtree_delete(&ngx_evbus_kafka.topics, &t->sn.node);
        rd_kafka_topic_destroy(t->rkt);
        ngx_free(t);
    }

    ngx_evbus_kafka.computed = 0;
}


static ngx_evbus_kafka_rec_t *
ngx_evbus_kafka_rec_alloc(void)
{
    ngx_uint_t         i;
    ngx_evbus_kafka_rec_t   *msg;
    ngx_evbus_kafka_slab_t  *slab;

    if (ngx_evbus_kafka.free == NULL) {
        slab = ngx_alloc(sizeof(ngx_evbus_kafka_slab_t), ngx_evbus_kafka.log);
        if (slab == NULL) {
            return NULL;
        }

        slab->next = ngx_evbus_kafka.slabs;
        ngx_evbus_kafka.slabs = slab;

        for (i = 0; i < NGX_EVBUS_MSG_SLAB; i++) {
            slab->msgs[i].next = ngx_evbus_kafka.free;
            ngx_evbus_kafka.free = &slab->msgs[i];
        }
    }

    msg = ngx_evbus_kafka.free;
    ngx_evbus_kafka.free = msg->next;

    return msg;
}


static void
ngx_evbus_kafka_rec_free(ngx_evbus_kafka_rec_t *msg)
{
    msg->next = ngx_evbus_kafka.free;
    ngx_evbus_kafka.free = msg;
}



/* failed and purged messages are reported before this returns */

void
ngx_evbus_kafka_exit_process(ngx_cycle_t *cycle)
{
    int                      left;
    ngx_evbus_kafka_slab_t  *slab;

    if (ngx_evbus_kafka.rk == NULL) {
        return;
    }

    ngx_evbus_kafka.exiting = 1;

    if (ngx_evbus_kafka.timer.timer_set) {
        ngx_del_timer(&ngx_evbus_kafka.timer);
    }

    /* bounded: with Kafka down an unbounded flush hangs reloads */

    (void) rd_kafka_flush(ngx_evbus_kafka.rk,
                          (int) ngx_evbus_kafka.conf->flush_timeout);

    left = rd_kafka_outq_len(ngx_evbus_kafka.rk);

    if (left > 0) {
        (void) rd_kafka_purge(ngx_evbus_kafka.rk,
                              RD_KAFKA_PURGE_F_QUEUE
                              |RD_KAFKA_PURGE_F_INFLIGHT);
        (void) rd_kafka_flush(ngx_evbus_kafka.rk, 100);
    }

    rd_kafka_queue_io_event_enable(ngx_evbus_kafka.main_queue, -1, NULL, 0);
    rd_kafka_queue_destroy(ngx_evbus_kafka.main_queue);

    if (ngx_evbus_kafka.wake) {
        ngx_close_connection(ngx_evbus_kafka.wake);
        ngx_evbus_kafka.wake = NULL;
    }

    ngx_evbus_kafka_topics_free();

    rd_kafka_destroy(ngx_evbus_kafka.rk);
    ngx_evbus_kafka.rk = NULL;

    while (ngx_evbus_kafka.slabs) {
        slab = ngx_evbus_kafka.slabs;
        ngx_evbus_kafka.slabs = slab->next;
        ngx_free(slab);
    }

    ngx_evbus_kafka.free = NULL;
}
