
/*
 * Copyright (C) ngx_evbus authors
 */


/*
 * libFuzzer target: arbitrary bytes through the event core (split,
 * validate against conf-examples/schemas, enrich).  The first input byte
 * chooses the format, the limits and the schema options; the rest is the
 * body.  Besides the sanitizers it asserts properties (abort() on a
 * violation):
 *   - the body fed whole and the same body fed in random chunks (each from
 *     its own buffer, freed after the call) give the same result: status,
 *     events, errors, values byte for byte;
 *   - every produced value is strict JSON and UTF-8 (t/unit/json_strict.h,
 *     not yajl);
 *   - every produced value is the client's bytes plus exactly two
 *     insertions: a generated event_id as the first member (only when the
 *     client sent none) and the metadata object (replacing the client's,
 *     whose members other than the module's names are kept byte for
 *     byte); it has exactly one event_id and one metadata member, and the
 *     client's text (raw) is a piece of the body, events in body order;
 *   - a rejected event has a kind, a pointer and a message.
 */

#define _GNU_SOURCE
#define PCRE2_CODE_UNIT_WIDTH  8

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>
#include <yajl/yajl_parse.h>

#include "ngx_evbus_event.h"
#include "ngx_evbus_schema.h"
#include "ngx_evbus_json.h"

#include "support.h"


typedef struct {
    evbus_pool_t         pool;
    int                  rc;
    const char          *error;
    ngx_evbus_event_t   *ev;
    size_t               n;
} result_t;


static ngx_evbus_schemas_t  *schemas;
static ngx_evbus_uuid_gen_t  gen;

static const char  md[] = "\"ingest_timestamp\":\"2026-11-26T17:00:00Z\"";

/* the module's metadata names: a client's members of these are dropped */
static const char  *reserved[] = { "event_version", "ingest_timestamp",
    "source_service", "client_ip", "user_agent", "request_id", "write_key",
    "corrected_timestamp", "uid", NULL };

/* an operator's evbus_metadata member */
static const ngx_evbus_name_t  operator_names[] = {
    { (const unsigned char *) "uid", 3 }
};



#define fail(...)                                                            \
    do {                                                                     \
        fprintf(stderr, "fuzz: " __VA_ARGS__);                               \
        fprintf(stderr, "\n");                                               \
        abort();                                                             \
    } while (0)


static void *
regex_compile(void *ctx, const unsigned char *pattern, size_t len, char *err,
    size_t err_len)
{
    int          rc;
    PCRE2_SIZE   off;
    pcre2_code  *re;

    (void) ctx;

    re = pcre2_compile(pattern, len, PCRE2_UTF|PCRE2_DOLLAR_ENDONLY, &rc,
                       &off, NULL);
    if (re == NULL) {
        pcre2_get_error_message(rc, (PCRE2_UCHAR *) err, err_len);
    }

    return re;
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char                    err[NGX_EVBUS_SCHEMA_ERR_LEN];
    const char             *dir;
    static evbus_pool_t     set_pool;
    ngx_evbus_schema_env_t  env;

    (void) argc;
    (void) argv;

    dir = getenv("FUZZ_SCHEMAS");
    if (dir == NULL) {
        dir = "conf-examples/schemas";
    }

    env.alloc = evbus_pool_alloc;
    env.alloc_ctx = &set_pool;
    env.regex_compile = regex_compile;
    env.regex_match = evbus_regex_match;
    env.regex_ctx = NULL;

    schemas = ngx_evbus_schemas_create(&env);

    if (schemas == NULL
        || ngx_evbus_schemas_load(schemas, dir, err, sizeof(err)) != 0)
    {
        fprintf(stderr, "fuzz: cannot load schemas: %s\n", err);
        abort();
    }

    return 0;
}


/*
 * Feeds the body in chunks: whole when seed is 0, else of random sizes
 * (1 to 64 bytes, or now and then larger) from a generator seeded with it.
 */

static void
parse(result_t *r, uint8_t ctl, const uint8_t *data, size_t size,
    uint64_t seed)
{
    int                  format;
    size_t               n, off;
    unsigned char       *copy;
    ngx_evbus_limits_t   limits;
    ngx_evbus_enrich_t   enrich;
    ngx_evbus_parser_t  *p;

    format = (ctl & 1) ? NGX_EVBUS_FORMAT_NDJSON : NGX_EVBUS_FORMAT_JSON;

    limits.max_event_size = (ctl & 0x10) ? 256 : 32768;
    limits.max_events = 64;
    limits.max_depth = (ctl & 0x20) ? 4 : 32;

    /* the same ids in both runs */
    memset(&gen, 0, sizeof(gen));
    gen.state[0] = 0x0123456789abcdefULL;
    gen.state[1] = 0xfedcba9876543210ULL;

    memset(&enrich, 0, sizeof(ngx_evbus_enrich_t));
    enrich.metadata = (const unsigned char *) md;
    enrich.metadata_len = sizeof(md) - 1;
    enrich.now_ms = 1764176400000LL;
    enrich.uuid = &gen;
    enrich.reserved = operator_names;
    enrich.nreserved = 1;

    /* a request-level sent_at for half of the inputs */
    enrich.has_sent_at = size & 1;
    enrich.sent_at_ms = 1764176000000LL;

    p = ngx_evbus_parser_create(format, &limits, &enrich, evbus_pool_alloc,
                                &r->pool);
    if (p == NULL) {
        fail("parser_create failed");
    }

    r->rc = ngx_evbus_parser_set_schemas(p, (ctl & 0x40) ? NULL : schemas,
                                         (ctl & 0x80) ? 1 : 0, ctl & 0x08);

    for (off = 0; r->rc == NGX_EVBUS_PARSE_OK && off < size; off += n) {
        if (seed == 0) {
            n = size;

        } else {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            n = (seed & 0xf00) ? 1 + (seed & 63) : 1 + (seed & 4095);
            n = size - off < n ? size - off : n;
        }

        /* each chunk from its own buffer, gone after the call */
        copy = malloc(n);
        memcpy(copy, data + off, n);
        r->rc = ngx_evbus_parser_feed(p, copy, n);
        free(copy);
    }

    if (r->rc == NGX_EVBUS_PARSE_OK) {
        r->rc = ngx_evbus_parser_finish(p);
    }

    r->error = NULL;
    r->ev = NULL;
    r->n = 0;

    if (r->rc == NGX_EVBUS_PARSE_OK) {
        r->ev = ngx_evbus_parser_events(p, &r->n);

    } else {
        r->error = ngx_evbus_parser_error(p);
    }

    ngx_evbus_parser_destroy(p);
}


static int
same(const void *a, size_t alen, const void *b, size_t blen)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }

    return alen == blen && memcmp(a, b, alen) == 0;
}




static void
compare(const result_t *a, const result_t *b)
{
    size_t                    i;
    const ngx_evbus_event_t  *x, *y;

    if (a->rc != b->rc || !evbus_same_body_error(a->error, b->error)) {
        fail("whole: rc %d \"%s\"; in chunks: rc %d \"%s\"", a->rc,
             a->error ? a->error : "", b->rc, b->error ? b->error : "");
    }

    if (a->n != b->n) {
        fail("whole: %zu events; in chunks: %zu", a->n, b->n);
    }

    for (i = 0; i < a->n; i++) {
        x = &a->ev[i];
        y = &b->ev[i];

        if (x->index != y->index
            || !evbus_same_str(x->error, y->error)
            || !evbus_same_str(x->error_kind, y->error_kind)
            || !evbus_same_str(x->error_pointer, y->error_pointer)
            || !same(x->value, x->value_len, y->value, y->value_len)
            || !same(x->event_type, x->event_type_len,
                     y->event_type, y->event_type_len)
            || !same(x->event_id, x->event_id_len,
                     y->event_id, y->event_id_len)
            || !same(x->raw, x->raw_len, y->raw, y->raw_len)
            || x->event_version != y->event_version
            || x->raw_truncated != y->raw_truncated
            || x->generated_id != y->generated_id)
        {
            fail("event %zu differs whole and in chunks: \"%s\" / \"%s\";"
                 " %.*s / %.*s", i, x->error ? x->error : "",
                 y->error ? y->error : "", (int) x->value_len,
                 x->value ? (const char *) x->value : "",
                 (int) y->value_len,
                 y->value ? (const char *) y->value : "");
        }
    }
}


static int
is_reserved(const evbus_json_member_t *m)
{
    size_t  i;

    for (i = 0; reserved[i]; i++) {
        if (m->name_len == strlen(reserved[i])
            && strcmp((const char *) m->name, reserved[i]) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static long
find(const evbus_json_member_t *m, long n, const char *name, long *count)
{
    long  i, at;

    at = -1;
    *count = 0;

    for (i = 0; i < n; i++) {
        if (m[i].name_len == strlen(name)
            && strcmp((const char *) m[i].name, name) == 0)
        {
            at = i;
            (*count)++;
        }
    }

    return at;
}


#define MAX_MEMBERS  4096

static evbus_json_member_t  vm[MAX_MEMBERS], rm[MAX_MEMBERS];
static evbus_json_member_t  cm[MAX_MEMBERS];
static unsigned char        want[4 * 65536 + 4096];


/* the value is the client's text plus exactly the two insertions */

static void
check_splice(size_t i, const ngx_evbus_event_t *ev)
{
    long                  nv, nr, nc, k, vmd, rmd, cnt;
    size_t                len, skip, idlen, mdlen;
    const char           *err;
    unsigned char        *w, num[24];
    const unsigned char  *v, *raw;

    v = ev->value;
    raw = ev->raw;

    if (!evbus_strict_json(v, ev->value_len, &err)) {
        fail("event %zu: value is not strict JSON (%s): %.*s", i, err,
             (int) ev->value_len, v);
    }

    nv = evbus_json_members(v, ev->value_len, vm, MAX_MEMBERS);
    nr = evbus_json_members(raw, ev->raw_len, rm, MAX_MEMBERS);

    if (nv < 0 || nr < 0 || nv > MAX_MEMBERS || nr > MAX_MEMBERS) {
        fail("event %zu: value or raw is not an object", i);
    }

    if (find(vm, nv, "event_id", &cnt) < 0 || cnt != 1) {
        fail("event %zu: %ld event_id members: %.*s", i, cnt,
             (int) ev->value_len, v);
    }

    vmd = find(vm, nv, "metadata", &cnt);
    if (vmd < 0 || cnt != 1) {
        fail("event %zu: %ld metadata members: %.*s", i, cnt,
             (int) ev->value_len, v);
    }

    rmd = find(rm, nr, "metadata", &cnt);

    /* the metadata object the module writes */

    w = want;
    len = snprintf((char *) num, sizeof(num), "%lld",
                   (long long) ev->event_version);
    w += sprintf((char *) w, "{\"event_version\":%s,%s", num, md);

    /* the corrected time, when the event's times allowed one */

    k = w - want;
    skip = sizeof(",\"corrected_timestamp\":\"\"") - 1 + 24;

    if (vm[vmd].value_end - vm[vmd].value_start > k + (long) skip
        && memcmp(v + vm[vmd].value_start + k, ",\"corrected_timestamp\":\"",
                  sizeof(",\"corrected_timestamp\":\"") - 1) == 0)
    {
        memcpy(w, v + vm[vmd].value_start + k, skip);
        w += skip;
    }

    if (rmd >= 0) {
        nc = evbus_json_members(raw + rm[rmd].value_start,
                                rm[rmd].value_end - rm[rmd].value_start,
                                cm, MAX_MEMBERS);
        if (nc < 0 || nc > MAX_MEMBERS) {
            fail("event %zu: client metadata is not an object", i);
        }

        for (k = 0; k < nc; k++) {
            if (is_reserved(&cm[k])) {
                continue;
            }

            *w++ = ',';
            len = cm[k].value_end - cm[k].key_start;
            memcpy(w, raw + rm[rmd].value_start + cm[k].key_start, len);
            w += len;
        }
    }

    *w++ = '}';
    mdlen = w - want;

    if (!same(v + vm[vmd].value_start,
              vm[vmd].value_end - vm[vmd].value_start, want, mdlen))
    {
        fail("event %zu: metadata %.*s, expected %.*s", i,
             (int) (vm[vmd].value_end - vm[vmd].value_start),
             v + vm[vmd].value_start, (int) mdlen, want);
    }

    /* the client's bytes around it, after the generated id */

    idlen = sizeof("\"event_id\":\"\",") - 1 + NGX_EVBUS_UUID_LEN;

    if (ev->generated_id) {
        if (ev->value_len < 1 + idlen
            || memcmp(v + 1, "\"event_id\":\"", 12) != 0
            || v[idlen - 1] != '"' || v[idlen] != ','
            || find(rm, nr, "event_id", &cnt) >= 0)
        {
            fail("event %zu: generated event_id not the first member: %.*s",
                 i, (int) ev->value_len, v);
        }

        skip = idlen;

    } else {
        skip = 0;
    }

    w = want;
    *w++ = '{';

    if (rmd >= 0) {
        len = rm[rmd].value_start - 1;
        memcpy(w, raw + 1, len);
        w += len;
        memcpy(w, v + vm[vmd].value_start, mdlen);
        w += mdlen;
        len = ev->raw_len - rm[rmd].value_end;
        memcpy(w, raw + rm[rmd].value_end, len);
        w += len;

    } else {
        len = ev->raw_len - 2;
        memcpy(w, raw + 1, len);
        w += len;
        w += sprintf((char *) w, ",\"metadata\":");
        memcpy(w, v + vm[vmd].value_start, mdlen);
        w += mdlen;
        *w++ = '}';
    }

    if (v[0] != '{' || raw[0] != '{' || raw[ev->raw_len - 1] != '}'
        || !same(v + 1 + skip, ev->value_len - 1 - skip, want + 1,
                 w - want - 1))
    {
        fail("event %zu: not the client's bytes plus the insertions:\n"
             "  raw   %.*s\n  value %.*s\n  want  %.*s", i,
             (int) ev->raw_len, raw, (int) ev->value_len, v,
             (int) (w - want), want);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                    i, at, n;
    uint8_t                   ctl;
    unsigned char            *copy;
    uint64_t                  seed;
    const unsigned char      *found;
    const ngx_evbus_event_t  *ev;
    static result_t           whole, cut;

    if (size == 0 || size > 65536) {
        return 0;
    }

    ctl = data[0];
    data++;
    size--;

    /* a seed from the input, never 0 */
    seed = 0x9e3779b97f4a7c15ULL;
    for (i = 0; i < size; i++) {
        seed = (seed ^ data[i]) * 0x100000001b3ULL;
    }
    seed |= 1;

    parse(&whole, ctl, data, size, 0);
    parse(&cut, ctl, data, size, seed);

    compare(&whole, &cut);

    at = 0;

    for (i = 0; i < whole.n; i++) {
        ev = &whole.ev[i];

        if (ev->error != NULL) {
            if (ev->error_kind == NULL || ev->error_pointer == NULL
                || ev->error_message == NULL)
            {
                fail("event %zu: error without kind", i);
            }

            continue;
        }

        /* the client's text is a piece of the body, in order */

        found = ev->raw_len && ev->raw_len <= size - at
                ? memmem(data + at, size - at, ev->raw, ev->raw_len) : NULL;
        if (found == NULL) {
            fail("event %zu: raw is not in the body after byte %zu: %.*s",
                 i, at, (int) ev->raw_len, ev->raw);
        }

        at = found - data + ev->raw_len;

        check_splice(i, ev);
    }

    evbus_pool_free(&whole.pool);
    evbus_pool_free(&cut.pool);

    /* the body, JSON-escaped as dead letters and responses do */

    copy = malloc(ngx_evbus_json_escape_len(size) + 2);
    if (copy == NULL) {
        fail("out of memory");
    }

    copy[0] = '"';
    n = ngx_evbus_json_escape(copy + 1, data, size) - copy;
    copy[n++] = '"';

    if (n > ngx_evbus_json_escape_len(size) + 2
        || !evbus_valid_json(copy, n))
    {
        fail("the escaped body is no valid JSON string");
    }

    free(copy);

    return 0;
}
