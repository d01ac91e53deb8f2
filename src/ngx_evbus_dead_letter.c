
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_module.h"
#include "ngx_evbus_ctx.h"
#include "ngx_evbus_json.h"
#include "ngx_evbus_log.h"
#include "ngx_evbus_outbox.h"
#include "ngx_evbus_stats.h"
#include "ngx_evbus_dead_letter.h"


/*
 * The dead letter of a rejected event, produced without waiting for its
 * delivery report (the client's answer does not depend on it):
 *
 * {"error":{"kind":"schema","pointer":"/price","keyword":"type",
 *  "message":"expected number, got string"},"event_type":"purchase",
 *  "raw":"<the event's text>","raw_truncated":true,
 *  "metadata":{"ingest_timestamp":...,"request_id":...}}
 *
 * keyword, event_type and raw_truncated appear only when they apply.
 */


static u_char *ngx_http_evbus_dead_letter_string(u_char *p,
    const char *name, u_char *s, size_t len);


/* a client can have 500 events a request rejected: logged once a second */
static ngx_evbus_log_limit_t  ngx_http_evbus_rejected_log;
static ngx_evbus_log_limit_t  ngx_http_evbus_dead_letter_log;


void
ngx_http_evbus_dead_letter(ngx_http_request_t *r, ngx_evbus_event_t *ev,
    ngx_str_t *metadata, ngx_str_t *timestamp, int64_t now)
{
    u_char                     *p, *b, text[NGX_EVBUS_LOG_STR_LEN];
    size_t                      len, mlen, klen, plen, wlen;
    ngx_int_t                   rc;
    ngx_uint_t                  skipped;
    ngx_str_t                   error_kind;
    const char                 *kind, *pointer, *message, *keyword, *err;
    ngx_evbus_msg_t             msg;
    ngx_http_evbus_ctx_t       *ctx;
    ngx_http_evbus_loc_conf_t  *elcf;

    elcf = ngx_http_get_module_loc_conf(r, ngx_http_evbus_module);

    kind = ev->error_kind ? ev->error_kind : "invalid";
    pointer = ev->error_pointer ? ev->error_pointer : "";
    message = ev->error_message ? ev->error_message : ev->error;
    keyword = ev->error_keyword;

    if (elcf->dead_letter_topic.len == 0 || ev->raw == NULL) {
        if (ngx_evbus_log_limit(&ngx_http_evbus_rejected_log, &skipped)) {
            /* the error may quote the client's keys and values */
            p = ngx_evbus_log_escape(text, sizeof(text),
                                     (u_char *) ev->error,
                                     ngx_strlen(ev->error));

            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "evbus: event %uz rejected (%s%s): %*s"
                          " (%ui more rejected events not logged)",
                          ev->index, kind,
                          ev->raw ? "" : ", not delimited", p - text, text,
                          skipped);
        }

        return;
    }

    mlen = ngx_strlen(message);
    klen = ngx_strlen(kind);
    plen = ngx_strlen(pointer);
    wlen = keyword ? ngx_strlen(keyword) : 0;

    len = sizeof("{\"error\":{\"kind\":\"\",\"pointer\":\"\",\"keyword\":\"\","
                 "\"message\":\"\"},\"event_type\":\"\",\"raw\":\"\","
                 "\"raw_truncated\":true,\"metadata\":{}}") - 1
          + ngx_evbus_json_escape_len(klen)
          + ngx_evbus_json_escape_len(plen)
          + ngx_evbus_json_escape_len(wlen)
          + ngx_evbus_json_escape_len(mlen)
          + ngx_evbus_json_escape_len(ev->event_type_len)
          + ngx_evbus_json_escape_len(ev->raw_len)
          + metadata->len;

    b = ngx_pnalloc(r->pool, len);
    if (b == NULL) {
        return;
    }

    p = ngx_cpymem(b, "{\"error\":{", sizeof("{\"error\":{") - 1);
    p = ngx_http_evbus_dead_letter_string(p, "kind", (u_char *) kind,
                                          klen);
    *p++ = ',';
    p = ngx_http_evbus_dead_letter_string(p, "pointer", (u_char *) pointer,
                                          plen);

    if (keyword) {
        *p++ = ',';
        p = ngx_http_evbus_dead_letter_string(p, "keyword",
                                              (u_char *) keyword, wlen);
    }

    *p++ = ',';
    p = ngx_http_evbus_dead_letter_string(p, "message", (u_char *) message,
                                          mlen);
    *p++ = '}';

    if (ev->event_type) {
        *p++ = ',';
        p = ngx_http_evbus_dead_letter_string(p, "event_type",
                                              ev->event_type,
                                              ev->event_type_len);
    }

    *p++ = ',';
    p = ngx_http_evbus_dead_letter_string(p, "raw", ev->raw, ev->raw_len);

    if (ev->raw_truncated) {
        p = ngx_cpymem(p, ",\"raw_truncated\":true",
                       sizeof(",\"raw_truncated\":true") - 1);
    }

    p = ngx_cpymem(p, ",\"metadata\":{", sizeof(",\"metadata\":{") - 1);
    p = ngx_cpymem(p, metadata->data, metadata->len);
    *p++ = '}';
    *p++ = '}';

    ngx_memzero(&msg, sizeof(ngx_evbus_msg_t));

    msg.topic = elcf->dead_letter_topic;
    msg.value.data = b;
    msg.value.len = p - b;
    msg.key.data = ev->event_id;
    msg.key.len = ev->event_id ? ev->event_id_len : 0;
    msg.event_type.data = ev->event_type;
    msg.event_type.len = ev->event_type ? ev->event_type_len : 0;
    msg.source_service = elcf->source_service_raw;
    msg.ingest_timestamp = *timestamp;
    msg.timestamp = now;

    ctx = ngx_http_get_module_ctx(r, ngx_http_evbus_module);

    if (ctx) {
        msg.traceparent = ctx->traceparent;
        msg.tracestate = ctx->tracestate;
    }

    error_kind.data = (u_char *) kind;
    error_kind.len = klen;

    rc = ngx_evbus_outbox_dead_letter(&msg, &error_kind, &err);

    if (rc != NGX_OK) {
        if (ngx_evbus_log_limit(&ngx_http_evbus_dead_letter_log, &skipped)) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "evbus: dead letter of event %uz to \"%V\" not"
                          " queued: %s (%ui more not logged)", ev->index,
                          &msg.topic, err, skipped);
        }

        return;
    }

    ngx_evbus_stats_add(NGX_EVBUS_STAT_DEAD_LETTERS, 1);
}


static u_char *
ngx_http_evbus_dead_letter_string(u_char *p, const char *name, u_char *s,
    size_t len)
{
    *p++ = '"';
    p = ngx_cpymem(p, name, ngx_strlen(name));
    *p++ = '"';
    *p++ = ':';
    *p++ = '"';
    p = ngx_evbus_json_escape(p, s, len);
    *p++ = '"';

    return p;
}
