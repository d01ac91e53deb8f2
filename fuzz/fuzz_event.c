
/*
 * Copyright (C) ngx_evbus authors
 */


/*
 * libFuzzer target: arbitrary bytes through the event core (split,
 * validate against conf-examples/schemas, enrich), fed in chunks.  The
 * first input byte chooses the format, the chunk size and the schema
 * options; the rest is the body.  Besides the sanitizers it checks that
 * every produced value is valid JSON and valid UTF-8, and that the body,
 * JSON-escaped as dead letters and responses do, is a valid JSON string.
 */

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


static evbus_pool_t          pool;
static ngx_evbus_schemas_t  *schemas;
static ngx_evbus_uuid_gen_t  gen;


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


/*
 * strict UTF-8, no unpaired surrogate escapes, and no form feed or
 * vertical tab (yajl's whitespace, not RFC 8259's)
 */

static int
valid_text(const unsigned char *s, size_t len)
{
    size_t    i, n, k;
    unsigned  c, u, v;

    for (i = 0; i < len; i++) {
        c = s[i];

        if (c == '\\' && i + 1 < len) {
            if (s[i + 1] != 'u') {
                i++;
                continue;
            }

            if (i + 6 > len || sscanf((const char *) s + i + 2, "%4x", &u) != 1)
            {
                return 0;
            }

            i += 5;

            if (u >= 0xdc00 && u <= 0xdfff) {
                return 0;
            }

            if (u >= 0xd800 && u <= 0xdbff) {
                if (i + 7 > len || s[i + 1] != '\\' || s[i + 2] != 'u'
                    || sscanf((const char *) s + i + 3, "%4x", &v) != 1
                    || v < 0xdc00 || v > 0xdfff)
                {
                    return 0;
                }

                i += 6;
            }

            continue;
        }

        if (c == 0x0b || c == 0x0c) {
            return 0;
        }

        if (c < 0x80) {
            continue;
        }

        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            u = c & 0x1f;

        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            u = c & 0x0f;

        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            u = c & 0x07;

        } else {
            return 0;
        }

        if (i + n >= len) {
            return 0;
        }

        for (k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return 0;
            }

            u = (u << 6) | (s[i + k] & 0x3f);
        }

        if ((n == 2 && (u < 0x800 || (u >= 0xd800 && u <= 0xdfff)))
            || (n == 3 && (u < 0x10000 || u > 0x10ffff)))
        {
            return 0;
        }

        i += n;
    }

    return 1;
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


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                  rc, format;
    size_t               i, n, chunk, off;
    uint8_t              ctl;
    unsigned char       *copy;
    ngx_evbus_event_t   *ev;
    ngx_evbus_limits_t   limits;
    ngx_evbus_enrich_t   enrich;
    ngx_evbus_parser_t  *p;

    static const char  md[] = "\"ingest_timestamp\":\"2026-11-26T17:00:00Z\"";

    static const ngx_evbus_name_t  reserved[] = {
        { (const unsigned char *) "uid", 3 }
    };

    if (size == 0) {
        return 0;
    }

    ctl = data[0];
    data++;
    size--;

    format = (ctl & 1) ? NGX_EVBUS_FORMAT_NDJSON : NGX_EVBUS_FORMAT_JSON;
    chunk = ((ctl >> 1) & 7) ? (size_t) 1 << ((ctl >> 1) & 7) : size + 1;

    limits.max_event_size = (ctl & 0x10) ? 256 : 32768;
    limits.max_events = 64;
    limits.max_depth = (ctl & 0x20) ? 4 : 32;

    memset(&enrich, 0, sizeof(ngx_evbus_enrich_t));
    enrich.metadata = (const unsigned char *) md;
    enrich.metadata_len = sizeof(md) - 1;
    enrich.now_ms = 1764176400000LL;
    enrich.uuid = &gen;
    enrich.reserved = reserved;
    enrich.nreserved = 1;

    /* a request-level sent_at for half of the inputs */
    enrich.has_sent_at = size & 1;
    enrich.sent_at_ms = 1764176000000LL;

    p = ngx_evbus_parser_create(format, &limits, &enrich, evbus_pool_alloc,
                                &pool);
    if (p == NULL) {
        abort();
    }

    rc = ngx_evbus_parser_set_schemas(p, (ctl & 0x40) ? NULL : schemas,
                                      (ctl & 0x80) ? 1 : 0, ctl & 0x08);

    for (off = 0; rc == NGX_EVBUS_PARSE_OK && off < size; off += n) {
        n = size - off < chunk ? size - off : chunk;

        /* each chunk from its own buffer, gone after the call */
        copy = malloc(n);
        memcpy(copy, data + off, n);
        rc = ngx_evbus_parser_feed(p, copy, n);
        free(copy);
    }

    if (rc == NGX_EVBUS_PARSE_OK) {
        rc = ngx_evbus_parser_finish(p);
    }

    if (rc == NGX_EVBUS_PARSE_OK) {
        ev = ngx_evbus_parser_events(p, &n);

        for (i = 0; i < n; i++) {
            if (ev[i].error == NULL
                && (!evbus_valid_json(ev[i].value, ev[i].value_len)
                    || !valid_text(ev[i].value, ev[i].value_len)))
            {
                fprintf(stderr, "fuzz: event %zu: invalid value: %.*s\n", i,
                        (int) ev[i].value_len, ev[i].value);
                abort();
            }

            if (ev[i].error != NULL
                && (ev[i].error_kind == NULL || ev[i].error_pointer == NULL
                    || ev[i].error_message == NULL))
            {
                fprintf(stderr, "fuzz: event %zu: error without kind\n", i);
                abort();
            }
        }
    }

    ngx_evbus_parser_destroy(p);
    evbus_pool_free(&pool);

    /* NUL-terminated for valid_text()'s sscanf() */

    copy = malloc(ngx_evbus_json_escape_len(size) + 3);
    copy[0] = '"';
    n = ngx_evbus_json_escape(copy + 1, data, size) - copy;
    copy[n++] = '"';
    copy[n] = '\0';

    if (n > ngx_evbus_json_escape_len(size) + 2
        || !evbus_valid_json(copy, n) || !valid_text(copy, n))
    {
        fprintf(stderr, "fuzz: the escaped body is no valid JSON string\n");
        abort();
    }

    free(copy);

    return 0;
}
