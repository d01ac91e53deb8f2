
/*
 * Copyright (C) ngx_evbus authors
 */


/*
 * Unit tests of schema loading and of validation inside the event core's
 * streaming pass, printed as TAP.  Regular expressions go through
 * libpcre2-8 here, as nginx's own engine does in the module.  The simple
 * pattern matcher and the format checkers have their own tests
 * (test_regex.c, test_format.c).
 */

#define PCRE2_CODE_UNIT_WIDTH  8

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pcre2.h>
#include <yajl/yajl_parse.h>

#include "ngx_evbus_event.h"
#include "ngx_evbus_schema.h"

#include "support.h"


#define JSON    NGX_EVBUS_FORMAT_JSON
#define NDJSON  NGX_EVBUS_FORMAT_NDJSON

#define MD    "\"ingest_timestamp\":\"2026-11-26T17:00:00.000Z\""


typedef struct {
    evbus_pool_t              pool;
    int                 rc;
    ngx_evbus_event_t  *ev;
    size_t              n;
} res_t;


static ngx_evbus_limits_t    limits = { 32768, 1000, 32 };
static ngx_evbus_uuid_gen_t  gen;
static ngx_evbus_enrich_t    enrich;
static int64_t               default_version;
static int                   unknown_accept;


/* the sets made by a test, with their patterns */

typedef struct {
    ngx_evbus_schemas_t  *set;
    evbus_pool_t                pool;
    pcre2_code           *res[64];
    size_t                nres;
} tset_t;


static void *
tset_regex_compile(void *ctx, const unsigned char *pattern, size_t len,
    char *err, size_t err_len)
{
    int          rc;
    tset_t      *t;
    PCRE2_SIZE   off;
    pcre2_code  *re;

    t = ctx;

    if (t->nres == 64) {
        snprintf(err, err_len, "too many patterns for the test");
        return NULL;
    }

    re = pcre2_compile(pattern, len, PCRE2_UTF|PCRE2_DOLLAR_ENDONLY, &rc,
                       &off, NULL);
    if (re == NULL) {
        pcre2_get_error_message(rc, (PCRE2_UCHAR *) err, err_len);
        return NULL;
    }

    t->res[t->nres++] = re;

    return re;
}


static void
tset_init(tset_t *t)
{
    ngx_evbus_schema_env_t  e;

    memset(t, 0, sizeof(tset_t));

    e.alloc = evbus_pool_alloc;
    e.alloc_ctx = &t->pool;
    e.regex_compile = tset_regex_compile;
    e.regex_match = evbus_regex_match;
    e.regex_ctx = t;

    t->set = ngx_evbus_schemas_create(&e);
}


static void
tset_free(tset_t *t)
{
    size_t  i;

    for (i = 0; i < t->nres; i++) {
        pcre2_code_free(t->res[i]);
    }

    evbus_pool_free(&t->pool);
}


static int
tset_add(tset_t *t, const char *type, int64_t version, const char *json,
    char *err, size_t err_len)
{
    return ngx_evbus_schemas_add(t->set, (const unsigned char *) type,
                                 strlen(type), version,
                                 (const unsigned char *) json, strlen(json),
                                 "test.json", err, err_len);
}


static void
run_cuts(res_t *r, const ngx_evbus_schemas_t *set, int format,
    const char *body, const size_t *cuts, size_t ncuts)
{
    size_t               i, from, to, len;
    unsigned char       *copy;
    ngx_evbus_parser_t  *p;

    memset(r, 0, sizeof(res_t));
    memset(&gen, 0, sizeof(gen));
    gen.state[0] = 1;
    gen.state[1] = 2;

    enrich.metadata = (const unsigned char *) MD;
    enrich.metadata_len = sizeof(MD) - 1;
    enrich.now_ms = 1764176400000LL;
    enrich.uuid = &gen;

    len = strlen(body);

    p = ngx_evbus_parser_create(format, &limits, &enrich, evbus_pool_alloc,
                                &r->pool);
    if (p == NULL) {
        r->rc = NGX_EVBUS_PARSE_NOMEM;
        return;
    }

    r->rc = ngx_evbus_parser_set_schemas(p, set, default_version,
                                         unknown_accept);
    from = 0;

    for (i = 0; i <= ncuts && r->rc == NGX_EVBUS_PARSE_OK; i++) {
        to = (i < ncuts) ? cuts[i] : len;

        copy = malloc(to - from + 1);
        memcpy(copy, body + from, to - from);
        r->rc = ngx_evbus_parser_feed(p, copy, to - from);
        memset(copy, 'X', to - from);
        free(copy);

        from = to;
    }

    if (r->rc == NGX_EVBUS_PARSE_OK) {
        r->rc = ngx_evbus_parser_finish(p);
    }

    r->ev = ngx_evbus_parser_events(p, &r->n);
    ngx_evbus_parser_destroy(p);

    for (i = 0; r->rc == NGX_EVBUS_PARSE_OK && i < r->n; i++) {
        if (r->ev[i].error == NULL
            && !evbus_valid_json(r->ev[i].value, r->ev[i].value_len))
        {
            printf("#   not JSON: %.*s\n", (int) r->ev[i].value_len,
                   r->ev[i].value);
            r->rc = -100;
        }
    }
}


static void
run(res_t *r, const ngx_evbus_schemas_t *set, int format, const char *body)
{
    run_cuts(r, set, format, body, NULL, 0);
}


static int
same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }

    return strcmp(a, b) == 0;
}


/* one event against one schema: its error, NULL when it is valid */

static int
check(const char *schema, const char *event, const char *want)
{
    int     good;
    char    err[NGX_EVBUS_SCHEMA_ERR_LEN];
    res_t   r;
    tset_t  t;

    tset_init(&t);

    if (tset_add(&t, "t", 1, schema, err, sizeof(err)) != 0
        || ngx_evbus_schemas_done(t.set, err, sizeof(err)) != 0)
    {
        printf("#   schema: %s\n", err);
        tset_free(&t);
        return 0;
    }

    run(&r, t.set, JSON, event);

    good = (r.rc == NGX_EVBUS_PARSE_OK && r.n == 1
            && same_str(r.ev[0].error, want));

    if (!good) {
        printf("#   rc %d n %zu error '%s', want '%s'\n", r.rc, r.n,
               r.n ? (r.ev[0].error ? r.ev[0].error : "(null)") : "",
               want ? want : "(null)");
    }

    evbus_pool_free(&r.pool);
    tset_free(&t);

    return good;
}


/* "{\"event_type\":\"t\"," body "}" */

#define EV(body)  "{\"event_type\":\"t\"," body "}"

#define PASS(schema, event)                                                   \
    ok(check(schema, EV(event), NULL), "passes %s: %s", schema, event)

#define FAIL(schema, event, error)                                            \
    ok(check(schema, EV(event), error), "fails %s: %s", schema, event)


static void
test_keywords(void)
{
    /* type */
    PASS("{\"properties\":{\"a\":{\"type\":\"number\"}}}", "\"a\":1.5");
    PASS("{\"properties\":{\"a\":{\"type\":\"number\"}}}", "\"a\":-3");
    FAIL("{\"properties\":{\"price\":{\"type\":\"number\"}}}",
         "\"price\":\"9.99\"", "/price: expected number, got string");
    PASS("{\"properties\":{\"a\":{\"type\":\"integer\"}}}", "\"a\":10");
    PASS("{\"properties\":{\"a\":{\"type\":\"integer\"}}}", "\"a\":1.0");
    PASS("{\"properties\":{\"a\":{\"type\":\"integer\"}}}", "\"a\":1e2");
    FAIL("{\"properties\":{\"a\":{\"type\":\"integer\"}}}", "\"a\":1.5",
         "/a: expected integer, got number");
    PASS("{\"properties\":{\"a\":{\"type\":\"string\"}}}", "\"a\":\"x\"");
    FAIL("{\"properties\":{\"a\":{\"type\":\"string\"}}}", "\"a\":null",
         "/a: expected string, got null");
    PASS("{\"properties\":{\"a\":{\"type\":\"boolean\"}}}", "\"a\":false");
    FAIL("{\"properties\":{\"a\":{\"type\":\"boolean\"}}}", "\"a\":0",
         "/a: expected boolean, got number");
    PASS("{\"properties\":{\"a\":{\"type\":\"null\"}}}", "\"a\":null");
    FAIL("{\"properties\":{\"a\":{\"type\":\"null\"}}}", "\"a\":true",
         "/a: expected null, got true");
    PASS("{\"properties\":{\"a\":{\"type\":\"object\"}}}", "\"a\":{\"b\":1}");
    FAIL("{\"properties\":{\"a\":{\"type\":\"object\"}}}", "\"a\":[]",
         "/a: expected object, got array");
    PASS("{\"properties\":{\"a\":{\"type\":\"array\"}}}", "\"a\":[1,{}]");
    FAIL("{\"properties\":{\"a\":{\"type\":\"array\"}}}", "\"a\":{}",
         "/a: expected array, got object");
    PASS("{\"properties\":{\"a\":{\"type\":[\"string\",\"null\"]}}}",
         "\"a\":null");
    PASS("{\"properties\":{\"a\":{\"type\":[\"string\",\"null\"]}}}",
         "\"a\":\"s\"");
    FAIL("{\"properties\":{\"a\":{\"type\":[\"string\",\"null\"]}}}",
         "\"a\":1", "/a: expected null or string, got number");

    /* properties, nested */
    PASS("{\"properties\":{\"a\":{\"properties\":{\"b\":{\"properties\":"
         "{\"c\":{\"type\":\"string\"}}}}}}}", "\"a\":{\"b\":{\"c\":\"x\"}}");
    FAIL("{\"properties\":{\"a\":{\"properties\":{\"b\":{\"properties\":"
         "{\"c\":{\"type\":\"string\"}}}}}}}", "\"a\":{\"b\":{\"c\":7}}",
         "/a/b/c: expected string, got number");
    FAIL("{\"properties\":{\"a/b\":{\"properties\":{\"c~d\":"
         "{\"type\":\"string\"}}}}}", "\"a/b\":{\"c~d\":7}",
         "/a~1b/c~0d: expected string, got number");
    PASS("{\"properties\":{\"a\":{\"type\":\"string\"}}}",
         "\"z\":{\"a\":1},\"y\":[{\"a\":2}]");

    /* required */
    PASS("{\"required\":[\"a\",\"b\"]}", "\"a\":1,\"b\":null");
    FAIL("{\"required\":[\"a\",\"b\"]}", "\"a\":1",
         "/b: expected a required property, got none");
    FAIL("{\"properties\":{\"o\":{\"required\":[\"id\"]}}}", "\"o\":{}",
         "/o/id: expected a required property, got none");
    PASS("{\"required\":[\"event_type\"]}", "\"x\":1");

    /* additionalProperties */
    PASS("{\"additionalProperties\":false,\"properties\":{\"a\":{}}}",
         "\"a\":1,\"event_id\":\"i\",\"metadata\":{\"k\":1},"
         "\"event_version\":1");
    FAIL("{\"additionalProperties\":false,\"properties\":{\"a\":{}}}",
         "\"a\":1,\"b\":2",
         "/b: expected no undeclared property, got one");
    FAIL("{\"properties\":{\"o\":{\"additionalProperties\":false}}}",
         "\"o\":{\"event_id\":1}",
         "/o/event_id: expected no undeclared property, got one");
    PASS("{\"additionalProperties\":true}", "\"b\":2");

    /* enum, const */
    PASS("{\"properties\":{\"c\":{\"enum\":[\"EUR\",\"USD\",1,null]}}}",
         "\"c\":\"USD\"");
    PASS("{\"properties\":{\"c\":{\"enum\":[\"EUR\",\"USD\",1,null]}}}",
         "\"c\":1.0");
    PASS("{\"properties\":{\"c\":{\"enum\":[\"EUR\",\"USD\",1,null]}}}",
         "\"c\":null");
    FAIL("{\"properties\":{\"c\":{\"enum\":[\"EUR\",\"USD\",1,null]}}}",
         "\"c\":\"GBP\"",
         "/c: expected one of \"EUR\", \"USD\", 1, null, got \"GBP\"");
    FAIL("{\"properties\":{\"c\":{\"enum\":[\"EUR\"]}}}", "\"c\":{}",
         "/c: expected one of \"EUR\", got object");
    PASS("{\"properties\":{\"c\":{\"const\":true}}}", "\"c\":true");
    FAIL("{\"properties\":{\"c\":{\"const\":true}}}", "\"c\":false",
         "/c: expected true, got false");
    FAIL("{\"properties\":{\"c\":{\"const\":\"x\"}}}", "\"c\":\"y\"",
         "/c: expected \"x\", got \"y\"");

    /* numbers */
    PASS("{\"properties\":{\"n\":{\"minimum\":0,\"maximum\":10}}}", "\"n\":0");
    PASS("{\"properties\":{\"n\":{\"minimum\":0,\"maximum\":10}}}",
         "\"n\":10");
    FAIL("{\"properties\":{\"n\":{\"minimum\":0}}}", "\"n\":-0.5",
         "/n: expected >= 0, got -0.5");
    FAIL("{\"properties\":{\"n\":{\"maximum\":10}}}", "\"n\":1e1000",
         "/n: expected <= 10, got 1e1000");
    PASS("{\"properties\":{\"n\":{\"exclusiveMinimum\":0,"
         "\"exclusiveMaximum\":1}}}", "\"n\":0.5");
    FAIL("{\"properties\":{\"n\":{\"exclusiveMinimum\":0}}}", "\"n\":0",
         "/n: expected > 0, got 0");
    FAIL("{\"properties\":{\"n\":{\"exclusiveMaximum\":1}}}", "\"n\":1",
         "/n: expected < 1, got 1");
    PASS("{\"properties\":{\"n\":{\"minimum\":0}}}", "\"n\":\"-1\"");
    PASS("{\"properties\":{\"n\":{\"const\":0.1}}}", "\"n\":1e-1");
    PASS("{\"properties\":{\"n\":{\"const\":0.1}}}", "\"n\":0.1000");
    PASS("{\"properties\":{\"n\":{\"const\":-1.5e3}}}", "\"n\":-1500");
    PASS("{\"properties\":{\"n\":{\"const\":123456789012345678}}}",
         "\"n\":123456789012345678");
    PASS("{\"properties\":{\"n\":{\"maximum\":1e300}}}",
         "\"n\":0.000000000000000000000000000123");
    FAIL("{\"properties\":{\"n\":{\"exclusiveMaximum\":0.3}}}",
         "\"n\":0.30000000000000000001",
         "/n: expected < 0.3, got 0.30000000000000000001");
    PASS("{\"properties\":{\"n\":{\"type\":\"integer\"}}}",
         "\"n\":12.5e1");
    FAIL("{\"properties\":{\"n\":{\"type\":\"integer\"}}}",
         "\"n\":12.55e1", "/n: expected integer, got number");

    /* strings: lengths in characters */
    PASS("{\"properties\":{\"s\":{\"minLength\":2,\"maxLength\":3}}}",
         "\"s\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    PASS("{\"properties\":{\"s\":{\"maxLength\":2}}}",
         "\"s\":\"\\u00e9\\ud83d\\ude00\"");
    FAIL("{\"properties\":{\"s\":{\"maxLength\":2}}}",
         "\"s\":\"\xc3\xa9\xc3\xa9\xc3\xa9\"",
         "/s: expected at most 2 characters, got 3");
    FAIL("{\"properties\":{\"s\":{\"minLength\":2}}}", "\"s\":\"\xc3\xa9\"",
         "/s: expected at least 2 characters, got 1");

    /* pattern: unanchored, UTF-8 aware */
    PASS("{\"properties\":{\"s\":{\"pattern\":\"^[A-Z]{3}$\"}}}",
         "\"s\":\"EUR\"");
    FAIL("{\"properties\":{\"s\":{\"pattern\":\"^[A-Z]{3}$\"}}}",
         "\"s\":\"eur\"",
         "/s: expected a match for \"^[A-Z]{3}$\", got \"eur\"");
    PASS("{\"properties\":{\"s\":{\"pattern\":\"b+\"}}}", "\"s\":\"abbc\"");

    /* ECMA-262: "$" only at the end, in the built-in matcher and PCRE2 */
    FAIL("{\"properties\":{\"s\":{\"pattern\":\"^[A-Z]{3}$\"}}}",
         "\"s\":\"EUR\\n\"",
         "/s: expected a match for \"^[A-Z]{3}$\", got \"EUR?\"");
    FAIL("{\"properties\":{\"s\":{\"pattern\":\"^(EUR|USD)$\"}}}",
         "\"s\":\"EUR\\n\"",
         "/s: expected a match for \"^(EUR|USD)$\", got \"EUR?\"");
    PASS("{\"properties\":{\"s\":{\"pattern\":\"^(EUR|USD)$\"}}}",
         "\"s\":\"USD\"");

    /* the engine giving up is not a mismatch */
    FAIL("{\"properties\":{\"s\":{\"pattern\":\"^(a+)+$\"}}}",
         "\"s\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaab\"",
         "/s: pattern \"^(a+)+$\" could not be evaluated");
    PASS("{\"properties\":{\"s\":{\"pattern\":\"^.{2}$\"}}}",
         "\"s\":\"\xc3\xa9\xe2\x82\xac\"");

    /* formats */
    PASS("{\"properties\":{\"f\":{\"format\":\"date-time\"}}}",
         "\"f\":\"2026-02-28T23:59:60.123+01:00\"");
    PASS("{\"properties\":{\"f\":{\"format\":\"date-time\"}}}",
         "\"f\":\"2024-02-29T00:00:00Z\"");
    FAIL("{\"properties\":{\"f\":{\"format\":\"date-time\"}}}",
         "\"f\":\"2023-02-29T00:00:00Z\"",
         "/f: expected date-time, got \"2023-02-29T00:00:00Z\"");
    FAIL("{\"properties\":{\"f\":{\"format\":\"date-time\"}}}",
         "\"f\":\"2026-01-01 10:00:00\"",
         "/f: expected date-time, got \"2026-01-01 10:00:00\"");
    PASS("{\"properties\":{\"f\":{\"format\":\"uuid\"}}}",
         "\"f\":\"0192f0c1-7e1a-7c3b-9d2e-4f5a6b7c8d9e\"");
    FAIL("{\"properties\":{\"f\":{\"format\":\"uuid\"}}}",
         "\"f\":\"0192f0c1-7e1a-7c3b-9d2e-4f5a6b7c8d9\"",
         "/f: expected uuid, got \"0192f0c1-7e1a-7c3b-9d2e-4f5a6b7c8d9\"");
    PASS("{\"properties\":{\"f\":{\"format\":\"email\"}}}",
         "\"f\":\"joe.bloggs+x@example.co.uk\"");
    FAIL("{\"properties\":{\"f\":{\"format\":\"email\"}}}",
         "\"f\":\"joe..b@example.com\"",
         "/f: expected email, got \"joe..b@example.com\"");
    FAIL("{\"properties\":{\"f\":{\"format\":\"email\"}}}", "\"f\":\"2962\"",
         "/f: expected email, got \"2962\"");
    PASS("{\"properties\":{\"f\":{\"format\":\"date\"}}}",
         "\"f\":\"2026-12-31\"");
    PASS("{\"properties\":{\"f\":{\"format\":\"time\"}}}",
         "\"f\":\"08:30:00z\"");
    PASS("{\"properties\":{\"f\":{\"format\":\"ipv4\"}}}",
         "\"f\":\"192.168.0.1\"");
    FAIL("{\"properties\":{\"f\":{\"format\":\"ipv4\"}}}",
         "\"f\":\"192.168.0.01\"", "/f: expected ipv4, got \"192.168.0.01\"");
    PASS("{\"properties\":{\"f\":{\"format\":\"ipv6\"}}}", "\"f\":\"::1\"");
    PASS("{\"properties\":{\"f\":{\"format\":\"hostname\"}}}",
         "\"f\":\"a-b.example\"");
    FAIL("{\"properties\":{\"f\":{\"format\":\"hostname\"}}}",
         "\"f\":\"-a.example\"", "/f: expected hostname, got \"-a.example\"");
    PASS("{\"properties\":{\"f\":{\"format\":\"uuid\"}}}", "\"f\":5");

    /* bounds of zero are bounds; an absent one bounds nothing */
    PASS("{\"properties\":{\"s\":{\"maxLength\":0}}}", "\"s\":\"\"");
    FAIL("{\"properties\":{\"s\":{\"maxLength\":0}}}", "\"s\":\"x\"",
         "/s: expected at most 0 characters, got 1");
    PASS("{\"properties\":{\"s\":{\"minLength\":0,\"maxLength\":0}}}",
         "\"s\":\"\"");
    PASS("{\"properties\":{\"a\":{\"minItems\":0}}}", "\"a\":[]");
    FAIL("{\"properties\":{\"a\":{\"maxItems\":0}}}", "\"a\":[0]",
         "/a: expected at most 0 items, got 1");
    PASS("{\"properties\":{\"a\":{\"minItems\":2}}}", "\"a\":[1,[2],{}]");
    FAIL("{\"properties\":{\"n\":{\"maximum\":0}}}", "\"n\":1e-9",
         "/n: expected <= 0, got 1e-9");
    PASS("{\"properties\":{\"n\":{\"exclusiveMaximum\":0}}}", "\"n\":-0.1");
    PASS("{\"properties\":{\"c\":{\"const\":null}}}", "\"c\":null");
    FAIL("{\"properties\":{\"c\":{\"const\":null}}}", "\"c\":0",
         "/c: expected null, got 0");
    FAIL("{\"properties\":{\"c\":{\"const\":false}}}", "\"c\":null",
         "/c: expected false, got null");
    FAIL("{\"properties\":{\"c\":{\"const\":0}}}", "\"c\":false",
         "/c: expected 0, got false");

    /* arrays */
    PASS("{\"properties\":{\"a\":{\"items\":{\"type\":\"integer\"},"
         "\"minItems\":1,\"maxItems\":3}}}", "\"a\":[1,2,3]");
    FAIL("{\"properties\":{\"a\":{\"items\":{\"type\":\"integer\"}}}}",
         "\"a\":[1,2,\"x\"]", "/a/2: expected integer, got string");
    FAIL("{\"properties\":{\"a\":{\"minItems\":1}}}", "\"a\":[]",
         "/a: expected at least 1 items, got 0");
    FAIL("{\"properties\":{\"a\":{\"maxItems\":2}}}", "\"a\":[[],{},3]",
         "/a: expected at most 2 items, got 3");
    FAIL("{\"properties\":{\"a\":{\"items\":{\"required\":[\"k\"]}}}}",
         "\"a\":[{\"k\":1},{\"j\":1}]",
         "/a/1/k: expected a required property, got none");
    FAIL("{\"properties\":{\"a\":{\"items\":{\"items\":{\"type\":\"null\"}}}}}",
         "\"a\":[[null],[null,null,0]]",
         "/a/1/2: expected null, got number");

    /* boolean schemas */
    PASS("{\"properties\":{\"a\":true}}", "\"a\":[1]");
    FAIL("{\"properties\":{\"a\":false}}", "\"a\":[1]",
         "/a: expected no value, got array");

    /* a declared member twice */
    FAIL("{\"properties\":{\"a\":{}},\"required\":[\"a\"]}",
         "\"a\":1,\"a\":\"x\"", "/a: duplicate key");
    PASS("{\"properties\":{\"a\":{}}}", "\"b\":1,\"b\":2");

    /* annotations are ignored */
    PASS("{\"$schema\":\"x\",\"$id\":\"y\",\"title\":\"t\",\"description\":"
         "\"d\",\"$comment\":\"c\",\"examples\":[1],\"default\":{},"
         "\"deprecated\":false,\"readOnly\":true,\"writeOnly\":false}",
         "\"a\":1");
}


static void
test_error_fields(void)
{
    char    err[NGX_EVBUS_SCHEMA_ERR_LEN];
    res_t   r;
    tset_t  t;

    tset_init(&t);
    tset_add(&t, "t", 1, "{\"properties\":{\"price\":{\"type\":\"number\"},"
             "\"s\":{\"enum\":[\"a\"]}}}", err, sizeof(err));
    ngx_evbus_schemas_done(t.set, err, sizeof(err));

    run(&r, t.set, JSON, "{\"event_type\":\"t\",\"price\":\"1\"}");
    ok(r.n == 1 && same_str(r.ev[0].error_kind, "schema")
       && same_str(r.ev[0].error_pointer, "/price")
       && same_str(r.ev[0].error_message, "expected number, got string")
       && same_str(r.ev[0].error_keyword, "type")
       && same_str(r.ev[0].error, "/price: expected number, got string")
       && r.ev[0].raw != NULL,
       "schema error: kind, pointer, message, keyword, raw");
    evbus_pool_free(&r.pool);

    run(&r, t.set, JSON, "{\"event_type\":\"t\",\"event_id\":5}");
    ok(r.n == 1 && same_str(r.ev[0].error_kind, "event_id")
       && same_str(r.ev[0].error_pointer, "/event_id"),
       "core error: kind event_id and its pointer");
    evbus_pool_free(&r.pool);

    /* bounded: a long pointer and a long value are cut */

    run(&r, t.set, JSON, "{\"event_type\":\"t\",\"s\":\""
        "0123456789012345678901234567890123456789012345678901234567890123"
        "\"}");
    ok(r.n == 1 && r.ev[0].error && strlen(r.ev[0].error) < 100
       && strstr(r.ev[0].error, "...\"") != NULL,
       "a long value is cut in the message: %s",
       r.n ? r.ev[0].error : "");
    evbus_pool_free(&r.pool);

    tset_free(&t);
}


static void
test_versions(void)
{
    char    err[NGX_EVBUS_SCHEMA_ERR_LEN];
    res_t   r;
    tset_t  t;

    tset_init(&t);
    tset_add(&t, "p", 1, "{\"required\":[\"amount\"],\"properties\":"
             "{\"amount\":{\"type\":\"number\"}}}", err, sizeof(err));
    tset_add(&t, "p", 3, "{\"required\":[\"total\"],\"properties\":"
             "{\"total\":{\"type\":\"integer\"}}}", err, sizeof(err));
    tset_add(&t, "p", 2, "{\"required\":[\"total\"],\"properties\":"
             "{\"total\":{\"type\":\"number\"}}}", err, sizeof(err));
    tset_add(&t, "one", 4, "{\"required\":[\"x\"]}", err, sizeof(err));
    ok(ngx_evbus_schemas_done(t.set, err, sizeof(err)) == 0
       && ngx_evbus_schemas_count(t.set) == 4
       && ngx_evbus_schemas_types(t.set) == 2, "4 schemas of 2 types");

    /* explicit versions, before and after event_type, or interleaved */

    run(&r, t.set, JSON, "[{\"event_type\":\"p\",\"event_version\":1,"
        "\"amount\":1.5},{\"event_version\":2,\"total\":2.5,"
        "\"event_type\":\"p\"},{\"total\":3,\"event_type\":\"p\","
        "\"event_version\":3},{\"event_type\":\"p\",\"total\":3.5,"
        "\"event_version\":3},{\"event_type\":\"p\",\"amount\":1,"
        "\"event_version\":2}]");
    ok(r.rc == 0 && r.n == 5
       && r.ev[0].error == NULL && r.ev[0].event_version == 1
       && r.ev[1].error == NULL && r.ev[1].event_version == 2
       && r.ev[2].error == NULL && r.ev[2].event_version == 3
       && same_str(r.ev[3].error, "/total: expected integer, got number")
       && same_str(r.ev[4].error,
                   "/total: expected a required property, got none"),
       "event_version picks the schema wherever it comes");
    evbus_pool_free(&r.pool);

    /* no version: the latest, stamped into metadata */

    run(&r, t.set, JSON, "[{\"event_type\":\"p\",\"total\":3},"
        "{\"event_type\":\"p\",\"total\":3.5}]");
    ok(r.rc == 0 && r.n == 2 && r.ev[0].error == NULL
       && r.ev[0].event_version == 3
       && strstr((char *) r.ev[0].value, "\"metadata\":{\"event_version\":3,")
          != NULL
       && same_str(r.ev[1].error, "/total: expected integer, got number"),
       "no event_version: the latest version, in metadata");
    evbus_pool_free(&r.pool);

    /* the default version, and a type without it gets its latest */

    default_version = 1;
    run(&r, t.set, JSON, "[{\"event_type\":\"p\",\"amount\":3},"
        "{\"event_type\":\"p\",\"total\":3},{\"event_type\":\"one\",\"x\":1}]");
    ok(r.rc == 0 && r.n == 3 && r.ev[0].error == NULL
       && r.ev[0].event_version == 1
       && same_str(r.ev[1].error,
                   "/amount: expected a required property, got none")
       && r.ev[2].error == NULL && r.ev[2].event_version == 4,
       "evbus_schema_default_version");
    default_version = 0;
    evbus_pool_free(&r.pool);

    /* unknown versions */

    run(&r, t.set, JSON, "[{\"event_type\":\"p\",\"event_version\":9},"
        "{\"event_type\":\"one\",\"x\":1,\"event_version\":5},"
        "{\"event_version\":4,\"event_type\":\"one\",\"x\":1}]");
    ok(r.rc == 0 && r.n == 3
       && same_str(r.ev[0].error, "no schema for event_type \"p\" version 9")
       && same_str(r.ev[0].error_kind, "unknown_version")
       && same_str(r.ev[1].error,
                   "no schema for event_type \"one\" version 5")
       && r.ev[2].error == NULL && r.ev[2].event_version == 4,
       "unknown versions are rejected, also when they come late");
    evbus_pool_free(&r.pool);

    /* unknown types */

    run(&r, t.set, JSON, "{\"event_type\":\"zz\",\"event_version\":2}");
    ok(r.rc == 0 && r.n == 1
       && same_str(r.ev[0].error, "no schema for event_type \"zz\"")
       && same_str(r.ev[0].error_kind, "unknown_type")
       && same_str(r.ev[0].error_pointer, "/event_type"),
       "unknown type rejected");
    evbus_pool_free(&r.pool);

    unknown_accept = 1;
    run(&r, t.set, JSON, "[{\"event_type\":\"zz\",\"event_version\":2},"
        "{\"event_type\":\"zz\"},{\"event_type\":\"p\",\"total\":1.5}]");
    ok(r.rc == 0 && r.n == 3 && r.ev[0].error == NULL
       && r.ev[0].event_version == 2 && r.ev[1].error == NULL
       && r.ev[1].event_version == 1 && r.ev[2].error != NULL,
       "unknown types accepted, known ones still validated");
    unknown_accept = 0;
    evbus_pool_free(&r.pool);

    tset_free(&t);
}


/* the same results whatever the chunks */

static int
same_events(const res_t *a, const res_t *b)
{
    size_t  i;

    if (a->rc != b->rc || a->n != b->n) {
        return 0;
    }

    for (i = 0; i < a->n; i++) {
        if (!same_str(a->ev[i].error, b->ev[i].error)
            || !same_str(a->ev[i].error_kind, b->ev[i].error_kind)
            || a->ev[i].event_version != b->ev[i].event_version
            || a->ev[i].value_len != b->ev[i].value_len
            || a->ev[i].raw_len != b->ev[i].raw_len
            || (a->ev[i].value
                && memcmp(a->ev[i].value, b->ev[i].value, a->ev[i].value_len)
                   != 0))
        {
            printf("#   event %zu: '%s' vs '%s'\n", i,
                   a->ev[i].error ? a->ev[i].error : "",
                   b->ev[i].error ? b->ev[i].error : "");
            return 0;
        }
    }

    return 1;
}


static void
test_examples(void)
{
    int                   good;
    char                  err[NGX_EVBUS_SCHEMA_ERR_LEN];
    size_t                cut, len, i, *cuts;
    res_t                 whole, part;
    tset_t                t;
    ngx_evbus_schemas_t  *set;
    const char           *body;

    tset_init(&t);
    set = t.set;

    ok(set && ngx_evbus_schemas_load(set, "conf-examples/schemas", err,
                                     sizeof(err)) == 0
       && ngx_evbus_schemas_count(set) == 8,
       "conf-examples/schemas: 8 schemas load");

    if (set == NULL || ngx_evbus_schemas_count(set) != 8) {
        printf("#   %s\n", err);
        tset_free(&t);
        return;
    }

    body = "[{\"event_type\":\"purchase\",\"event_version\":2,"
           "\"order_id\":\"ord_abc123\",\"customer\":{\"id\":\"u1\","
           "\"email\":\"a@example.com\"},\"total\":{\"amount_minor\":1999,"
           "\"currency\":\"EUR\"},\"items\":[{\"sku\":\"s1\",\"quantity\":1,"
           "\"unit_price_minor\":1999}]},"
           "{\"event_type\":\"purchase\",\"user_id\":\"u1\",\"order_id\":"
           "\"ord_abc123\",\"amount\":19.99,\"currency\":\"EUR\",\"items\":"
           "[{\"sku\":\"s1\",\"quantity\":1,\"price\":19.99}]},"
           "{\"order_id\":\"ord_abc123\",\"amount\":19.99,\"currency\":\"EUR\","
           "\"items\":[{\"sku\":\"s1\",\"quantity\":1,\"price\":19.99}],"
           "\"event_type\":\"purchase\",\"user_id\":\"u1\","
           "\"event_version\":1},"
           "{\"event_type\":\"purchase\",\"event_version\":2,"
           "\"order_id\":\"ord_abc123\",\"amount\":19.99,\"currency\":\"EUR\","
           "\"items\":[]},"
           "{\"event_type\":\"click\",\"user_id\":\"u1\",\"element_id\":\"b\","
           "\"occurred_at\":\"2026-11-26T17:00:00Z\",\"x\":-1},"
           "{\"event_type\":\"session_end\",\"session_id\":"
           "\"0192f0c1-7e1a-7c3b-9d2e-4f5a6b7c8d9e\",\"ended_at\":"
           "\"2026-11-26T17:00:00Z\",\"duration_ms\":10,\"reason\":\"timeout\"}"
           "]";

    default_version = 1;
    run(&whole, set, JSON, body);
    default_version = 0;

    ok(whole.rc == 0 && whole.n == 6
       && whole.ev[0].error == NULL && whole.ev[0].event_version == 2
       && whole.ev[1].error == NULL && whole.ev[1].event_version == 1
       && whole.ev[2].error == NULL && whole.ev[2].event_version == 1
       && same_str(whole.ev[3].error,
                   "/amount: expected no undeclared property, got one")
       && same_str(whole.ev[4].error, "/x: expected >= 0, got -1")
       && whole.ev[5].error == NULL,
       "example schemas: purchase v1 and v2, click, session_end");

    len = strlen(body);
    good = 1;

    default_version = 1;

    for (cut = 0; cut <= len && good; cut++) {
        run_cuts(&part, set, JSON, body, &cut, 1);
        good = same_events(&whole, &part);

        if (!good) {
            printf("#   differs when cut at %zu\n", cut);
        }

        evbus_pool_free(&part.pool);
    }

    ok(good, "validation: same result cut in two anywhere");

    cuts = malloc(len * sizeof(size_t));

    for (i = 0; i < len; i++) {
        cuts[i] = i;
    }

    run_cuts(&part, set, JSON, body, cuts, len);
    ok(same_events(&whole, &part), "validation: same result byte by byte");
    evbus_pool_free(&part.pool);
    free(cuts);

    default_version = 0;
    evbus_pool_free(&whole.pool);

    /* NDJSON, a broken line between valid ones */

    run(&whole, set, NDJSON,
        "{\"event_type\":\"plan_changed\",\"account_id\":\"a\",\"from_plan\":"
        "\"free\",\"to_plan\":\"pro\",\"seats\":3,\"effective_at\":"
        "\"2026-11-26T17:00:00Z\"}\n{\"event_type\":\"plan_changed\",\n"
        "{\"event_type\":\"plan_changed\",\"account_id\":\"a\",\"from_plan\":"
        "\"free\",\"to_plan\":\"gold\",\"seats\":3,\"effective_at\":"
        "\"2026-11-26T17:00:00Z\"}\n");
    ok(whole.rc == 0 && whole.n == 3 && whole.ev[0].error == NULL
       && same_str(whole.ev[1].error_kind, "invalid_json")
       && same_str(whole.ev[2].error_pointer, "/to_plan")
       && same_str(whole.ev[2].error_keyword, "enum"),
       "NDJSON with schemas");
    evbus_pool_free(&whole.pool);

    tset_free(&t);
}


/* a directory of schema files, for the loader's errors */

static const char  *tmpdir;


static void
put(const char *rel, const char *text)
{
    FILE  *f;
    char   path[512], dir[512], *slash;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
    snprintf(dir, sizeof(dir), "%s", path);

    slash = strrchr(dir, '/');
    *slash = '\0';
    mkdir(dir, 0755);

    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}


static int
load_error(const char *want)
{
    int                   rc;
    char                  err[NGX_EVBUS_SCHEMA_ERR_LEN];
    tset_t                t;

    tset_init(&t);
    err[0] = '\0';
    rc = ngx_evbus_schemas_load(t.set, tmpdir, err, sizeof(err));
    tset_free(&t);

    if (rc == 0 || strstr(err, want) == NULL) {
        printf("#   rc %d error '%s', want '%s'\n", rc, err, want);
        return 0;
    }

    return 1;
}


static void
clean(void)
{
    char  cmd[600];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'/*", tmpdir);

    if (system(cmd) != 0) {
        printf("# rm failed\n");
    }
}


static void
test_load_errors(void)
{
    char   tmpl[] = "/tmp/evbus-schema-XXXXXX";
    char   cmd[600];

    tmpdir = mkdtemp(tmpl);
    if (tmpdir == NULL) {
        ok(0, "mkdtemp");
        return;
    }

    ok(load_error("no schemas"), "an empty directory");

    put("click/1.json", "{\"type\":\"object\",\"allOf\":[]}");
    ok(load_error("/click/1.json: unsupported keyword \"allOf\" at the top"),
       "unsupported keyword, named with its file");
    clean();

    put("click/1.json", "{\"properties\":{\"a\":{\"$ref\":\"#/x\"}}}");
    ok(load_error("click/1.json: unsupported keyword \"$ref\" at"
                  " /properties/a"), "unsupported keyword, nested: where");
    clean();

    put("click/1.json", "{\"type\":\"object\",");
    ok(load_error("click/1.json: invalid JSON"), "invalid JSON");
    clean();

    put("click/1.json", "{\"properties\":{\"s\":{\"pattern\":\"(a\"}}}");
    ok(load_error("click/1.json: keyword \"pattern\": invalid regular"
                  " expression \"(a\""), "bad regular expression");
    clean();

    put("click/1.json", "{\"format\":\"color\"}");
    ok(load_error("unsupported format \"color\""), "unknown format");
    clean();

    put("click/1.json", "{\"type\":\"text\"}");
    ok(load_error("keyword \"type\": unknown type \"text\""), "unknown type");
    clean();

    put("click/1.json", "{\"additionalProperties\":{\"type\":\"string\"}}");
    ok(load_error("keyword \"additionalProperties\" must be true or false"),
       "additionalProperties as a schema");
    clean();

    put("click/1.json", "{\"enum\":[{\"a\":1}]}");
    ok(load_error("objects and arrays as values are not supported"),
       "enum of objects");
    clean();

    put("click/1.json", "{\"minLength\":-1}");
    ok(load_error("must be non-negative integers"), "negative minLength");
    clean();

    put("click/1.json", "{\"items\":[{}]}");
    ok(load_error("the array form is not supported"), "tuple items");
    clean();

    put("click/1.json", "[]");
    ok(load_error("a schema file must hold a JSON object"), "not an object");
    clean();

    put("click/v1.json", "{}");
    ok(load_error("click/v1.json: unexpected file"), "not <version>.json");
    clean();

    put("click/01.json", "{}");
    ok(load_error("click/01.json: unexpected file"), "a leading zero");
    clean();

    put("README", "x");
    ok(load_error("/README: unexpected file"), "a file at the top");
    clean();

    put("bad type/1.json", "{}");
    ok(load_error("/bad type: unexpected file"), "a bad type name");
    clean();

    put("click/1.json", "{\"minLength\":3,\"maxLength\":2}");
    ok(load_error("\"minLength\" is greater than \"maxLength\" at the top"),
       "minLength greater than maxLength");
    clean();

    put("click/1.json", "{\"type\":\"object\",\"type\":\"object\"}");
    ok(load_error("duplicate keyword \"type\""), "duplicate keyword");
    clean();

    put("click/1.json", "{\"properties\":{\"a\":{\"properties\":{\"a\":"
        "{\"properties\":{\"a\":{\"minItems\":3,\"maxItems\":2}}}}}}}");
    ok(load_error("\"minItems\" is greater than \"maxItems\" at"
                  " /properties/a/properties/a/properties/a"),
       "nested conflict, with its path");
    clean();

    put("click/1.json", "{}");
    put("click/2.json", "{\"required\":[\"a\"]}");
    put(".hidden", "x");
    {
        char    err[NGX_EVBUS_SCHEMA_ERR_LEN];
        tset_t  t;

        tset_init(&t);
        ok(ngx_evbus_schemas_load(t.set, tmpdir, err, sizeof(err)) == 0
           && ngx_evbus_schemas_count(t.set) == 2,
           "a good directory loads, dot files are skipped");
        tset_free(&t);
    }

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);

    if (system(cmd) != 0) {
        printf("# rm failed\n");
    }
}


/* many types: lookups stay exact */

static void
test_many_types(void)
{
    int     good;
    char    err[NGX_EVBUS_SCHEMA_ERR_LEN], name[32], body[128], ev[160];
    res_t   r;
    size_t  i;
    tset_t  t;

    tset_init(&t);
    good = 1;

    for (i = 0; i < 500 && good; i++) {
        snprintf(name, sizeof(name), "type_%zu", i);
        snprintf(body, sizeof(body), "{\"properties\":{\"n\":{\"const\":%zu}}}",
                 i);
        good = (tset_add(&t, name, 1 + i % 3, body, err, sizeof(err)) == 0);
    }

    good = good && ngx_evbus_schemas_done(t.set, err, sizeof(err)) == 0;

    for (i = 0; i < 500 && good; i++) {
        snprintf(ev, sizeof(ev), "[{\"event_type\":\"type_%zu\",\"n\":%zu},"
                 "{\"event_type\":\"type_%zu\",\"n\":%zu}]", i, i, i, i + 1);
        run(&r, t.set, JSON, ev);
        good = (r.n == 2 && r.ev[0].error == NULL && r.ev[1].error != NULL
                && r.ev[0].event_version == (int64_t) (1 + i % 3));
        evbus_pool_free(&r.pool);
    }

    ok(good, "500 types: each event finds its own schema");

    tset_free(&t);
}


/*
 * The fuzzer's seed corpus and every input that once crashed it
 * (fuzz/regressions/) replayed here, under the sanitizers: the first byte
 * chooses the format and options as in fuzz/fuzz_event.c.
 */

static void
test_fuzz_regressions(void)
{
    int                   good, format;
    DIR                  *d;
    char                  err[NGX_EVBUS_SCHEMA_ERR_LEN], path[600];
    FILE                 *f;
    size_t                i, len, files;
    res_t                 r;
    tset_t                t;
    unsigned char        *buf;
    struct dirent        *de;
    ngx_evbus_limits_t    saved;
    static const char    *dirs[] = { "fuzz/corpus", "fuzz/regressions", NULL };

    tset_init(&t);

    if (ngx_evbus_schemas_load(t.set, "conf-examples/schemas", err,
                               sizeof(err)) != 0)
    {
        ok(0, "fuzz regressions: %s", err);
        tset_free(&t);
        return;
    }

    saved = limits;
    good = 1;
    files = 0;
    buf = malloc(65537);

    for (i = 0; dirs[i]; i++) {
        d = opendir(dirs[i]);
        if (d == NULL) {
            continue;
        }

        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.') {
                continue;
            }

            snprintf(path, sizeof(path), "%s/%s", dirs[i], de->d_name);

            f = fopen(path, "rb");
            if (f == NULL) {
                continue;
            }

            len = fread(buf, 1, 65536, f);
            fclose(f);

            if (len == 0) {
                continue;
            }

            buf[len] = '\0';
            files++;

            format = (buf[0] & 1) ? NDJSON : JSON;
            limits.max_event_size = (buf[0] & 0x10) ? 256 : 32768;
            limits.max_depth = (buf[0] & 0x20) ? 4 : 32;
            default_version = (buf[0] & 0x80) ? 1 : 0;
            unknown_accept = buf[0] & 0x08;

            /* bodies with NUL bytes stop there: the fuzzer has them all */
            run(&r, (buf[0] & 0x40) ? NULL : t.set, format,
                (const char *) buf + 1);

            if (r.rc == -100) {
                printf("#   %s: an invalid value\n", path);
                good = 0;
            }

            evbus_pool_free(&r.pool);
        }

        closedir(d);
    }

    free(buf);
    limits = saved;
    default_version = 0;
    unknown_accept = 0;

    ok(good && files > 0, "fuzz corpus and regressions: %zu inputs", files);

    tset_free(&t);
}


int
main(void)
{
    test_keywords();
    test_error_fields();
    test_versions();
    test_examples();
    test_load_errors();
    test_many_types();
    test_fuzz_regressions();

    printf("1..%d\n", ntests);

    return nfailed ? 1 : 0;
}
