
/*
 * Copyright (C) ngx_evbus authors
 */


/*
 * Unit tests of evbus_format segment in the event core: the batch's
 * envelope, the mapping of an item onto the event model, the members the
 * core adds (and only adds) to the client's bytes, and every cut of the
 * body into two chunks giving the same values.  TAP.
 */

#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_evbus_event.h"
#include "ngx_evbus_segment.h"

#include "support.h"


#define MD    "\"ingest_timestamp\":\"2026-11-26T17:00:00.000Z\""
#define NOW   1795712400000LL         /* 2026-11-26T17:00:00.000Z */

#define S(s)  (const unsigned char *) (s), sizeof(s) - 1


typedef struct {
    evbus_pool_t        pool;
    int                 rc;
    const char         *error;
    ngx_evbus_event_t  *ev;
    size_t              n;
    const unsigned char *key;
    size_t              key_len;
} res_t;


static ngx_evbus_limits_t    limits = { 32768, 2500, 32 };
static ngx_evbus_uuid_gen_t  gen;
static ngx_evbus_enrich_t    enrich;


/* body fed in two chunks cut at "cut" (len: none), each from a heap copy */

static void
run(res_t *r, int format, int call, const char *body, size_t cut)
{
    size_t               len, from, to, i;
    unsigned char       *copy;
    ngx_evbus_parser_t  *p;

    memset(r, 0, sizeof(res_t));
    memset(&gen, 0, sizeof(gen));
    gen.state[0] = 1;
    gen.state[1] = 2;

    enrich.metadata = (const unsigned char *) MD;
    enrich.metadata_len = sizeof(MD) - 1;
    enrich.now_ms = NOW;
    enrich.uuid = &gen;

    len = strlen(body);

    p = ngx_evbus_parser_create(format, &limits, &enrich, evbus_pool_alloc,
                                &r->pool);
    if (p == NULL) {
        r->rc = NGX_EVBUS_PARSE_NOMEM;
        return;
    }

    if (call) {
        ngx_evbus_parser_set_segment_call(p, call);
    }

    from = 0;

    for (i = 0; i < 2; i++) {
        to = (i == 0 && cut < len) ? cut : len;

        copy = malloc(to - from + 1);
        memcpy(copy, body + from, to - from);
        r->rc = ngx_evbus_parser_feed(p, copy, to - from);
        memset(copy, 'X', to - from);
        free(copy);

        if (r->rc != NGX_EVBUS_PARSE_OK) {
            break;
        }

        from = to;
    }

    if (r->rc == NGX_EVBUS_PARSE_OK) {
        r->rc = ngx_evbus_parser_finish(p);
    }

    if (r->rc == NGX_EVBUS_PARSE_OK) {
        r->key = ngx_evbus_parser_write_key(p, &r->key_len);
        r->rc = ngx_evbus_parser_build(p);
    }

    r->error = ngx_evbus_parser_error(p);
    r->ev = ngx_evbus_parser_events(p, &r->n);
    ngx_evbus_parser_destroy(p);
}


static int
value_is(ngx_evbus_event_t *ev, const char *want)
{
    if (ev->value == NULL || ev->value_len != strlen(want)
        || memcmp(ev->value, want, ev->value_len) != 0)
    {
        printf("#   got:  '%.*s'\n#   want: '%s'\n", (int) ev->value_len,
               ev->value ? (const char *) ev->value : "(null)", want);
        return 0;
    }

    return evbus_valid_json(ev->value, ev->value_len);
}


static int
has(ngx_evbus_event_t *ev, const char *s)
{
    return ev->value && memmem(ev->value, ev->value_len, s, strlen(s));
}


static const char  batch[] =
    "{\"batch\":[{\"type\":\"track\",\"event\":\"Order Completed\","
    "\"userId\":\"u1\",\"messageId\":\"m-1\","
    "\"timestamp\":\"2026-11-26T16:59:00.000Z\","
    "\"properties\":{\"total\":12.50}},"
    "{\"type\":\"identify\",\"anonymousId\":\"a1\",\"messageId\":\"m-\\\"2\","
    "\"context\":{\"ip\":\"1.2.3.4\"},\"traits\":{}},"
    "{\"type\":\"page\",\"messageId\":\"m-3\"},"
    "{\"type\":\"launch\",\"userId\":\"u1\"}"
    "],\"context\":{\"library\":{\"name\":\"x\"}},"
    "\"writeKey\":\"wk_1\",\"sentAt\":\"2026-11-26T16:59:30.000Z\"}";

/* the client sent 30 s after the event by its clock, and is 30 s late */
#define CORR  "\"corrected_timestamp\":\"2026-11-26T16:59:30.000Z\""

static const char  want0[] =
    "{\"event_id\":\"m-1\",\"event_type\":\"order_completed\","
    "\"context\":{\"library\":{\"name\":\"x\"}},"
    "\"type\":\"track\",\"event\":\"Order Completed\","
    "\"userId\":\"u1\",\"messageId\":\"m-1\","
    "\"timestamp\":\"2026-11-26T16:59:00.000Z\","
    "\"properties\":{\"total\":12.50},"
    "\"metadata\":{\"event_version\":1," MD "," CORR "}}";

static const char  want1[] =
    "{\"event_id\":\"m-\\\"2\",\"event_type\":\"identify\","
    "\"type\":\"identify\",\"anonymousId\":\"a1\",\"messageId\":\"m-\\\"2\","
    "\"context\":{\"ip\":\"1.2.3.4\"},\"traits\":{},"
    "\"metadata\":{\"event_version\":1," MD "}}";


static void
test_batch(void)
{
    int     good;
    res_t   r;
    size_t  cut, len;

    len = sizeof(batch) - 1;
    good = 1;

    for (cut = 0; cut <= len; cut++) {
        run(&r, NGX_EVBUS_FORMAT_SEGMENT_BATCH, 0, batch, cut);

        if (r.rc != NGX_EVBUS_PARSE_OK || r.n != 4
            || !value_is(&r.ev[0], want0) || !value_is(&r.ev[1], want1)
            || r.ev[2].error == NULL || r.ev[3].error == NULL
            || r.key_len != 4 || memcmp(r.key, "wk_1", 4) != 0
            || r.ev[1].event_id_len != 4
            || memcmp(r.ev[1].event_id, "m-\"2", 4) != 0)
        {
            printf("#   cut at %zu: rc %d n %zu error %s\n", cut, r.rc, r.n,
                   r.error ? r.error : "-");
            good = 0;
        }

        if (!good) {
            evbus_pool_free(&r.pool);
            break;
        }

        if (cut == len) {
            ok(r.ev[0].event_type_len == 15
               && memcmp(r.ev[0].event_type, "order_completed", 15) == 0,
               "track: event_type is the normalised event name");
            ok(strcmp(r.ev[2].error, "userId or anonymousId is required")
               == 0 && r.ev[2].event_type_len == 4,
               "page without userId or anonymousId is rejected: %s",
               r.ev[2].error);
            ok(strcmp(r.ev[2].error_kind, "user_id") == 0,
               "its kind is user_id");
            ok(strstr(r.ev[3].error, "type must be") != NULL,
               "an unknown type is rejected: %s", r.ev[3].error);
            ok(r.ev[2].raw_len > 0 && r.ev[2].raw[0] == '{',
               "a rejected item keeps its bytes for the dead letter");
        }

        evbus_pool_free(&r.pool);
    }

    ok(good, "a batch cut anywhere: the same values, context added only"
       " where the item has none, corrected_timestamp from sentAt");
}


static void
test_single(void)
{
    res_t  r;

    run(&r, NGX_EVBUS_FORMAT_SEGMENT, NGX_EVBUS_SEGMENT_TRACK,
        "{\"event\":\"Signed Up\",\"userId\":7,\"writeKey\":\"k\"}", 1000);

    ok(r.rc == NGX_EVBUS_PARSE_OK && r.n == 1 && r.ev[0].error == NULL
       && r.ev[0].generated_id && r.ev[0].event_id_len == 36,
       "single track: accepted, a UUIDv7 when no messageId came");
    ok(r.n == 1 && r.ev[0].value
       && memcmp(r.ev[0].value + 1 + 12 + 36 + 2,
                 "\"event_type\":\"signed_up\",\"event\":\"Signed Up\"",
                 sizeof("\"event_type\":\"signed_up\",\"event\":\"Signed Up\"")
                 - 1) == 0,
       "single track: event_type spliced, the name kept as sent");
    ok(r.key_len == 1 && r.key[0] == 'k', "single call: writeKey in body");
    evbus_pool_free(&r.pool);

    run(&r, NGX_EVBUS_FORMAT_SEGMENT, NGX_EVBUS_SEGMENT_TRACK,
        "[{\"event\":\"x\",\"userId\":\"u\"}]", 1000);
    ok(r.rc == NGX_EVBUS_PARSE_BAD_BODY, "single call: an array is 400");
    evbus_pool_free(&r.pool);

    run(&r, NGX_EVBUS_FORMAT_SEGMENT, NGX_EVBUS_SEGMENT_ALIAS,
        "{\"userId\":\"u\",\"previousId\":\"a\",\"event_type\":\"x\"}", 1000);
    ok(r.rc == NGX_EVBUS_PARSE_OK && r.n == 1 && r.ev[0].error
       && strcmp(r.ev[0].error_kind, "event_type") == 0,
       "an item's own event_type is rejected");
    evbus_pool_free(&r.pool);
}


static void
test_envelope(void)
{
    res_t  r;

    run(&r, NGX_EVBUS_FORMAT_SEGMENT_BATCH, 0, "{\"sentAt\":\"x\"}", 1000);
    ok(r.rc == NGX_EVBUS_PARSE_BAD_BODY && strstr(r.error, "batch"),
       "no batch: 400 (%s)", r.error ? r.error : "-");
    evbus_pool_free(&r.pool);

    run(&r, NGX_EVBUS_FORMAT_SEGMENT_BATCH, 0, "{\"batch\":{}}", 1000);
    ok(r.rc == NGX_EVBUS_PARSE_BAD_BODY, "batch not an array: 400");
    evbus_pool_free(&r.pool);

    run(&r, NGX_EVBUS_FORMAT_SEGMENT_BATCH, 0, "[{\"batch\":[]}]", 1000);
    ok(r.rc == NGX_EVBUS_PARSE_BAD_BODY, "an array body: 400");
    evbus_pool_free(&r.pool);

    run(&r, NGX_EVBUS_FORMAT_SEGMENT_BATCH, 0,
        "{\"batch\":[{\"type\":\"track\",\"event\":\"e\",\"userId\":\"u\"}",
        1000);
    ok(r.rc == NGX_EVBUS_PARSE_BAD_BODY, "a truncated batch: 400");
    evbus_pool_free(&r.pool);

    run(&r, NGX_EVBUS_FORMAT_SEGMENT_BATCH, 0,
        "{\"context\":{\"a\":[1,{\"b\":\"\\u00e9\"}]},\"integrations\":"
        "{\"All\":false},\"batch\":[1,{\"type\":\"group\",\"userId\":\"u\","
        "\"groupId\":\"g\",\"integrations\":{}}]}", 1000);
    ok(r.rc == NGX_EVBUS_PARSE_OK && r.n == 2 && r.ev[0].error
       && r.ev[1].error == NULL && r.ev[1].value
       && has(&r.ev[1],
              "\"context\":{\"a\":[1,{\"b\":\"\\u00e9\"}]},\"type\"")
       && !has(&r.ev[1], "\"integrations\":{\"All\""),
       "batch-level context before the batch is added, integrations not"
       " (the item has its own); a scalar item is rejected");
    evbus_pool_free(&r.pool);
}


static void
test_added_size(void)
{
    res_t   r;
    size_t  max;

    max = limits.max_event_size;
    limits.max_event_size = 256;

    run(&r, NGX_EVBUS_FORMAT_SEGMENT_BATCH, 0,
        "{\"batch\":[{\"type\":\"track\",\"event\":\"e\",\"userId\":\"u\","
        "\"p\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"},"
        "{\"type\":\"track\",\"event\":\"e\",\"userId\":\"u\","
        "\"context\":{}}],"
        "\"context\":{\"c\":\"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
        "yy"
        "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
        "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\"}}",
        1000);

    ok(r.rc == NGX_EVBUS_PARSE_OK && r.n == 2 && r.ev[0].error
       && strcmp(r.ev[0].error_kind, "too_large") == 0
       && r.ev[1].error == NULL,
       "an item too large with the batch's context added: too_large; one"
       " with its own context: accepted");
    evbus_pool_free(&r.pool);

    limits.max_event_size = max;
}


static void
test_names(void)
{
    size_t         n;
    unsigned char  b[NGX_EVBUS_EVENT_TYPE_MAX];

    n = ngx_evbus_segment_name(b, S("  Order  Completed! "));
    ok(n == 15 && memcmp(b, "order_completed", 15) == 0, "name rule");

    n = ngx_evbus_segment_name(b, S("caf\xc3\xa9 v1.2-x_y"));
    ok(n == 12 && memcmp(b, "caf_v1.2-x_y", 12) == 0, "non-ASCII: a gap");

    n = ngx_evbus_segment_name(b, S("!!!"));
    ok(n == 0, "nothing left");

    ok(ngx_evbus_segment_path(S("/v1/batch")) == NGX_EVBUS_SEGMENT_BATCH
       && ngx_evbus_segment_path(S("/v1/b")) == NGX_EVBUS_SEGMENT_BATCH
       && ngx_evbus_segment_path(S("/v1/t")) == NGX_EVBUS_SEGMENT_TRACK
       && ngx_evbus_segment_path(S("/v1/identify/"))
          == NGX_EVBUS_SEGMENT_IDENTIFY
       && ngx_evbus_segment_path(S("/v1/a")) == NGX_EVBUS_SEGMENT_ALIAS
       && ngx_evbus_segment_path(S("/v1/x")) == NGX_EVBUS_SEGMENT_NONE,
       "paths");
}


int
main(void)
{
    test_batch();
    test_single();
    test_envelope();
    test_added_size();
    test_names();

    printf("1..%d\n", ntests);

    return nfailed ? 1 : 0;
}
