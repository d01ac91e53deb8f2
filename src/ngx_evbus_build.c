
/*
 * Copyright (C) ngx_evbus authors
 */


#include <string.h>

#include "ngx_evbus_event_int.h"
#include "ngx_evbus_clock.h"
#include "ngx_evbus_json.h"


static unsigned char *ngx_evbus_build_write_md(ngx_evbus_parser_t *p,
    unsigned char *b, const unsigned char *text, const unsigned char *num,
    size_t num_len);
static size_t ngx_evbus_build_itoa(unsigned char *b, int64_t n);


/* a rejected event larger than the limit: its head, for dead letters */

int
ngx_evbus_build_raw_head(ngx_evbus_parser_t *p, ngx_evbus_event_t *ev)
{
    size_t                max, n;
    const unsigned char  *head;

    max = p->limits.max_event_size;

    if (p->cur.start >= p->chunk_base) {
        head = p->chunk + (p->cur.start - p->chunk_base);

    } else {
        if (p->stage_len < max && p->cur.end > p->chunk_base) {
            n = p->cur.end - p->chunk_base;

            if (n > max - p->stage_len) {
                n = max - p->stage_len;
            }

            memcpy(p->stage + p->stage_len, p->chunk, n);
            p->stage_len += n;
        }

        head = p->stage;
        max = p->stage_len;
    }

    ev->raw = ngx_evbus_event_dup(p, head, max);
    ev->raw_len = max;
    ev->raw_truncated = 1;

    return ev->raw ? NGX_EVBUS_PARSE_OK : NGX_EVBUS_PARSE_NOMEM;
}


/*
 * The value is the client's text with our event_id spliced in after
 * its '{' and our metadata object in place of the client's one or before
 * its '}'; the raw text is copied into the same allocation after it.
 */

int
ngx_evbus_build_value(ngx_evbus_parser_t *p, ngx_evbus_event_t *ev,
    const unsigned char *text, size_t len)
{
    size_t             i, size, md_len, md_start, md_end, num_len;
    int64_t            sent;
    unsigned char     *b, num[24];
    ngx_evbus_span_t  *sp;

    num_len = ngx_evbus_build_itoa(num, ev->event_version);

    md_len = sizeof("{\"event_version\":}") - 1 + num_len;

    if (p->enrich->metadata_len) {
        md_len += 1 + p->enrich->metadata_len;
    }

    /* ts_ms holds the corrected time from here on, or none */

    sent = p->cur.sent_ok ? p->cur.sent_ms
           : p->seg_sent_ok ? p->seg_sent_ms
           : p->enrich->has_sent_at ? p->enrich->sent_at_ms
           : NGX_EVBUS_CLOCK_NONE;

    p->cur.ts_ms = ngx_evbus_clock_correct(p->enrich->now_ms, sent,
                                           p->cur.ts_ok ? p->cur.ts_ms
                                           : NGX_EVBUS_CLOCK_NONE);

    if (p->cur.ts_ms != NGX_EVBUS_CLOCK_NONE) {
        md_len += sizeof(",\"corrected_timestamp\":\"\"") - 1
                  + NGX_EVBUS_CLOCK_TS_LEN;
    }

    for (i = 0; i < p->cur.nspans; i++) {
        sp = &p->spans[i];
        sp->start -= p->cur.start;
        sp->end -= p->cur.start;

        while (ngx_evbus_is_ws(text[sp->start]) || text[sp->start] == ',') {
            sp->start++;
        }

        md_len += 1 + sp->end - sp->start;
    }

    if (p->cur.has_md) {
        md_start = p->cur.md_start - p->cur.start;
        md_end = p->cur.md_end - p->cur.start;
        size = len - (md_end - md_start) + md_len;

    } else {
        md_start = len - 1;
        md_end = len - 1;
        size = len + sizeof(",\"metadata\":") - 1 + md_len;
    }

    if (ev->event_id == NULL) {
        size += NGX_EVBUS_GEN_ID_LEN;

    } else if (p->segment) {
        /* messageId, escaped again: at most 6 bytes for each */
        size += sizeof("\"event_id\":\"\",") - 1
                + ngx_evbus_json_escape_len(ev->event_id_len);
    }

    if (p->segment) {
        size += sizeof("\"event_type\":\"\",") - 1 + ev->event_type_len
                + sizeof("\"context\":,\"integrations\":,") - 1
                + p->cap[0].len + p->cap[1].len;
    }

    b = p->alloc(p->alloc_ctx, size + len);
    if (b == NULL) {
        return NGX_EVBUS_PARSE_NOMEM;
    }

    ev->value = b;
    *b++ = '{';

    if (p->segment && ev->event_id) {
        b = (unsigned char *) memcpy(b, "\"event_id\":\"", 12) + 12;
        b = ngx_evbus_json_escape(b, ev->event_id, ev->event_id_len);
        *b++ = '"';
        *b++ = ',';
    }

    if (ev->event_id == NULL) {
        b = (unsigned char *) memcpy(b, "\"event_id\":\"", 12) + 12;
        ngx_evbus_uuid_v7(p->enrich->uuid, p->enrich->now_ms, b);
        ev->event_id = b;
        ev->event_id_len = NGX_EVBUS_UUID_LEN;
        ev->generated_id = 1;
        b += NGX_EVBUS_UUID_LEN;
        *b++ = '"';
        *b++ = ',';
    }

    if (p->segment) {
        b = (unsigned char *) memcpy(b, "\"event_type\":\"", 14) + 14;
        b = (unsigned char *) memcpy(b, ev->event_type, ev->event_type_len)
            + ev->event_type_len;
        *b++ = '"';
        *b++ = ',';

        /* the batch's own, for items that have none */

        if (p->cap[0].len && !p->cur.seg_context) {
            b = (unsigned char *) memcpy(b, "\"context\":", 10) + 10;
            b = (unsigned char *) memcpy(b, p->cap[0].buf, p->cap[0].len)
                + p->cap[0].len;
            *b++ = ',';
        }

        if (p->cap[1].len && !p->cur.seg_integrations) {
            b = (unsigned char *) memcpy(b, "\"integrations\":", 15) + 15;
            b = (unsigned char *) memcpy(b, p->cap[1].buf, p->cap[1].len)
                + p->cap[1].len;
            *b++ = ',';
        }
    }

    b = (unsigned char *) memcpy(b, text + 1, md_start - 1) + md_start - 1;

    if (!p->cur.has_md) {
        b = (unsigned char *) memcpy(b, ",\"metadata\":", 12) + 12;
    }

    b = ngx_evbus_build_write_md(p, b, text, num, num_len);

    b = (unsigned char *) memcpy(b, text + md_end, len - md_end)
        + len - md_end;

    ev->value_len = b - ev->value;

    ev->raw = memcpy(b, text, len);
    ev->raw_len = len;

    return NGX_EVBUS_PARSE_OK;
}


static unsigned char *
ngx_evbus_build_write_md(ngx_evbus_parser_t *p, unsigned char *b,
    const unsigned char *text, const unsigned char *num, size_t num_len)
{
    size_t             i, n;
    ngx_evbus_span_t  *sp;

    b = (unsigned char *) memcpy(b, "{\"event_version\":", 17) + 17;
    b = (unsigned char *) memcpy(b, num, num_len) + num_len;

    if (p->enrich->metadata_len) {
        *b++ = ',';
        b = (unsigned char *) memcpy(b, p->enrich->metadata,
                                     p->enrich->metadata_len)
            + p->enrich->metadata_len;
    }

    if (p->cur.ts_ms != NGX_EVBUS_CLOCK_NONE) {
        b = (unsigned char *) memcpy(b, ",\"corrected_timestamp\":\"", 24)
            + 24;
        b = ngx_evbus_clock_format(b, p->cur.ts_ms);
        *b++ = '"';
    }

    for (i = 0; i < p->cur.nspans; i++) {
        sp = &p->spans[i];
        n = sp->end - sp->start;

        *b++ = ',';
        b = (unsigned char *) memcpy(b, text + sp->start, n) + n;
    }

    *b++ = '}';

    return b;
}


static size_t
ngx_evbus_build_itoa(unsigned char *b, int64_t n)
{
    size_t         len, i;
    unsigned char  tmp[24];

    len = 0;

    do {
        tmp[len++] = (unsigned char) ('0' + n % 10);
        n /= 10;
    } while (n);

    for (i = 0; i < len; i++) {
        b[i] = tmp[len - 1 - i];
    }

    return len;
}
