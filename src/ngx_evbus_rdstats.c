
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <yajl/yajl_parse.h>

#include "ngx_evbus_rdstats.h"


/*
 * librdkafka's statistics (statistics.interval.ms) arrive as one JSON
 * document per interval on the worker's own thread, from rd_kafka_poll().
 * A few values per broker and the producer's batches are kept; the
 * partitions and everything else are skipped by the parser.
 */

#define NGX_EVBUS_RDSTATS_DEPTH   8
#define NGX_EVBUS_RDSTATS_KEY     24
#define NGX_EVBUS_RDSTATS_SEEN    32


typedef struct {
    ngx_evbus_rdstats_t        *st;
    ngx_uint_t                  depth;
    u_char                      keys[NGX_EVBUS_RDSTATS_DEPTH]
                                    [NGX_EVBUS_RDSTATS_KEY];

    ngx_evbus_rdstats_broker_t *broker;
    ngx_uint_t                  skip;            /* internal, logical */
    uint64_t                    outbuf;
    uint64_t                    waitresp;

    double                      size_avg;
    double                      size_cnt;
    double                      cnt_avg;
    double                      cnt_cnt;
    double                      bytes_sum;
    double                      bytes_n;
    double                      msgs_sum;
    double                      msgs_n;
} ngx_evbus_rdstats_parser_t;


typedef struct {
    u_char                      name[NGX_EVBUS_RDSTATS_NAME_LEN];
    ngx_uint_t                  up;
} ngx_evbus_rdstats_seen_t;


static int ngx_evbus_rdstats_start_map(void *ctx);
static int ngx_evbus_rdstats_end_map(void *ctx);
static int ngx_evbus_rdstats_start_array(void *ctx);
static int ngx_evbus_rdstats_end_array(void *ctx);
static int ngx_evbus_rdstats_key(void *ctx, const unsigned char *key,
    size_t len);
static int ngx_evbus_rdstats_number(void *ctx, const char *s, size_t len);
static int ngx_evbus_rdstats_string(void *ctx, const unsigned char *s,
    size_t len);
static int ngx_evbus_rdstats_other(void *ctx);
static int ngx_evbus_rdstats_bool(void *ctx, int b);
static ngx_uint_t ngx_evbus_rdstats_is(ngx_evbus_rdstats_parser_t *p,
    ngx_uint_t depth, const char *key);
static void ngx_evbus_rdstats_log(ngx_evbus_rdstats_t *st, ngx_log_t *log);


static yajl_callbacks  ngx_evbus_rdstats_callbacks = {
    ngx_evbus_rdstats_other,
    ngx_evbus_rdstats_bool,
    NULL,
    NULL,
    ngx_evbus_rdstats_number,
    ngx_evbus_rdstats_string,
    ngx_evbus_rdstats_start_map,
    ngx_evbus_rdstats_key,
    ngx_evbus_rdstats_end_map,
    ngx_evbus_rdstats_start_array,
    ngx_evbus_rdstats_end_array
};


static ngx_evbus_rdstats_seen_t  ngx_evbus_rdstats_seen[NGX_EVBUS_RDSTATS_SEEN];
static ngx_uint_t                ngx_evbus_rdstats_nseen;


ngx_int_t
ngx_evbus_rdstats_parse(const u_char *json, size_t len,
    ngx_evbus_rdstats_t *st, ngx_log_t *log)
{
    yajl_handle                  h;
    yajl_status                  rc;
    ngx_evbus_rdstats_parser_t   p;

    ngx_memzero(st, sizeof(ngx_evbus_rdstats_t));
    ngx_memzero(&p, sizeof(ngx_evbus_rdstats_parser_t));

    p.st = st;

    h = yajl_alloc(&ngx_evbus_rdstats_callbacks, NULL, &p);
    if (h == NULL) {
        return NGX_ERROR;
    }

    rc = yajl_parse(h, json, len);

    if (rc == yajl_status_ok) {
        rc = yajl_complete_parse(h);
    }

    yajl_free(h);

    if (rc != yajl_status_ok) {
        return NGX_ERROR;
    }

    if (p.bytes_n > 0) {
        st->batch_bytes = (uint64_t) (p.bytes_sum / p.bytes_n);
    }

    if (p.msgs_n > 0) {
        st->batch_msgs = (uint64_t) (p.msgs_sum / p.msgs_n);
    }

    ngx_evbus_rdstats_log(st, log);

    return NGX_OK;
}


static ngx_uint_t
ngx_evbus_rdstats_is(ngx_evbus_rdstats_parser_t *p, ngx_uint_t depth,
    const char *key)
{
    return depth < NGX_EVBUS_RDSTATS_DEPTH
           && ngx_strcmp(p->keys[depth], key) == 0;
}


static int
ngx_evbus_rdstats_start_map(void *ctx)
{
    ngx_evbus_rdstats_parser_t *p = ctx;

    ngx_evbus_rdstats_t  *st;

    p->depth++;

    if (p->depth < NGX_EVBUS_RDSTATS_DEPTH) {
        p->keys[p->depth][0] = '\0';
    }

    if (p->depth != 3) {
        return 1;
    }

    st = p->st;

    if (ngx_evbus_rdstats_is(p, 1, "brokers")) {
        p->skip = 0;
        p->outbuf = 0;
        p->waitresp = 0;
        p->broker = (st->nbrokers < NGX_EVBUS_RDSTATS_BROKERS)
                    ? &st->brokers[st->nbrokers] : NULL;

        if (p->broker) {
            ngx_memzero(p->broker, sizeof(ngx_evbus_rdstats_broker_t));
        }

    } else if (ngx_evbus_rdstats_is(p, 1, "topics")) {
        p->size_avg = 0;
        p->size_cnt = 0;
        p->cnt_avg = 0;
        p->cnt_cnt = 0;
    }

    return 1;
}


static int
ngx_evbus_rdstats_end_map(void *ctx)
{
    ngx_evbus_rdstats_parser_t *p = ctx;

    ngx_evbus_rdstats_broker_t  *b;

    if (p->depth == 3 && ngx_evbus_rdstats_is(p, 1, "brokers")) {
        b = p->broker;

        if (b && !p->skip && b->name[0]) {
            b->outstanding = p->outbuf + p->waitresp;
            b->up = ngx_strcmp(b->state, "UP") == 0
                    || ngx_strcmp(b->state, "UPDATE") == 0;
            p->st->nbrokers++;
        }

        p->broker = NULL;

    } else if (p->depth == 3 && ngx_evbus_rdstats_is(p, 1, "topics")) {
        p->bytes_sum += p->size_avg * p->size_cnt;
        p->bytes_n += p->size_cnt;
        p->msgs_sum += p->cnt_avg * p->cnt_cnt;
        p->msgs_n += p->cnt_cnt;
    }

    p->depth--;

    return 1;
}


static int
ngx_evbus_rdstats_start_array(void *ctx)
{
    ngx_evbus_rdstats_parser_t *p = ctx;

    p->depth++;

    if (p->depth < NGX_EVBUS_RDSTATS_DEPTH) {
        p->keys[p->depth][0] = '\0';
    }

    return 1;
}


static int
ngx_evbus_rdstats_end_array(void *ctx)
{
    ngx_evbus_rdstats_parser_t *p = ctx;

    p->depth--;

    return 1;
}


static int
ngx_evbus_rdstats_key(void *ctx, const unsigned char *key, size_t len)
{
    ngx_evbus_rdstats_parser_t *p = ctx;

    if (p->depth >= NGX_EVBUS_RDSTATS_DEPTH) {
        return 1;
    }

    len = ngx_min(len, NGX_EVBUS_RDSTATS_KEY - 1);
    ngx_memcpy(p->keys[p->depth], key, len);
    p->keys[p->depth][len] = '\0';

    return 1;
}


static int
ngx_evbus_rdstats_number(void *ctx, const char *s, size_t len)
{
    ngx_evbus_rdstats_parser_t *p = ctx;

    double                       d;
    u_char                       buf[32];
    uint64_t                     v;
    ngx_evbus_rdstats_t         *st;
    ngx_evbus_rdstats_broker_t  *b;

    if (len >= sizeof(buf)) {
        return 1;
    }

    ngx_memcpy(buf, s, len);
    buf[len] = '\0';

    d = strtod((char *) buf, NULL);
    v = d > 0 ? (uint64_t) d : 0;

    st = p->st;
    b = p->broker;

    if (p->depth == 1) {
        if (ngx_evbus_rdstats_is(p, 1, "txmsgs")) {
            st->txmsgs = v;

        } else if (ngx_evbus_rdstats_is(p, 1, "txmsg_bytes")) {
            st->txmsg_bytes = v;
        }

        return 1;
    }

    if (ngx_evbus_rdstats_is(p, 1, "brokers")) {
        if (b == NULL) {
            return 1;
        }

        if (p->depth == 3) {
            if (ngx_evbus_rdstats_is(p, 3, "outbuf_cnt")) {
                p->outbuf = v;

            } else if (ngx_evbus_rdstats_is(p, 3, "waitresp_cnt")) {
                p->waitresp = v;

            } else if (ngx_evbus_rdstats_is(p, 3, "tx")) {
                b->tx = v;

            } else if (ngx_evbus_rdstats_is(p, 3, "txerrs")) {
                b->txerrs = v;

            } else if (ngx_evbus_rdstats_is(p, 3, "txretries")) {
                b->txretries = v;

            } else if (ngx_evbus_rdstats_is(p, 3, "txbytes")) {
                b->txbytes = v;
            }

        } else if (p->depth == 4 && ngx_evbus_rdstats_is(p, 3, "rtt")) {
            if (ngx_evbus_rdstats_is(p, 4, "avg")) {
                b->rtt_avg = v;

            } else if (ngx_evbus_rdstats_is(p, 4, "p99")) {
                b->rtt_p99 = v;
            }
        }

        return 1;
    }

    if (p->depth == 4 && ngx_evbus_rdstats_is(p, 1, "topics")) {
        if (ngx_evbus_rdstats_is(p, 3, "batchsize")) {
            if (ngx_evbus_rdstats_is(p, 4, "avg")) {
                p->size_avg = d;

            } else if (ngx_evbus_rdstats_is(p, 4, "cnt")) {
                p->size_cnt = d;
            }

        } else if (ngx_evbus_rdstats_is(p, 3, "batchcnt")) {
            if (ngx_evbus_rdstats_is(p, 4, "avg")) {
                p->cnt_avg = d;

            } else if (ngx_evbus_rdstats_is(p, 4, "cnt")) {
                p->cnt_cnt = d;
            }
        }
    }

    return 1;
}


static int
ngx_evbus_rdstats_string(void *ctx, const unsigned char *s, size_t len)
{
    ngx_evbus_rdstats_parser_t *p = ctx;

    ngx_evbus_rdstats_broker_t  *b;

    b = p->broker;

    if (p->depth != 3 || b == NULL || !ngx_evbus_rdstats_is(p, 1, "brokers"))
    {
        return 1;
    }

    if (ngx_evbus_rdstats_is(p, 3, "name")) {
        len = ngx_min(len, NGX_EVBUS_RDSTATS_NAME_LEN - 1);
        ngx_memcpy(b->name, s, len);
        b->name[len] = '\0';

    } else if (ngx_evbus_rdstats_is(p, 3, "state")) {
        len = ngx_min(len, sizeof(b->state) - 1);
        ngx_memcpy(b->state, s, len);
        b->state[len] = '\0';

    } else if (ngx_evbus_rdstats_is(p, 3, "source")) {
        p->skip = (len == sizeof("internal") - 1
                   && ngx_strncmp(s, "internal", len) == 0)
                  || (len == sizeof("logical") - 1
                      && ngx_strncmp(s, "logical", len) == 0);
    }

    return 1;
}


static int
ngx_evbus_rdstats_other(void *ctx)
{
    return 1;
}


static int
ngx_evbus_rdstats_bool(void *ctx, int b)
{
    return 1;
}


/* once per change between up and down, per broker, in each worker */

static void
ngx_evbus_rdstats_log(ngx_evbus_rdstats_t *st, ngx_log_t *log)
{
    ngx_uint_t                   i, j, level;
    ngx_evbus_rdstats_seen_t    *s;
    ngx_evbus_rdstats_broker_t  *b;

    for (i = 0; i < st->nbrokers; i++) {
        b = &st->brokers[i];
        s = NULL;

        for (j = 0; j < ngx_evbus_rdstats_nseen; j++) {
            if (ngx_strcmp(ngx_evbus_rdstats_seen[j].name, b->name) == 0) {
                s = &ngx_evbus_rdstats_seen[j];
                break;
            }
        }

        if (s == NULL) {
            if (ngx_evbus_rdstats_nseen == NGX_EVBUS_RDSTATS_SEEN) {
                continue;
            }

            s = &ngx_evbus_rdstats_seen[ngx_evbus_rdstats_nseen++];
            ngx_memcpy(s->name, b->name, NGX_EVBUS_RDSTATS_NAME_LEN);

        } else if (s->up == b->up + 1) {
            continue;
        }

        s->up = b->up + 1;

        level = b->up ? NGX_LOG_NOTICE : NGX_LOG_WARN;

        ngx_log_error(level, log, 0, "evbus: Kafka broker \"%s\" is %s (%s)",
                      b->name, b->up ? "up" : "down", b->state);
    }
}
