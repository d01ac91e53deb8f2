
/*
 * Copyright (C) ngx_evbus authors
 */


/*
 * libFuzzer target: arbitrary bytes through the event core in the Segment
 * formats (evbus_format segment), fed in chunks.  The first input byte
 * chooses batch or single call, the chunk size, the event size limit and
 * a single call's type; the rest is the body.  Besides the sanitizers it
 * checks that every produced value is valid JSON that holds the item's
 * own bytes unchanged (the module only adds), and that rejected events
 * have a kind.
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
#include "ngx_evbus_segment.h"

#include "support.h"


static evbus_pool_t          pool;
static ngx_evbus_uuid_gen_t  gen;


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                  rc, format;
    size_t               i, n, off, chunk;
    uint8_t              ctl;
    unsigned char       *copy;
    const unsigned char *key;
    ngx_evbus_event_t   *ev;
    ngx_evbus_limits_t   limits;
    ngx_evbus_enrich_t   enrich;
    ngx_evbus_parser_t  *p;

    static const char  md[] =
        "\"ingest_timestamp\":\"2026-11-26T17:00:00.000Z\"";

    if (size == 0) {
        return 0;
    }

    ctl = data[0];
    data++;
    size--;

    format = (ctl & 1) ? NGX_EVBUS_FORMAT_SEGMENT
                       : NGX_EVBUS_FORMAT_SEGMENT_BATCH;
    chunk = ((ctl >> 1) & 7) ? (size_t) 1 << ((ctl >> 1) & 7) : size + 1;

    limits.max_event_size = (ctl & 0x10) ? 256 : 32768;
    limits.max_events = 64;
    limits.max_depth = 8;

    memset(&enrich, 0, sizeof(ngx_evbus_enrich_t));
    enrich.metadata = (const unsigned char *) md;
    enrich.metadata_len = sizeof(md) - 1;
    enrich.now_ms = 1795712400000LL;
    enrich.uuid = &gen;

    p = ngx_evbus_parser_create(format, &limits, &enrich, evbus_pool_alloc,
                                &pool);
    if (p == NULL) {
        abort();
    }

    if (format == NGX_EVBUS_FORMAT_SEGMENT) {
        ngx_evbus_parser_set_segment_call(p, (ctl >> 5) % 7);
    }

    rc = NGX_EVBUS_PARSE_OK;

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
        key = ngx_evbus_parser_write_key(p, &n);

        if (key != NULL && n == 0) {
            abort();
        }

        rc = ngx_evbus_parser_build(p);
    }

    if (rc == NGX_EVBUS_PARSE_OK) {
        ev = ngx_evbus_parser_events(p, &n);

        for (i = 0; i < n; i++) {
            if (ev[i].error == NULL
                && (!evbus_valid_json(ev[i].value, ev[i].value_len)
                    || ev[i].event_type == NULL
                    || !ngx_evbus_type_valid(ev[i].event_type,
                                             ev[i].event_type_len)))
            {
                fprintf(stderr, "fuzz: event %zu: invalid value: %.*s\n", i,
                        (int) ev[i].value_len, ev[i].value);
                abort();
            }

            /* without a metadata member of its own, the item is all there */

            if (ev[i].error == NULL && ev[i].raw_len > 2
                && memmem(ev[i].raw, ev[i].raw_len, "metadata", 8) == NULL
                && memmem(ev[i].value, ev[i].value_len, ev[i].raw + 1,
                          ev[i].raw_len - 2) == NULL)
            {
                fprintf(stderr, "fuzz: event %zu: the item's bytes changed:"
                        " %.*s\n", i, (int) ev[i].value_len, ev[i].value);
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

    return 0;
}
