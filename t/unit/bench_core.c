
/*
 * Copyright (C) ngx_evbus authors
 */


/*
 * A microbenchmark of the event core, without nginx and Kafka: batches of
 * 100 purchase events of ~300 bytes (the shape bench/post.lua sends), fed
 * as one JSON array, without schemas or against
 * conf-examples/schemas/purchase.  Run it under callgrind for instruction
 * counts (scripts/bench-core.sh); wall-clock time is printed too.
 *
 * usage: bench_core noschema|schema [batches [schema dir]]
 * BENCH_JIT=1 JIT-compiles the patterns (what the module does under PCRE2).
 */


#define PCRE2_CODE_UNIT_WIDTH 8

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pcre2.h>

#include "ngx_evbus_event.h"
#include "ngx_evbus_schema.h"


#define BENCH_EVENTS  100
#define BENCH_SIZE    300
#define BENCH_BLOCK   (256 * 1024)


typedef struct block_s  block_t;

struct block_s {
    block_t        *next;
    size_t          used;
    size_t          size;
    unsigned char   data[];
};


typedef struct {
    block_t        *blocks;
} pool_t;


static void *pool_alloc(void *ctx, size_t size);
static void pool_free(pool_t *pool);
static void *regex_compile(void *ctx, const unsigned char *pattern,
    size_t len, char *err, size_t err_len);
static int regex_match(void *ctx, void *regex, const unsigned char *s,
    size_t len);
static size_t make_body(unsigned char *buf, size_t size);
static size_t run_batches(const unsigned char *body, size_t len,
    ngx_evbus_schemas_t *set, int batches);


static pcre2_match_data  *match_data;
static int                use_jit;


static void *
pool_alloc(void *ctx, size_t size)
{
    size_t    n;
    pool_t   *pool;
    block_t  *b;

    pool = ctx;
    size = (size + 15) & ~(size_t) 15;
    b = pool->blocks;

    if (b == NULL || b->size - b->used < size) {
        n = size > BENCH_BLOCK ? size : BENCH_BLOCK;

        b = malloc(sizeof(block_t) + n);
        if (b == NULL) {
            return NULL;
        }

        b->next = pool->blocks;
        b->used = 0;
        b->size = n;
        pool->blocks = b;
    }

    b->used += size;

    return b->data + b->used - size;
}


static void
pool_free(pool_t *pool)
{
    block_t  *b, *next;

    for (b = pool->blocks; b; b = next) {
        next = b->next;
        free(b);
    }

    pool->blocks = NULL;
}


/* as nginx: "(*UTF)" prepended, one match data kept for every match */

static void *
regex_compile(void *ctx, const unsigned char *pattern, size_t len, char *err,
    size_t err_len)
{
    int          rc;
    char         buf[1024];
    PCRE2_SIZE   off;
    pcre2_code  *re;

    (void) ctx;

    if (len + 6 > sizeof(buf)) {
        snprintf(err, err_len, "pattern too long");
        return NULL;
    }

    memcpy(buf, "(*UTF)", 6);
    memcpy(buf + 6, pattern, len);

    re = pcre2_compile((PCRE2_SPTR) buf, len + 6, PCRE2_DOLLAR_ENDONLY, &rc,
                       &off, NULL);
    if (re == NULL) {
        pcre2_get_error_message(rc, (PCRE2_UCHAR *) err, err_len);
        return NULL;
    }

    if (use_jit) {
        (void) pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    }

    return re;
}


static int
regex_match(void *ctx, void *regex, const unsigned char *s, size_t len)
{
    int  rc;

    (void) ctx;

    if (match_data == NULL) {
        match_data = pcre2_match_data_create(1, NULL);
        if (match_data == NULL) {
            return -1;
        }
    }

    rc = pcre2_match(regex, s, len, 0, 0, match_data, NULL);

    if (rc >= 0) {
        return 1;
    }

    return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}


/* bench/post.lua's purchase events: [{...},{...},...] */

static size_t
make_body(unsigned char *buf, size_t size)
{
    int          i, k, c, m, rest, nitems, skus;
    char         ev[1024], sku[65];
    size_t       n, len;
    static const char  alnum[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    n = 0;
    buf[n++] = '[';

    for (i = 1; i <= BENCH_EVENTS; i++) {
        c = 0;

        len = snprintf(ev, sizeof(ev),
                       "{\"event_type\":\"purchase\",\"event_id\":"
                       "\"bench-t1-%d\",\"event_version\":1,\"user_id\":"
                       "\"user-%05d\",\"order_id\":\"ord_%c%c%c%c%c%c%c%c%c%c"
                       "\",\"amount\":%d.%02d,\"currency\":\"EUR\","
                       "\"coupon\":null,\"items\":[",
                       i, i % 100000,
                       alnum[(i + 1) % 62], alnum[(i + 2) % 62],
                       alnum[(i + 3) % 62], alnum[(i + 4) % 62],
                       alnum[(i + 5) % 62], alnum[(i + 6) % 62],
                       alnum[(i + 7) % 62], alnum[(i + 8) % 62],
                       alnum[(i + 9) % 62], alnum[(i + 10) % 62],
                       100 + i % 900, i % 100);

        /* items whose skus (1..64 bytes) pad the event to BENCH_SIZE */

        rest = BENCH_SIZE - (int) len - 2;
        nitems = (rest + 1 + 37 + 64) / (37 + 64 + 1);
        skus = rest - nitems * 37 - (nitems - 1);

        for (k = 1; k <= nitems; k++) {
            m = skus / (nitems - k + 1);
            m = m < 1 ? 1 : (m > 64 ? 64 : m);
            skus -= m;

            for (c = 0; c < m; c++) {
                sku[c] = alnum[(i * 7 + k + c) % 62];
            }

            sku[m] = '\0';

            len += snprintf(ev + len, sizeof(ev) - len,
                            "%s{\"sku\":\"%s\",\"quantity\":%d,"
                            "\"price\":%d.%02d}",
                            k > 1 ? "," : "", sku, 1 + (i + k) % 9,
                            10 + (i + k) % 90, (i * k) % 100);
        }

        len += snprintf(ev + len, sizeof(ev) - len, "]}");

        if (n + len + 2 > size) {
            return 0;
        }

        if (i > 1) {
            buf[n++] = ',';
        }

        memcpy(buf + n, ev, len);
        n += len;
    }

    buf[n++] = ']';

    return n;
}


/* the measured part: callgrind --toggle-collect=run_batches */

__attribute__((noinline)) static size_t
run_batches(const unsigned char *body, size_t len, ngx_evbus_schemas_t *set,
    int batches)
{
    int                    b;
    size_t                 i, n, ok;
    pool_t                 pool;
    ngx_evbus_event_t     *ev;
    ngx_evbus_limits_t     limits;
    ngx_evbus_enrich_t     enrich;
    ngx_evbus_parser_t    *p;
    ngx_evbus_uuid_gen_t   gen;
    static const char      md[] =
        "\"ingest_timestamp\":\"2026-11-26T17:00:00.000Z\","
        "\"source_service\":\"bench\"";

    (void) ngx_evbus_uuid_init(&gen);

    limits.max_event_size = 65536;
    limits.max_events = 1000;
    limits.max_depth = 32;

    memset(&enrich, 0, sizeof(ngx_evbus_enrich_t));
    enrich.metadata = (const unsigned char *) md;
    enrich.metadata_len = sizeof(md) - 1;
    enrich.now_ms = 1790000000000;
    enrich.uuid = &gen;

    ok = 0;

    for (b = 0; b < batches; b++) {
        pool.blocks = NULL;

        p = ngx_evbus_parser_create(NGX_EVBUS_FORMAT_JSON, &limits, &enrich,
                                    pool_alloc, &pool);
        if (p == NULL) {
            return 0;
        }

        if (set && ngx_evbus_parser_set_schemas(p, set, 0, 0) != 0) {
            return 0;
        }

        if (ngx_evbus_parser_feed(p, body, len) != NGX_EVBUS_PARSE_OK
            || ngx_evbus_parser_finish(p) != NGX_EVBUS_PARSE_OK)
        {
            fprintf(stderr, "bad body: %s\n", ngx_evbus_parser_error(p));
            return 0;
        }

        ev = ngx_evbus_parser_events(p, &n);

        for (i = 0; i < n; i++) {
            if (ev[i].error) {
                fprintf(stderr, "event %zu rejected: %s\n", i, ev[i].error);
                return 0;
            }

            ok++;
        }

        ngx_evbus_parser_destroy(p);
        pool_free(&pool);
    }

    return ok;
}


int
main(int argc, char **argv)
{
    int                      batches, schema;
    char                     err[NGX_EVBUS_SCHEMA_ERR_LEN];
    size_t                   len, ok;
    double                   t;
    pool_t                   spool;
    const char              *dir;
    struct timespec          t0, t1;
    ngx_evbus_schemas_t     *set;
    ngx_evbus_schema_env_t   env;
    static unsigned char     body[BENCH_EVENTS * 1024];

    if (argc < 2) {
        fprintf(stderr, "usage: bench_core noschema|schema [batches [dir]]\n");
        return 2;
    }

    schema = (strcmp(argv[1], "schema") == 0);
    batches = argc > 2 ? atoi(argv[2]) : 1000;
    dir = argc > 3 ? argv[3] : "conf-examples/schemas";
    use_jit = getenv("BENCH_JIT") && strcmp(getenv("BENCH_JIT"), "1") == 0;

    len = make_body(body, sizeof(body));
    if (len == 0) {
        return 1;
    }

    set = NULL;
    spool.blocks = NULL;

    if (schema) {
        env.alloc = pool_alloc;
        env.alloc_ctx = &spool;
        env.regex_compile = regex_compile;
        env.regex_match = regex_match;
        env.regex_ctx = NULL;

        set = ngx_evbus_schemas_create(&env);

        if (set == NULL
            || ngx_evbus_schemas_load(set, dir, err, sizeof(err)) != 0)
        {
            fprintf(stderr, "schemas: %s\n", set ? err : "no memory");
            return 1;
        }
    }

    /* one batch outside the measurement: first-use allocations */

    if (run_batches(body, len, set, 1) != BENCH_EVENTS) {
        return 1;
    }

    clock_gettime(CLOCK_MONOTONIC, &t0);
    ok = run_batches(body, len, set, batches);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    if (ok != (size_t) batches * BENCH_EVENTS) {
        return 1;
    }

    t = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;

    printf("%s%s: %d batches of %d events, %zu bytes each (%.0f bytes an"
           " event), %.0f ns an event\n", argv[1], use_jit ? " (jit)" : "",
           batches, BENCH_EVENTS, len, (double) len / BENCH_EVENTS,
           t * 1e9 / ok);

    pool_free(&spool);

    return 0;
}
