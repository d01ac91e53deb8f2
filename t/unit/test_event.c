/*
 * Copyright (C) ngx_evbus authors
 */


/*
 * Unit tests of the event core, of UUIDv7 and of the JSON escaping,
 * printed as TAP.
 * Every chunk is fed from its own heap copy that is freed as soon as
 * ngx_evbus_parser_feed() returns, so that ASan catches any result that
 * still points into the caller's buffers.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "ngx_evbus_event.h"
#include "ngx_evbus_uuid.h"
#include "ngx_evbus_json.h"

#include "support.h"


#define MD    "\"ingest_timestamp\":\"2026-11-26T17:00:00.000Z\"," \
              "\"source_service\":\"svc\""
#define OURS(v)  "{\"event_version\":" v "," MD "}"
#define NOW   1764176400000LL

#define JSON    NGX_EVBUS_FORMAT_JSON
#define NDJSON  NGX_EVBUS_FORMAT_NDJSON

#define S(s)  (const unsigned char *) (s), sizeof(s) - 1


typedef struct {
    evbus_pool_t        pool;
    int                 rc;
    const char         *error;
    ngx_evbus_event_t  *ev;
    size_t              n;
} res_t;


static size_t                nvalues;
static size_t                nbad_values;
static ngx_evbus_limits_t    limits = { 32768, 1000, 32 };
static ngx_evbus_uuid_gen_t  gen;
static ngx_evbus_enrich_t    enrich;


static void
diag_str(const char *what, const unsigned char *s, size_t len)
{
    printf("#   %s: '%.*s'\n", what, (int) len,
           s ? (const char *) s : "(null)");
}


static void
reset_gen(void)
{
    memset(&gen, 0, sizeof(gen));
    gen.state[0] = 0x0123456789abcdefULL;
    gen.state[1] = 0xfedcba9876543210ULL;

    enrich.metadata = (const unsigned char *) MD;
    enrich.metadata_len = sizeof(MD) - 1;
    enrich.now_ms = NOW;
    enrich.uuid = &gen;
}


/* feeds body cut at the given offsets, each chunk from its own copy */

static void
run_cuts(res_t *r, int format, const unsigned char *body, size_t len,
    const size_t *cuts, size_t ncuts, long fail_after)
{
    size_t               i, from, to;
    unsigned char       *copy;
    ngx_evbus_parser_t  *p;

    memset(r, 0, sizeof(res_t));
    r->pool.fail_at = fail_after + 1;
    reset_gen();

    p = ngx_evbus_parser_create(format, &limits, &enrich, evbus_pool_alloc,
                                &r->pool);
    if (p == NULL) {
        r->rc = NGX_EVBUS_PARSE_NOMEM;
        return;
    }

    r->rc = NGX_EVBUS_PARSE_OK;
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

    r->error = ngx_evbus_parser_error(p);
    r->ev = ngx_evbus_parser_events(p, &r->n);
    ngx_evbus_parser_destroy(p);

    if (r->rc != NGX_EVBUS_PARSE_OK) {
        return;
    }

    for (i = 0; i < r->n; i++) {
        if (r->ev[i].error) {
            continue;
        }

        nvalues++;

        if (!evbus_valid_json(r->ev[i].value, r->ev[i].value_len)) {
            nbad_values++;
            diag_str("not JSON", r->ev[i].value, r->ev[i].value_len);
        }
    }
}


static void
run(res_t *r, int format, const unsigned char *body, size_t len)
{
    run_cuts(r, format, body, len, NULL, 0, -1);
}


static void
done(res_t *r)
{
    evbus_pool_free(&r->pool);
}


static int
same_bytes(const unsigned char *a, size_t alen, const unsigned char *b,
    size_t blen)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }

    return alen == blen && memcmp(a, b, alen) == 0;
}




static int
same_result(const res_t *a, const res_t *b)
{
    size_t                    i;
    const ngx_evbus_event_t  *x, *y;

    if (a->rc != b->rc || !evbus_same_body_error(a->error, b->error)) {
        printf("#   rc %d '%s', rc %d '%s'\n", a->rc,
               a->error ? a->error : "", b->rc, b->error ? b->error : "");
        return 0;
    }

    if (a->rc != NGX_EVBUS_PARSE_OK) {
        return 1;
    }

    if (a->n != b->n) {
        return 0;
    }

    for (i = 0; i < a->n; i++) {
        x = &a->ev[i];
        y = &b->ev[i];

        if (x->index != y->index
            || !evbus_same_str(x->error, y->error)
            || !same_bytes(x->value, x->value_len, y->value, y->value_len)
            || !same_bytes(x->event_type, x->event_type_len,
                           y->event_type, y->event_type_len)
            || !same_bytes(x->event_id, x->event_id_len,
                           y->event_id, y->event_id_len)
            || !same_bytes(x->raw, x->raw_len, y->raw, y->raw_len)
            || x->event_version != y->event_version
            || !evbus_same_str(x->error_kind, y->error_kind)
            || x->raw_truncated != y->raw_truncated
            || x->generated_id != y->generated_id)
        {
            printf("#   event %zu differs\n", i);
            diag_str("one", x->value, x->value_len);
            diag_str("other", y->value, y->value_len);
            return 0;
        }
    }

    return 1;
}


/* the same body cut in two at every offset, and fed byte by byte */

static void
check_splits(int format, const unsigned char *body, size_t len,
    const char *name)
{
    res_t    whole, part;
    size_t   i, cut, *cuts;
    int      same;

    run(&whole, format, body, len);
    same = 1;

    for (cut = 0; cut <= len && same; cut++) {
        run_cuts(&part, format, body, len, &cut, 1, -1);
        same = same_result(&whole, &part);

        if (!same) {
            printf("#   differs when cut at %zu\n", cut);
        }

        done(&part);
    }

    ok(same, "%s: same result cut in two anywhere", name);

    cuts = malloc((len + 1) * sizeof(size_t));

    for (i = 0; i < len; i++) {
        cuts[i] = i;
    }

    run_cuts(&part, format, body, len, cuts, len, -1);
    ok(same_result(&whole, &part), "%s: same result byte by byte", name);

    done(&part);
    free(cuts);
    done(&whole);
}


static int
event_is(const res_t *r, size_t i, const char *error)
{
    if (r->rc != NGX_EVBUS_PARSE_OK || i >= r->n) {
        printf("#   rc %d, %zu events, error '%s'\n", r->rc, r->n,
               r->error ? r->error : "");
        return 0;
    }

    if (!evbus_same_str(r->ev[i].error, error)) {
        printf("#   event %zu error: '%s', want '%s'\n", i,
               r->ev[i].error ? r->ev[i].error : "(null)",
               error ? error : "(null)");
        return 0;
    }

    return r->ev[i].index == i;
}


static int
value_is(const res_t *r, size_t i, const char *value)
{
    if (!event_is(r, i, NULL)) {
        return 0;
    }

    if (!same_bytes(r->ev[i].value, r->ev[i].value_len,
                    (const unsigned char *) value, strlen(value)))
    {
        diag_str("got", r->ev[i].value, r->ev[i].value_len);
        diag_str("want", (const unsigned char *) value, strlen(value));
        return 0;
    }

    return 1;
}


static int
body_error(int format, const unsigned char *body, size_t len, int rc,
    const char *error)
{
    int    good;
    res_t  r;

    run(&r, format, body, len);

    good = (r.rc == rc) && (error == NULL || evbus_same_str(r.error, error));

    if (!good) {
        printf("#   rc %d error '%s', want rc %d '%s'\n", r.rc,
               r.error ? r.error : "(null)", rc, error ? error : "");
    }

    done(&r);

    return good;
}


/* the error of the one event in a JSON body */

static void
reject(const char *body, const char *error)
{
    res_t  r;

    run(&r, JSON, (const unsigned char *) body, strlen(body));
    ok(r.n == 1 && event_is(&r, 0, error), "rejected %s: %s", body, error);
    done(&r);
}


static int
is_uuid_v7(const unsigned char *u)
{
    int  i;

    for (i = 0; i < NGX_EVBUS_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (u[i] != '-') {
                return 0;
            }

        } else if (!((u[i] >= '0' && u[i] <= '9')
                     || (u[i] >= 'a' && u[i] <= 'f')))
        {
            return 0;
        }
    }

    return u[14] == '7' && strchr("89ab", u[19]) != NULL;
}


static void
test_single(void)
{
    res_t       r;
    const char  *body =
        " \r\n {\"event_type\":\"page.view\",\"event_id\":\"id-1\",\"x\":1}\n ";

    run(&r, JSON, (const unsigned char *) body, strlen(body));

    ok(r.n == 1
       && value_is(&r, 0, "{\"event_type\":\"page.view\",\"event_id\":\"id-1\","
                          "\"x\":1,\"metadata\":" OURS("1") "}"),
       "single object");
    ok(same_bytes(r.ev[0].event_type, r.ev[0].event_type_len,
                  S("page.view"))
       && same_bytes(r.ev[0].event_id, r.ev[0].event_id_len, S("id-1"))
       && r.ev[0].event_version == 1 && !r.ev[0].generated_id,
       "single object: decoded fields");
    ok(same_bytes(r.ev[0].raw, r.ev[0].raw_len,
                  S("{\"event_type\":\"page.view\",\"event_id\":\"id-1\","
                    "\"x\":1}")),
       "single object: raw without outer whitespace");
    done(&r);

    enrich.metadata_len = 0;
    memset(&r, 0, sizeof(res_t));
    {
        ngx_evbus_parser_t  *p;

        p = ngx_evbus_parser_create(JSON, &limits, &enrich, evbus_pool_alloc,
                                    &r.pool);
        r.rc = ngx_evbus_parser_feed(p, S("{\"event_type\":\"a\",\"event_id\""
                                          ":\"b\" }"));
        r.rc = ngx_evbus_parser_finish(p);
        r.ev = ngx_evbus_parser_events(p, &r.n);
        ngx_evbus_parser_destroy(p);
    }
    ok(value_is(&r, 0, "{\"event_type\":\"a\",\"event_id\":\"b\" ,"
                       "\"metadata\":{\"event_version\":1}}"),
       "no enrichment metadata");
    done(&r);
}


static void
test_array(void)
{
    res_t       r;
    const char  *body =
        "[ {\"event_type\":\"a\",\"event_id\":\"1\"} ,\n"
        "{\"event_id\":\"2\",\"event_type\":\"b\",\"event_version\":7},"
        "{\"event_type\":\"c\",\"event_id\":\"3\",\"metadata\":{}}]";

    run(&r, JSON, (const unsigned char *) body, strlen(body));
    ok(r.n == 3
       && value_is(&r, 0, "{\"event_type\":\"a\",\"event_id\":\"1\","
                          "\"metadata\":" OURS("1") "}")
       && value_is(&r, 1, "{\"event_id\":\"2\",\"event_type\":\"b\","
                          "\"event_version\":7,\"metadata\":" OURS("7") "}")
       && value_is(&r, 2, "{\"event_type\":\"c\",\"event_id\":\"3\","
                          "\"metadata\":" OURS("1") "}"),
       "array of three");
    ok(r.n == 3 && r.ev[1].event_version == 7
       && same_bytes(r.ev[2].raw, r.ev[2].raw_len,
                     S("{\"event_type\":\"c\",\"event_id\":\"3\","
                       "\"metadata\":{}}")),
       "array: version and raw");
    done(&r);
}


static void
test_generated_id(void)
{
    res_t                 r;
    const unsigned char  *v;

    run(&r, JSON, S("[{\"event_type\":\"a\"},{\"event_type\":\"a\"}]"));

    v = r.ev[0].value;

    ok(r.n == 2 && event_is(&r, 0, NULL) && r.ev[0].generated_id
       && r.ev[0].event_id_len == NGX_EVBUS_UUID_LEN
       && memcmp(v, "{\"event_id\":\"", 13) == 0
       && r.ev[0].event_id == v + 13
       && memcmp(v + 13 + 36, "\",\"event_type\":\"a\",\"metadata\":"
                 OURS("1") "}", r.ev[0].value_len - 49) == 0
       && r.ev[0].value_len == 49 + sizeof("\",\"event_type\":\"a\","
                                           "\"metadata\":" OURS("1") "}") - 1,
       "generated event_id spliced first");
    ok(is_uuid_v7(r.ev[0].event_id) && is_uuid_v7(r.ev[1].event_id)
       && memcmp(r.ev[0].event_id, r.ev[1].event_id, 36) < 0,
       "generated ids are UUIDv7 and increase");
    done(&r);
}


static void
test_metadata(void)
{
    res_t       r;
    const char  *body =
        "{\"event_type\":\"a\",\"event_id\":\"i\",\"metadata\" : {"
        " \"ingest_timestamp\":\"x\",\n \"a\" : 1.000000000000000000001 ,"
        "\"client_ip\":\"1.2.3.4\",\"nested\": {\"b\":[1,{\"c\":null}],"
        " \"d\":\"e\\\"\\\\\\u00e9\"},\"request_id\":{\"r\":[1]},"
        "\"z\":[ ], \"event_version\":9,\"n\":-0.5e-7 } ,\"y\":true}";

    run(&r, JSON, (const unsigned char *) body, strlen(body));
    ok(value_is(&r, 0, "{\"event_type\":\"a\",\"event_id\":\"i\","
                "\"metadata\" : {\"event_version\":1," MD ","
                "\"a\" : 1.000000000000000000001,"
                "\"nested\": {\"b\":[1,{\"c\":null}],"
                " \"d\":\"e\\\"\\\\\\u00e9\"},\"z\":[ ],\"n\":-0.5e-7} ,"
                "\"y\":true}"),
       "metadata: reserved members dropped, others kept byte for byte");
    done(&r);

    run(&r, JSON, S("{\"metadata\":{\"user_agent\":\"u\",\"source_service\""
                    ":1},\"event_type\":\"a\",\"event_id\":\"i\"}"));
    ok(value_is(&r, 0, "{\"metadata\":" OURS("1") ",\"event_type\":\"a\","
                       "\"event_id\":\"i\"}"),
       "metadata: only reserved members");
    done(&r);

    run(&r, JSON, S("{\"event_type\":\"a\",\"event_id\":\"i\",\"metadata\":"
                    "{\"event\\u005fversion\":2,\"k\":\"v\"}}"));
    ok(value_is(&r, 0, "{\"event_type\":\"a\",\"event_id\":\"i\","
                       "\"metadata\":" "{\"event_version\":1," MD ","
                       "\"k\":\"v\"}}"),
       "metadata: reserved names compared decoded");
    done(&r);
}


static void
test_bytes_kept(void)
{
    res_t       r;
    const char  *members =
        "\"n\":123456789012345678901234567890,"
        "\"f\":1.000000000000000000001,\"e\":-1E+400,"
        "\"s\":\"a\\\"b\\\\c\\/\\u00e9\\n\\ud83d\\ude00\xc3\xa9\","
        "\"event_type\":\"t\",\"event_id\":\"a\\u0062\"";
    char        body[512], want[1024];

    snprintf(body, sizeof(body), "{%s}", members);
    snprintf(want, sizeof(want), "{%s,\"metadata\":" OURS("1") "}", members);

    run(&r, JSON, (const unsigned char *) body, strlen(body));
    ok(value_is(&r, 0, want), "numbers and strings kept byte for byte");
    ok(same_bytes(r.ev[0].event_id, r.ev[0].event_id_len, S("ab")),
       "event_id decoded");
    done(&r);
}


static void
test_rejections(void)
{
    char         body[512], t129[130], t128[129];
    res_t        r;
    const char  *err;

    reject("[1]", "event is not an object");
    reject("[\"s\"]", "event is not an object");
    reject("[null]", "event is not an object");
    reject("[[{\"event_type\":\"a\"}]]", "event is not an object");
    reject("{}", "event_type is missing");
    reject("{\"x\":{\"event_type\":\"a\"}}", "event_type is missing");
    reject("{\"event_type\":1}", "event_type must be a string");
    reject("{\"event_type\":null}", "event_type must be a string");
    reject("{\"event_type\":{}}", "event_type must be a string");
    reject("{\"event_type\":[\"a\"]}", "event_type must be a string");
    reject("{\"event_type\":\"\"}", "event_type is empty");
    reject("{\"event_type\":\"a b\"}",
           "event_type may only contain A-Z a-z 0-9 _ . -");
    reject("{\"event_type\":\"\\u00e9\"}",
           "event_type may only contain A-Z a-z 0-9 _ . -");
    reject("{\"event_type\":\"a\",\"event_id\":5}",
           "event_id must be a string");
    reject("{\"event_type\":\"a\",\"event_id\":{}}",
           "event_id must be a string");
    reject("{\"event_type\":\"a\",\"event_id\":\"\"}", "event_id is empty");

    err = "event_version must be a positive integer";
    reject("{\"event_type\":\"a\",\"event_version\":0}", err);
    reject("{\"event_type\":\"a\",\"event_version\":-1}", err);
    reject("{\"event_type\":\"a\",\"event_version\":1.0}", err);
    reject("{\"event_type\":\"a\",\"event_version\":1e2}", err);
    reject("{\"event_type\":\"a\",\"event_version\":\"1\"}", err);
    reject("{\"event_type\":\"a\",\"event_version\":2147483648}", err);
    reject("{\"event_type\":\"a\",\"event_version\":99999999999}", err);
    reject("{\"event_type\":\"a\",\"event_version\":true}", err);
    reject("{\"event_type\":\"a\",\"event_version\":[1]}", err);

    err = "metadata must be an object";
    reject("{\"event_type\":\"a\",\"metadata\":1}", err);
    reject("{\"event_type\":\"a\",\"metadata\":[]}", err);
    reject("{\"event_type\":\"a\",\"metadata\":\"m\"}", err);
    reject("{\"event_type\":\"a\",\"metadata\":null}", err);

    reject("{\"event_type\":\"a\",\"event_type\":\"a\"}",
           "duplicate key \"event_type\"");
    reject("{\"event_type\":\"a\",\"event_id\":\"i\",\"event_id\":\"i\"}",
           "duplicate key \"event_id\"");
    reject("{\"event_type\":\"a\",\"event_version\":1,\"event_version\":1}",
           "duplicate key \"event_version\"");
    reject("{\"event_type\":\"a\",\"metadata\":{},\"metadata\":{}}",
           "duplicate key \"metadata\"");
    reject("{\"event_type\":\"a\",\"event\\u005ftype\":\"a\"}",
           "duplicate key \"event_type\"");

    memset(t129, 'x', 129);
    t129[129] = '\0';
    memcpy(t128, t129, 128);
    t128[128] = '\0';

    snprintf(body, sizeof(body), "{\"event_type\":\"%s\"}", t129);
    reject(body, "event_type is longer than 128 bytes");
    snprintf(body, sizeof(body), "{\"event_type\":\"%s\"}", t128);
    reject(body, NULL);
    snprintf(body, sizeof(body), "{\"event_type\":\"a\",\"event_id\":\"%s\"}",
             t129);
    reject(body, "event_id is longer than 128 bytes");
    snprintf(body, sizeof(body), "{\"event_type\":\"a\",\"event_id\":\"%s\"}",
             t128);
    reject(body, NULL);
    reject("{\"event_type\":\"a\",\"event_version\":2147483647}", NULL);
    reject("{\"event_type\":\"A-z_0.9\",\"event_id\":\"\\u0000\"}", NULL);

    run(&r, JSON, S("[1,{\"event_type\":1},{\"event_type\":\"ok\"},{}]"));
    ok(r.n == 4 && event_is(&r, 0, "event is not an object")
       && event_is(&r, 1, "event_type must be a string")
       && event_is(&r, 2, NULL) && event_is(&r, 3, "event_type is missing")
       && same_bytes(r.ev[0].raw, r.ev[0].raw_len, S("1"))
       && same_bytes(r.ev[1].raw, r.ev[1].raw_len, S("{\"event_type\":1}"))
       && r.ev[1].event_type == NULL,
       "a rejected event does not stop the others");
    done(&r);
}


static void
test_limits(void)
{
    res_t               r;
    ngx_evbus_limits_t  saved;
    const char         *big;

    big = "{\"event_type\":\"a\",\"p\":\"012345678901234\"}";

    saved = limits;

    /* big is 40 bytes */

    limits.max_event_size = 39;
    run(&r, JSON, (const unsigned char *) big, strlen(big));
    ok(event_is(&r, 0,
                "event is larger than evbus_max_event_size (39 bytes)")
       && r.ev[0].raw_truncated
       && same_bytes(r.ev[0].raw, r.ev[0].raw_len, (const unsigned char *) big,
                     39)
       && evbus_same_str(r.ev[0].error_kind, "too_large"),
       "max_event_size exceeded by one byte: the head is kept");
    done(&r);

    limits.max_event_size = 40;
    run(&r, JSON, (const unsigned char *) big, strlen(big));
    ok(event_is(&r, 0, NULL), "max_event_size reached exactly");
    done(&r);

    limits.max_event_size = 20;
    run(&r, JSON, S("[{\"event_type\":\"a\"},{\"event_type\":\"abcdefgh\"},"
                    "{\"event_type\":\"b\"}]"));
    ok(r.n == 3 && event_is(&r, 0, NULL)
       && event_is(&r, 1,
                   "event is larger than evbus_max_event_size (20 bytes)")
       && event_is(&r, 2, NULL),
       "a large event in an array is rejected alone");
    done(&r);

    limits = saved;
    limits.max_depth = 3;
    run(&r, JSON, S("[{\"event_type\":\"a\",\"x\":{\"y\":[1]}},"
                    "{\"event_type\":\"a\",\"x\":{\"y\":[{}]}},"
                    "{\"event_type\":\"a\",\"metadata\":{\"y\":[[]]}},"
                    "{\"event_type\":\"a\"}]"));
    ok(r.n == 4 && event_is(&r, 0, NULL)
       && event_is(&r, 1, "event nests deeper than 3 levels")
       && event_is(&r, 2, "event nests deeper than 3 levels")
       && event_is(&r, 3, NULL),
       "max_depth");
    done(&r);

    limits = saved;
    limits.max_events = 3;
    ok(body_error(JSON, S("[{},{},{\"event_type\":\"a\"}]"),
                  NGX_EVBUS_PARSE_OK, NULL),
       "max_events reached exactly");
    ok(body_error(JSON, S("[{},1,{\"event_type\":\"a\"},{\"event_type\":1}]"),
                  NGX_EVBUS_PARSE_TOO_MANY, NULL),
       "max_events exceeded: rejected events count too");
    ok(body_error(NDJSON, S("{}\n\n{}\n{}\n{}"), NGX_EVBUS_PARSE_TOO_MANY,
                  NULL),
       "max_events exceeded in NDJSON");
    ok(body_error(NDJSON, S("{}\n\n{}\n{}\n\n"), NGX_EVBUS_PARSE_OK, NULL),
       "max_events: blank lines are not events");

    limits = saved;
}


static void
test_body_errors(void)
{
    int  bad;

    bad = NGX_EVBUS_PARSE_BAD_BODY;

    ok(body_error(JSON, S(""), bad, "body is empty"), "empty body");
    ok(body_error(JSON, S(" \r\n\t "), bad, "body is empty"),
       "whitespace body");
    ok(body_error(JSON, S("\xef\xbb\xbf"), bad, "body is empty"),
       "BOM only");
    ok(body_error(NDJSON, S(""), bad, "body is empty"), "empty NDJSON body");
    ok(body_error(NDJSON, S("\n \r\n\n"), bad, "body is empty"),
       "blank NDJSON lines");
    ok(body_error(JSON, S("[]"), bad, "body holds no events"), "empty array");
    ok(body_error(JSON, S(" [ \n ] "), bad, "body holds no events"),
       "empty array with spaces");
    ok(body_error(JSON, S("\"x\""), bad,
                  "body must be a JSON object or an array of objects"),
       "top-level string");
    ok(body_error(JSON, S("12"), bad,
                  "body must be a JSON object or an array of objects"),
       "top-level number");
    ok(body_error(JSON, S("null"), bad,
                  "body must be a JSON object or an array of objects"),
       "top-level null");
    ok(body_error(JSON, S("{\"event_type\":\"a\",}"), bad,
                  "invalid JSON at byte 19: parse error: invalid object key "
                  "(must be a string)"),
       "syntax error");
    ok(body_error(JSON, S("x"), bad,
                  "invalid JSON at byte 1: lexical error: invalid char in "
                  "json text."),
       "lexical error");
    ok(body_error(JSON, S("{\"event_type\":\"a\"} x"), bad,
                  "invalid JSON at byte 20: parse error: trailing garbage"),
       "trailing garbage");
    ok(body_error(JSON, S("[{\"event_type\":\"a\"}] []"), bad,
                  "invalid JSON at byte 22: parse error: trailing garbage"),
       "second top-level value");
    ok(body_error(JSON, S("[{\"event_type\":\"a\"}"), bad,
                  "invalid JSON at byte 19: parse error: premature EOF"),
       "truncated body");
    ok(body_error(JSON, S("[{\"event_type\":\"a\xff\"}]"), bad,
                  "invalid JSON at byte 18: lexical error: invalid bytes in "
                  "UTF8 string."),
       "invalid UTF-8");
    ok(body_error(JSON, S("\xef\xbb\xbf{\"event_type\":\"\xc3\"}"), bad,
                  "invalid JSON at byte 20: lexical error: invalid bytes in "
                  "UTF8 string."),
       "invalid UTF-8 after a BOM: offsets count the BOM");
    ok(body_error(JSON, S("\xef\xbb{\"event_type\":\"a\"}"), bad, NULL),
       "half a BOM is invalid JSON");
    ok(body_error(JSON, S("/* c */{\"event_type\":\"a\"}"), bad, NULL),
       "comments are invalid JSON");
}


static void
test_bom(void)
{
    res_t  r;

    run(&r, JSON, S("\xef\xbb\xbf{\"event_type\":\"a\",\"event_id\":\"i\"}"));
    ok(value_is(&r, 0, "{\"event_type\":\"a\",\"event_id\":\"i\","
                       "\"metadata\":" OURS("1") "}")
       && same_bytes(r.ev[0].raw, r.ev[0].raw_len,
                     S("{\"event_type\":\"a\",\"event_id\":\"i\"}")),
       "BOM skipped");
    done(&r);

    run(&r, NDJSON, S("\xef\xbb\xbf{\"event_type\":\"a\",\"event_id\":\"i\"}"
                      "\n{\"event_type\":\"b\",\"event_id\":\"j\"}"));
    ok(r.n == 2 && event_is(&r, 0, NULL) && event_is(&r, 1, NULL),
       "BOM skipped in NDJSON");
    done(&r);
}


static void
test_ndjson(void)
{
    res_t       r;
    const char  *body =
        "\n{\"event_type\":\"a\",\"event_id\":\"1\"}\r\n"
        "   \r\n"
        "{\"event_type\":\"b\",\"event_id\":\"2\" , \"v\":1}  \n"
        "{\"event_type\":\"c\", oops}\n"
        "\t{\"event_type\":\"d\",\"event_id\":\"4\",\"n\":123}\n"
        "{\"event_type\":\"e\",\"event_id\":\"5\"\n"
        "{\"event_type\":\"f\"} {\"event_type\":\"g\"}\n"
        "[1]\r\n"
        "{\"event_type\":\"h\",\"s\":\"\xff\"}\n"
        "{\"event_type\":1}\n"
        "\"str\"\n"
        "{\"event_type\":\"i\",\"event_id\":\"9\"}";

    run(&r, NDJSON, (const unsigned char *) body, strlen(body));

    ok(r.rc == NGX_EVBUS_PARSE_OK && r.n == 11, "NDJSON: 11 events");
    ok(value_is(&r, 0, "{\"event_type\":\"a\",\"event_id\":\"1\","
                       "\"metadata\":" OURS("1") "}")
       && value_is(&r, 1, "{\"event_type\":\"b\",\"event_id\":\"2\" , "
                          "\"v\":1,\"metadata\":" OURS("1") "}")
       && value_is(&r, 3, "{\"event_type\":\"d\",\"event_id\":\"4\","
                          "\"n\":123,\"metadata\":" OURS("1") "}")
       && value_is(&r, 10, "{\"event_type\":\"i\",\"event_id\":\"9\","
                           "\"metadata\":" OURS("1") "}"),
       "NDJSON: valid lines, CRLF, blank lines, last line unterminated");
    ok(event_is(&r, 2, "invalid JSON: lexical error: invalid char in json "
                       "text.")
       && same_bytes(r.ev[2].raw, r.ev[2].raw_len,
                     S("{\"event_type\":\"c\", oops}")),
       "NDJSON: invalid line rejected with its raw text");
    ok(event_is(&r, 4, "invalid JSON: line is not a complete JSON value"),
       "NDJSON: incomplete line");
    ok(event_is(&r, 5, "invalid JSON: more than one JSON value on a line"),
       "NDJSON: two values on a line");
    ok(event_is(&r, 6, "event is not an object")
       && same_bytes(r.ev[6].raw, r.ev[6].raw_len, S("[1]")),
       "NDJSON: array line");
    ok(event_is(&r, 7, "invalid JSON: lexical error: invalid bytes in UTF8 "
                       "string."),
       "NDJSON: invalid UTF-8 line");
    ok(event_is(&r, 8, "event_type must be a string")
       && event_is(&r, 9, "event is not an object"),
       "NDJSON: content errors");
    done(&r);

    run(&r, NDJSON, S("{\"event_type\":\"a\"}\n123"));
    ok(r.n == 2 && event_is(&r, 1, "event is not an object")
       && same_bytes(r.ev[1].raw, r.ev[1].raw_len, S("123")),
       "NDJSON: number on the last line");
    done(&r);

    run(&r, NDJSON, S("{\"event_type\":\"a\""));
    ok(r.n == 1
       && event_is(&r, 0, "invalid JSON: line is not a complete JSON value"),
       "NDJSON: body ends inside a value");
    done(&r);
}


static void
test_splits(void)
{
    ngx_evbus_limits_t  saved;

    check_splits(JSON, S(
        "\xef\xbb\xbf [ {\"event_type\":\"page.view\",\"event_id\":\"e1\","
        "\"n\":123456789012345678901234567890,\"f\":1.000000000000000000001,"
        "\"metadata\":{\"client_ip\":\"x\",\"k\":{\"a\":[1,2,{\"b\":null}]},"
        "\"ingest_timestamp\":1,\"s\":\"\\u00e9\\\"\xc3\xa9\",\"t\":true}},"
        "12345, \"str\" ,true,null,[1,[2]],{},{\"event_type\":7},"
        "{\"event_type\":\"gen\",\"x\":-1.5e10},"
        "{\"event_type\":\"a\",\"event_version\":3,\"event_id\":\"e2\"}"
        " ]\n"), "JSON array");

    check_splits(JSON, S("{\"event_type\":\"a\",\"metadata\":{\"x\":1}}"),
                 "JSON object");

    check_splits(JSON, S("[{\"event_type\":\"a\"}, 1"),
                 "truncated JSON");
    check_splits(JSON, S("[{\"event_type\":\"a\"}, \"\xff\"]"),
                 "JSON with invalid UTF-8");
    check_splits(JSON, S("{\"event_type\":\"a\"}  {}"),
                 "JSON with trailing garbage");
    check_splits(JSON, S("\xef\xbb"), "half a BOM");
    check_splits(JSON, S("  "), "blank JSON");

    check_splits(NDJSON, S(
        "\xef\xbb\xbf{\"event_type\":\"a\",\"event_id\":\"1\","
        "\"metadata\":{\"q\":[{}],\"user_agent\":\"u\"}}\r\n"
        "\n  \r\n"
        "{\"event_type\":\"b\"}\n"
        "{\"event_type\":\"c\", oops}\n"
        "12\n"
        "{\"event_type\":\"d\",\"event_id\":\"4\",\"n\":1.5}\n"
        "{\"event_type\":\"e\"\n"
        "{} {}\n"
        "{\"event_type\":\"f\",\"s\":\"\xff\"}\n"
        "  {\"event_type\":\"g\",\"event_id\":\"7\",\"z\":12}   "),
        "NDJSON");

    saved = limits;
    limits.max_event_size = 24;
    check_splits(JSON, S("[{\"event_type\":\"a\",\"event_id\":\"1\"},"
                         "{\"event_type\":\"b\"},\"0123456789012345678901234\","
                         "{\"event_type\":\"c\",\"event_id\":\"3\"}]"),
                 "JSON with large events");
    check_splits(NDJSON, S("{\"event_type\":\"a\",\"event_id\":\"1\"}\n"
                           "{\"event_type\":\"b\"}        \n"
                           "{\"event_type\":\"b\",}      \t  \r\n"
                           "{\"event_type\":\"0123456789012\"}\n"
                           "{\"event_type\":\"c\",\"event_id\":\"3\"}"),
                 "NDJSON with large events");
    limits.max_events = 3;
    check_splits(JSON, S("[{},{},{},{}]"), "JSON with too many events");
    check_splits(JSON, S("[{},{},\"a\"12345,{}]"),
                 "JSON with a refused element after the last one");
    check_splits(JSON, S("[{},{},{},12345]"),
                 "JSON with a scalar element too many");
    check_splits(NDJSON, S("{}\n{}\n{}\n{}"), "NDJSON with too many events");
    limits = saved;
}


static void
test_nomem(void)
{
    int          good, seen_nomem;
    long         n;
    res_t        whole, r;
    const char  *body =
        "[{\"event_type\":\"a\",\"metadata\":{\"a\":1,\"b\":2,\"c\":3,"
        "\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9}},"
        "{\"event_type\":\"b\"},1,{}]";
    size_t       cut = 30;

    run_cuts(&whole, JSON, (const unsigned char *) body, strlen(body), &cut,
             1, -1);
    good = 1;
    seen_nomem = 0;

    for (n = 0; n < 200; n++) {
        run_cuts(&r, JSON, (const unsigned char *) body, strlen(body), &cut,
                 1, n);

        if (r.rc == NGX_EVBUS_PARSE_NOMEM) {
            seen_nomem = 1;

        } else if (!same_result(&whole, &r)) {
            good = 0;
        }

        done(&r);
    }

    ok(good && seen_nomem, "allocation failures give NOMEM");
    done(&whole);
}


static void
test_uuid(void)
{
    int                   i, good;
    unsigned char         prev[36], cur[36];
    ngx_evbus_uuid_gen_t  g;

    ok(ngx_evbus_uuid_init(&g) == 0, "uuid: init");

    ngx_evbus_uuid_v7(&g, 0x0193a5b6c7d8LL, prev);
    ok(is_uuid_v7(prev) && memcmp(prev, "0193a5b6-c7d8-7", 15) == 0,
       "uuid: format and timestamp");

    good = 1;

    for (i = 0; i < 100000; i++) {
        ngx_evbus_uuid_v7(&g, 0x0193a5b6c7d8LL - (i % 3), cur);

        if (!is_uuid_v7(cur) || memcmp(prev, cur, 36) >= 0) {
            good = 0;
            break;
        }

        memcpy(prev, cur, 36);
    }

    ok(good, "uuid: strictly increasing within a ms and when time goes back");
    ok(memcmp(cur, "0193a5b6", 8) == 0 && memcmp(cur, "0193a5b6-c7d8", 13),
       "uuid: counter overflow moves the timestamp on");

    ngx_evbus_uuid_v7(&g, 0x0193a5b6c7d8LL + 100000, cur);
    snprintf((char *) prev, sizeof(prev), "%08llx-%04llx-7",
             (0x0193a5b6c7d8LL + 100000) >> 16,
             (0x0193a5b6c7d8LL + 100000) & 0xffff);
    ok(memcmp(cur, prev, 15) == 0 && cur[15] >= '0' && cur[15] <= '7',
       "uuid: a new ms starts the counter low");

    /* $request_id's form: the same id, 32 hex digits, no dashes */

    ngx_evbus_uuid_v7_hex(&g, 0x0193a5b6c7d8LL + 200000, cur);
    ngx_evbus_uuid_v7(&g, 0x0193a5b6c7d8LL + 200000, prev);

    good = 1;

    for (i = 0; i < NGX_EVBUS_UUID_HEX_LEN; i++) {
        if (!((cur[i] >= '0' && cur[i] <= '9')
              || (cur[i] >= 'a' && cur[i] <= 'f')))
        {
            good = 0;
        }
    }

    ok(good && cur[12] == '7' && memcmp(cur, prev, 8) == 0
       && memcmp(cur + 8, prev + 9, 4) == 0
       && memcmp(cur + 12, prev + 14, 4) < 0,
       "uuid: hex form, 32 digits, version 7, ordered with the dashed ids");
}


/*
 * yajl accepts these; the core must not produce them: every value it
 * produces is valid UTF-8 JSON
 */

static void
test_strict_text(void)
{
    size_t              i;
    res_t               r;
    static const char  *bad[] = {
        "{\"event_type\":\"a\",\"s\":\"\\ud800\"}",
        "{\"event_type\":\"a\",\"s\":\"\\uD800\\u0041\"}",
        "{\"event_type\":\"a\",\"s\":\"\\udc00\"}",
        "{\"event_type\":\"a\",\"s\":\"x\\ud83dy\"}",
        "{\"event_type\":\"a\",\"\\ud800\":1}",
        "{\"event_type\":\"a\",\"s\":\"\xc0\x80\"}",
        "{\"event_type\":\"a\",\"s\":\"\xe0\x80\xaf\"}",
        "{\"event_type\":\"a\",\"s\":\"\xed\xa0\x80\"}",
        "{\"event_type\":\"a\",\"s\":\"\xf4\x90\x80\x80\"}",
        "{\"event_type\":\"a\",\"s\":\"\xf0\x80\x80\xaf\"}",
        "{\"event_type\":\"a\",\"s\":\"0123456789abcdef\xc1\xbf\"}",
        NULL
    };
    static const char  *good[] = {
        "{\"event_type\":\"a\",\"s\":\"\\ud83d\\ude00\\u00e9\\\\ud800\"}",
        "{\"event_type\":\"a\",\"s\":\"\xf0\x9f\x98\x80\xc3\xa9\xef\xbf\xbf"
        "\xf4\x8f\xbf\xbf\xe0\xa0\x80\xed\x9f\xbf\"}",
        "{\"event_type\":\"a\",\"s\":\"\\u0000 nul \\\" \\/ \\b\"}",
        NULL
    };

    for (i = 0; bad[i]; i++) {
        run(&r, JSON, (const unsigned char *) bad[i], strlen(bad[i]));
        ok(r.rc == NGX_EVBUS_PARSE_OK && r.n == 1 && r.ev[0].error != NULL
           && (evbus_same_str(r.ev[0].error_kind, "invalid_utf8"))
           && r.ev[0].raw != NULL,
           "rejected as invalid_utf8: bad text %zu (%s)", i,
           r.n && r.ev[0].error ? r.ev[0].error : "accepted");
        done(&r);

        check_splits(JSON, (const unsigned char *) bad[i], strlen(bad[i]),
                     "bad text");
    }

    for (i = 0; good[i]; i++) {
        run(&r, JSON, (const unsigned char *) good[i], strlen(good[i]));
        ok(r.rc == NGX_EVBUS_PARSE_OK && r.n == 1 && r.ev[0].error == NULL,
           "accepted: good text %zu", i);
        done(&r);
    }

    /* NUL bytes, a BOM inside the body, garbage after the last event */

    ok(body_error(JSON, S("{\"event_type\":\"a\",\"s\":\"a\0b\"}"),
                  NGX_EVBUS_PARSE_BAD_BODY, NULL), "a raw NUL byte: 400");
    ok(body_error(JSON, S("[{\"event_type\":\"a\"}]xyz"),
                  NGX_EVBUS_PARSE_BAD_BODY, NULL), "trailing garbage: 400");

    run(&r, NDJSON, S("{\"event_type\":\"a\"}\n\xef\xbb\xbf{\"event_type\":"
                      "\"b\"}\n{\"event_type\":\"c\"}\ngarbage"));
    ok(r.rc == NGX_EVBUS_PARSE_OK && r.n == 4 && r.ev[0].error == NULL
       && evbus_same_str(r.ev[1].error_kind, "invalid_json")
       && r.ev[2].error == NULL
       && evbus_same_str(r.ev[3].error_kind, "invalid_json"),
       "NDJSON: a BOM inside and trailing garbage reject their lines");
    done(&r);
}


/*
 * yajl takes form feed and vertical tab for whitespace, RFC 8259 does not:
 * inside an event they reject it (invalid_json), around the events of a
 * JSON body they are a 400, in NDJSON they reject their line.
 */

static void
test_ff_vt(void)
{
    size_t              i;
    res_t               r;
    static const char  *in_event[] = {
        "{\"event_type\":\"a\",\"v\":[\f1]}",
        "{\"event_type\":\"a\",\"v\":[\v1]}",
        "{\"event_type\":\"a\",\"v\":1\f}",
        "{\f\"event_type\":\"a\"}",
        "{\"event_type\":\"a\",\"pad\":\"0123456789abcdef\",\n\t\"v\":\f1}",
        "{\"event_type\":\"a\",\"pad\":\"0123456789abcdef\",\n\t\"v\":\v1}",
        "{\"event_type\":\"a\",\"pad\":\"\xc3\xa9\xc3\xa9\\\\\\\"\",\f\"v\":1}",
        "{\n  \"event_type\": \"a\",\n  \"pad\": \"0123456789abcdef\","
        "\r\n\t\"v\":\t\r\n 1\n\f}",
        NULL
    };
    static const char  *framing[] = {
        "\f{\"event_type\":\"a\"}",
        "{\"event_type\":\"a\"}\v",
        "{\"event_type\":\"a\"}\n\n\n\n\n\n\n\n\n\n\f",
        "\v[{\"event_type\":\"a\"}]",
        "[\f{\"event_type\":\"a\"}]",
        "[{\"event_type\":\"a\"},\v{\"event_type\":\"b\"}]",
        "[{\"event_type\":\"a\"}\f,{\"event_type\":\"b\"}]",
        "[{\"event_type\":\"a\"}\f]",
        "[{\"event_type\":\"a\"}]\f",
        "[\"x\",\f{\"event_type\":\"a\"}]",
        NULL
    };
    static const char  *good =
        "[\r\n {\n\t\"event_type\" : \"a\" ,\n\t\"v\" : [ 1 , \"\\f\\u000b\" ]"
        "\r\n } ,\n\t{\"event_type\":\"b\",\"pad\":\"0123456789abcdef\"}\n]\n";

    for (i = 0; in_event[i]; i++) {
        run(&r, JSON, (const unsigned char *) in_event[i],
            strlen(in_event[i]));
        ok(r.rc == NGX_EVBUS_PARSE_OK && r.n == 1
           && evbus_same_str(r.ev[0].error_kind, "invalid_json")
           && evbus_same_str(r.ev[0].error, "invalid JSON: a form feed or"
                             " vertical tab is not JSON whitespace")
           && r.ev[0].value == NULL && r.ev[0].raw != NULL,
           "form feed or vertical tab in event %zu: rejected (%s)", i,
           r.n && r.ev[0].error ? r.ev[0].error : "accepted");
        done(&r);

        check_splits(JSON, (const unsigned char *) in_event[i],
                     strlen(in_event[i]), "form feed in an event");
    }

    for (i = 0; framing[i]; i++) {
        run(&r, JSON, (const unsigned char *) framing[i],
            strlen(framing[i]));
        ok(r.rc == NGX_EVBUS_PARSE_BAD_BODY && r.error != NULL
           && strstr(r.error, "a form feed or vertical tab is not JSON"
                     " whitespace") != NULL,
           "form feed or vertical tab around events %zu: 400 (%s)", i,
           r.error ? r.error : "accepted");
        done(&r);

        check_splits(JSON, (const unsigned char *) framing[i],
                     strlen(framing[i]), "form feed around events");
    }

    run(&r, JSON, (const unsigned char *) good, strlen(good));
    ok(r.rc == NGX_EVBUS_PARSE_OK && r.n == 2 && r.ev[0].error == NULL
       && r.ev[1].error == NULL,
       "RFC 8259 whitespace and escaped \\f, \\u000b: accepted");
    done(&r);
    check_splits(JSON, (const unsigned char *) good, strlen(good),
                 "RFC 8259 whitespace");

    run(&r, NDJSON, S("{\"event_type\":\"a\"}\n\f{\"event_type\":\"b\"}\n"
                      "{\"event_type\":\"c\"}\v\n\f\n{\"event_type\":\"d\"}"
                      "\n"));
    ok(r.rc == NGX_EVBUS_PARSE_OK && r.n == 5 && r.ev[0].error == NULL
       && evbus_same_str(r.ev[1].error_kind, "invalid_json")
       && evbus_same_str(r.ev[2].error_kind, "invalid_json")
       && evbus_same_str(r.ev[3].error_kind, "invalid_json")
       && r.ev[4].error == NULL,
       "NDJSON: a form feed or vertical tab rejects its line");
    done(&r);
}


/*
 * The first error in the body wins, however it is cut: a form feed or
 * vertical tab around the events against an error yajl finds in a later
 * token of the same chunk (fuzz/regressions/ffvt-error-position: fed
 * whole, yajl's error at byte 74 came out; cut before byte 74, the
 * vertical tab at byte 42), or before a scalar in the array, which went
 * unseen when it came in the same chunk (fuzz/regressions/
 * ffvt-before-scalar).
 */

static void
test_ff_vt_order(void)
{
    size_t         i;
    res_t          r;
    static const struct {
        const char  *body;
        const char  *error;
    } first[] = {
        { "[{\"event_type\":\"mystery\",\"event_rnoesi\":3}"
          "\v\v\v\v\v\v\v\v\v\v\v\v\v\v\v\v\v\v\v\v\v\v\v\v\v\v\v\v\v\v\v"
          "{\v\"\v\vevent_type\"1:00\",\"sent_at\":\"2026-11-26T17:00:0n\"\""
          "0Z,metadata\":{\"u067Z\"}]",
          "invalid JSON at byte 42: a form feed or vertical tab is not"
          " JSON whitespace" },
        { "[{\"event_type\":\"a\"}\v{\"event_type\":\"b\"}]",
          "invalid JSON at byte 19: a form feed or vertical tab is not"
          " JSON whitespace" },
        { "[{\"event_type\":\"a\"},\f,{}]",
          "invalid JSON at byte 20: a form feed or vertical tab is not"
          " JSON whitespace" },
        { "{\"event_type\":\"a\"} \f x",
          "invalid JSON at byte 19: a form feed or vertical tab is not"
          " JSON whitespace" },
        { "\v x", "invalid JSON at byte 0: a form feed or vertical tab is"
          " not JSON whitespace" },
        { " \f1 ", "invalid JSON at byte 1: a form feed or vertical tab is"
          " not JSON whitespace" },
        { "\v\"x\"", "invalid JSON at byte 0: a form feed or vertical tab"
          " is not JSON whitespace" },

        { "[{\"event_type\":\"a\",\"v\":[\f1]},\v\"event_type\":\"a\"}]",
          "invalid JSON at byte 29: a form feed or vertical tab is not"
          " JSON whitespace" },
        { "[{\"event_type\":\"a\"},\v\"x\"]",
          "invalid JSON at byte 20: a form feed or vertical tab is not"
          " JSON whitespace" },
        { "[{\"event_type\":\"a\"}, \f12,{}]",
          "invalid JSON at byte 21: a form feed or vertical tab is not"
          " JSON whitespace" },

        /* yajl's error comes first */
        { "[{\"event_type\":\"a\"},,\v{}]", "invalid JSON at byte 21:"
          " parse error: unallowed token at this point in JSON text" },
        { "[{\"event_type\":\"a\"}, \"b\vc\"]", "invalid JSON at byte 23:"
          " lexical error: invalid character inside string." },
        { "[{\"event_type\":\"a\"}, x\v]", "invalid JSON at byte 22:"
          " lexical error: invalid char in json text." },
        { NULL, NULL }
    };
    static const char  *same[] = {
        /* inside an event, a rejected event; a syntax error, a 400 */
        "[{\"event_type\":\"a\",\"v\":\v1},x]",
        "[{\"event_type\":\"a\",\"v\":\v1 x}]",
        "[{\"event_type\":\"a\",\"v\":\v1},\v{}]",
        NULL
    };

    for (i = 0; first[i].body; i++) {
        run(&r, JSON, (const unsigned char *) first[i].body,
            strlen(first[i].body));
        ok(r.rc == NGX_EVBUS_PARSE_BAD_BODY
           && evbus_same_str(r.error, first[i].error),
           "first error %zu: %s", i, r.error ? r.error : "accepted");
        if (!evbus_same_str(r.error, first[i].error)) {
            printf("#   want '%s'\n", first[i].error);
        }
        done(&r);

        check_splits(JSON, (const unsigned char *) first[i].body,
                     strlen(first[i].body), "first error");
    }

    for (i = 0; same[i]; i++) {
        check_splits(JSON, (const unsigned char *) same[i], strlen(same[i]),
                     "form feed in an event, then a syntax error");
    }

    check_splits(NDJSON, S("{\"event_type\":\"a\",\"v\":\v1 x}\n"
                           "{\"event_type\":\"b\"}\v x\n"
                           "\f{\"event_type\":\"c\"}}\n"
                           "{\"event_type\":\"d\"}\n"),
                 "NDJSON: form feed and syntax errors on a line");
}


/*
 * The oracle itself (t/unit/json_strict.h): what it must accept and
 * refuse, including what yajl lets through.
 */

static void
test_json_strict(void)
{
    long                  n;
    size_t                i;
    yajl_handle           h;
    yajl_status           st;
    const char           *err;
    evbus_json_member_t   m[4];
    static const char    *good[] = {
        "{}", "[]", " {\"a\" : [1, -0, 0.5, 1e3, -2.5E-7, 12e+1]} ",
        "\"x\"", "0", "-1", "true", "false", "null", "[[[]],{}]",
        "\"\\ud83d\\ude00 \\u00e9 \\\" \\\\ \\/ \\b\\f\\n\\r\\t\"",
        "\"\xf0\x9f\x98\x80\xc3\xa9\xef\xbf\xbf\xf4\x8f\xbf\xbf\xe0\xa0\x80"
        "\xed\x9f\xbf\"",
        NULL
    };
    /* yajl: the first six are accepted by yajl */
    static const char    *bad[] = {
        "\"\xc0\x80\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
        "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
        "", " ", "{", "[1,]", "{\"a\":1,}", "{\"a\"}", "{1:2}", "01", "1.",
        ".5", "-", "1e", "+1", "0x1", "tru", "nul", "NaN", "[1 2]",
        "\"a\tb\"", "\"\\x\"", "\"\\u12\"", "{} {}", "1 2", "'a'",
        "\"\xff\"", "\"\xe0\x80\"", "\"\x80\"", "[\"\xf0\x9f\x98\"]",
        NULL
    };

    for (i = 0; good[i]; i++) {
        ok(evbus_strict_json((const unsigned char *) good[i],
                             strlen(good[i]), &err),
           "strict JSON accepts good %zu (%s)", i, err ? err : "");
    }

    for (i = 0; bad[i]; i++) {
        ok(!evbus_strict_json((const unsigned char *) bad[i],
                              strlen(bad[i]), NULL),
           "strict JSON refuses bad %zu", i);
    }

    /* why the oracle is not yajl */

    for (i = 0; i < 6; i++) {
        h = yajl_alloc(NULL, NULL, NULL);
        st = yajl_parse(h, (const unsigned char *) bad[i], strlen(bad[i]));
        if (st == yajl_status_ok) {
            st = yajl_complete_parse(h);
        }
        yajl_free(h);
        ok(st == yajl_status_ok, "yajl accepts bad %zu", i);
    }

    ok(evbus_strict_json(S("\"\\u0000\""), NULL)
       && !evbus_strict_json(S("\"a\0b\""), NULL),
       "strict JSON: \\u0000 escaped yes, a raw NUL no");

    n = evbus_json_members(S(" {\"a\" :1, \"m\\u0065ta\":{\"x\":[]},"
                             "\"c\":\"}\"}"), m, 4);
    ok(n == 3 && m[0].key_start == 2 && m[0].value_start == 7
       && m[0].value_end == 8
       && strcmp((char *) m[1].name, "meta") == 0
       && m[1].value_start == 22 && m[1].value_end == 30
       && m[2].value_end == 38,
       "members: names decoded, value spans");
    ok(evbus_json_members(S("[1]"), m, 4) == -1
       && evbus_json_members(S("{\"a\":}"), m, 4) == -1,
       "members: only of a strict JSON object");
}


/*
 * Bodies with random bytes changed, inserted or removed must give the
 * same result whole and cut in three at random places.
 */

static void
test_mutations(void)
{
    int                  good, format, round;
    size_t               len, i, k, cuts[2], t;
    uint64_t             x;
    res_t                whole, part;
    unsigned char        body[512];
    ngx_evbus_limits_t   saved;
    static const char    alphabet[] = "{}[],:\" \n\r\\u0aeE.-+tfn\xc3\xff";
    static const char   *seeds[] = {
        "[{\"event_type\":\"a\",\"event_id\":\"1\",\"metadata\":{\"client_ip\""
        ":\"x\",\"k\":[1,{\"b\":null}]}},12,\"s\",{\"event_type\":\"b\","
        "\"event_id\":\"2\",\"event_version\":3}]",
        "{\"event_type\":\"a\",\"event_id\":\"1\"}\n\n{\"event_type\":\"b\","
        "\"event_id\":\"2\",\"metadata\":{\"a\":1.5,\"request_id\":2}}\r\n"
        "[1]\n{\"event_type\":\"c\",\"event_id\":\"3\"}"
    };

    saved = limits;
    limits.max_event_size = 64;
    limits.max_depth = 4;
    limits.max_events = 5;

    x = 0x9e3779b97f4a7c15ULL;
    good = 1;

    for (round = 0; round < 4000 && good; round++) {
        format = (round & 1) ? NDJSON : JSON;
        len = strlen(seeds[round & 1]);
        memcpy(body, seeds[round & 1], len);

        for (k = 0; k < 1 + (size_t) round % 3; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            i = (size_t) (x % len);
            t = (size_t) ((x >> 20) % (sizeof(alphabet) - 1));

            switch ((x >> 40) % 3) {
            case 0:
                body[i] = (unsigned char) alphabet[t];
                break;
            case 1:
                memmove(body + i + 1, body + i, len - i);
                body[i] = (unsigned char) alphabet[t];
                len++;
                break;
            default:
                memmove(body + i, body + i + 1, len - i - 1);
                len--;
            }
        }

        cuts[0] = (size_t) ((x >> 8) % (len + 1));
        cuts[1] = cuts[0] + (size_t) ((x >> 32) % (len - cuts[0] + 1));

        run(&whole, format, body, len);
        run_cuts(&part, format, body, len, cuts, 2, -1);

        if (!same_result(&whole, &part)) {
            good = 0;
            printf("#   round %d cut at %zu %zu\n", round, cuts[0], cuts[1]);
            diag_str("body", body, len);
        }

        done(&whole);
        done(&part);
    }

    ok(good, "mutated bodies: same result whole and in pieces");

    limits = saved;
}


/* the one event_type rule, byte by byte, as the README states it */

static void
test_type_valid(void)
{
    int            good, want;
    size_t         c;
    unsigned char  s[130];

    good = 1;

    for (c = 0; c < 256; c++) {
        s[0] = (unsigned char) c;
        want = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
               || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';

        if (ngx_evbus_type_valid(s, 1) != want
            || (ngx_evbus_name_char(c) != 0) != want)
        {
            printf("#   byte 0x%02zx\n", c);
            good = 0;
        }
    }

    ok(good, "event_type: A-Z a-z 0-9 _ . - and no other byte");

    memset(s, 'a', sizeof(s));

    ok(!ngx_evbus_type_valid(s, 0) && ngx_evbus_type_valid(s, 128)
       && !ngx_evbus_type_valid(s, 129), "event_type: 1 to 128 bytes");
}


static int
escaped_is(const char *in, size_t len, const char *want)
{
    int             good;
    size_t          n;
    unsigned char  *out, *end;

    out = malloc(ngx_evbus_json_escape_len(len) + 1);
    end = ngx_evbus_json_escape(out, (const unsigned char *) in, len);
    n = end - out;

    good = n == strlen(want) && memcmp(out, want, n) == 0;

    if (!good) {
        diag_str("in", (const unsigned char *) in, len);
        diag_str("got", out, n);
    }

    free(out);

    return good;
}


#define ESC(in, want)  escaped_is(in, sizeof(in) - 1, want)
#define FFFD  "\xef\xbf\xbd"


static void
test_json_uint(void)
{
    size_t         i;
    unsigned char  buf[32], *e;

    static const struct {
        uint64_t     n;
        const char  *s;
    } cases[] = {
        { 0, "0" }, { 7, "7" }, { 10, "10" }, { 202, "202" },
        { 2147483647, "2147483647" },
        { 18446744073709551615ULL, "18446744073709551615" },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        e = ngx_evbus_json_uint(buf, cases[i].n);
        ok((size_t) (e - buf) == strlen(cases[i].s)
           && memcmp(buf, cases[i].s, e - buf) == 0,
           "json uint: %s", cases[i].s);
    }
}


static void
test_json_escape(void)
{
    int             good;
    size_t          len, i, n;
    uint64_t        x;
    unsigned char   in[64], out[64 * 6 + 2], *end;

    ok(ESC("plain ~\x7f", "plain ~\x7f"), "escape: ASCII and DEL as they are");
    ok(ESC("a\"b\\c/", "a\\\"b\\\\c/"), "escape: quote and backslash");
    ok(ESC("\n\r\t\b\f\x01\x1f", "\\n\\r\\t\\u0008\\u000c\\u0001\\u001f"),
       "escape: control characters");
    ok(escaped_is("a\0b", 3, "a\\u0000b"), "escape: NUL");
    ok(ESC("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"
           "\xed\x9f\xbf\xee\x80\x80",
           "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"
           "\xed\x9f\xbf\xee\x80\x80"),
       "escape: well-formed UTF-8 copied, up to U+10FFFF");

    ok(ESC("\x80x\xbf", FFFD "x" FFFD), "escape: stray continuation bytes");
    ok(ESC("\xc3\xc3", FFFD FFFD),
       "escape: a lead byte is no continuation byte");
    ok(ESC("\xc0\xaf\xc1\xbf", FFFD FFFD FFFD FFFD),
       "escape: overlong 2-byte forms");
    ok(ESC("\xe0\x80\xaf", FFFD FFFD FFFD), "escape: overlong 3-byte form");
    ok(ESC("\xf0\x80\x80\xaf", FFFD FFFD FFFD FFFD),
       "escape: overlong 4-byte form");
    ok(ESC("\xed\xa0\x80\xed\xbf\xbf", FFFD FFFD FFFD FFFD FFFD FFFD),
       "escape: UTF-16 surrogates");
    ok(ESC("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD),
       "escape: past U+10FFFF");
    ok(ESC("\xf5\x80\x80\x80\xf8\x90\x80\x80\xfe\xff",
           FFFD FFFD FFFD FFFD FFFD FFFD FFFD FFFD FFFD FFFD),
       "escape: bytes that never start a sequence");
    ok(ESC("\xe2\x82" "A\xf0\x9f\x98", FFFD FFFD "A" FFFD FFFD FFFD),
       "escape: truncated sequences, inside and at the end");

    /* random bytes: always valid JSON, never past the bound */

    x = 0x2545f4914f6cdd1dULL;
    good = 1;

    for (i = 0; i < 20000 && good; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;

        len = x % sizeof(in);

        for (n = 0; n < len; n++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;

            /* mostly high bytes, where the cases are */
            in[n] = (x & 0x100) ? (unsigned char) (0x80 | (x >> 24))
                                : (unsigned char) (x >> 32);
        }

        out[0] = '"';
        end = ngx_evbus_json_escape(out + 1, in, len);
        *end++ = '"';

        if ((size_t) (end - out) > ngx_evbus_json_escape_len(len) + 2
            || !evbus_valid_json(out, end - out))
        {
            good = 0;
            diag_str("in", in, len);
            diag_str("out", out, end - out);
        }
    }

    ok(good, "escape: random bytes give valid JSON strings within the bound");
}


int
main(void)
{
    test_type_valid();
    test_single();
    test_array();
    test_generated_id();
    test_metadata();
    test_bytes_kept();
    test_rejections();
    test_limits();
    test_body_errors();
    test_bom();
    test_ndjson();
    test_splits();
    test_nomem();
    test_mutations();
    test_strict_text();
    test_ff_vt();
    test_ff_vt_order();
    test_uuid();
    test_json_escape();
    test_json_strict();
    test_json_uint();

    ok(nvalues > 0 && nbad_values == 0,
       "all %zu produced values are valid JSON", nvalues);

    printf("1..%d\n", ntests);

    return nfailed ? 1 : 0;
}
