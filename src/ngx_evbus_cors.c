
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_headers.h"
#include "ngx_evbus_cors.h"


/*
 * An allowed origin: "https://shop.example", or one with a suffix
 * wildcard ("*" right after the scheme's "://", then ".shop.example"),
 * kept as the prefix up to "://" and the suffix from the dot; a lone "*"
 * allows every origin.
 */

typedef struct {
    ngx_str_t           prefix;
    ngx_str_t           suffix;
    ngx_uint_t          wildcard;
} ngx_http_evbus_cors_origin_t;


typedef struct {
    ngx_array_t         origins;      /* ngx_http_evbus_cors_origin_t */
    ngx_uint_t          any;
} ngx_http_evbus_cors_t;


static ngx_int_t ngx_http_evbus_cors_allowed(ngx_http_evbus_cors_t *cors,
    ngx_str_t *origin);
static ngx_int_t ngx_http_evbus_cors_add(ngx_http_request_t *r,
    ngx_str_t *origin, ngx_uint_t preflight);


char *
ngx_http_evbus_cors_origins(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    u_char                        *star, *slash;
    ngx_str_t                     *value;
    ngx_uint_t                     i;
    ngx_http_evbus_cors_t         *cors, **field;
    ngx_http_evbus_cors_origin_t  *o;

    field = (ngx_http_evbus_cors_t **) (p + cmd->offset);

    if (*field != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    cors = ngx_pcalloc(cf->pool, sizeof(ngx_http_evbus_cors_t));
    if (cors == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_array_init(&cors->origins, cf->pool, cf->args->nelts,
                       sizeof(ngx_http_evbus_cors_origin_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len == 1 && value[i].data[0] == '*') {
            cors->any = 1;
            continue;
        }

        if (value[i].len == 3
            && ngx_strncmp(value[i].data, "off", 3) == 0
            && cf->args->nelts == 2)
        {
            *field = NULL;
            return NGX_CONF_OK;
        }

        slash = ngx_strlcasestrn(value[i].data, value[i].data + value[i].len,
                                 (u_char *) "://", 3 - 1);

        if (slash == NULL
            || slash == value[i].data
            || slash + 3 == value[i].data + value[i].len
            || value[i].data[value[i].len - 1] == '/')
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid origin \"%V\", expected"
                               " scheme://host[:port]", &value[i]);
            return NGX_CONF_ERROR;
        }

        o = ngx_array_push(&cors->origins);
        if (o == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(o, sizeof(ngx_http_evbus_cors_origin_t));

        star = ngx_strlchr(value[i].data, value[i].data + value[i].len, '*');

        if (star == NULL) {
            o->prefix = value[i];
            continue;
        }

        if (star != slash + 3
            || star + 2 >= value[i].data + value[i].len
            || star[1] != '.'
            || ngx_strlchr(star + 1, value[i].data + value[i].len, '*'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid origin \"%V\", a wildcard is only"
                               " allowed as in \"https://*.example.com\"",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        o->wildcard = 1;
        o->prefix.data = value[i].data;
        o->prefix.len = star - value[i].data;
        o->suffix.data = star + 1;
        o->suffix.len = value[i].data + value[i].len - (star + 1);
    }

    *field = cors;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_evbus_cors(ngx_http_request_t *r, void *conf)
{
    ngx_uint_t              preflight;
    ngx_table_elt_t        *origin;
    ngx_http_evbus_cors_t  *cors = conf;

    static ngx_str_t  vary = ngx_string("Origin");

    if (ngx_http_evbus_header_out(r, "Vary", sizeof("Vary") - 1, &vary)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    origin = ngx_http_evbus_header_in(r, "Origin", sizeof("Origin") - 1);

    /* not a browser, or a same-origin request without Origin */

    if (origin == NULL) {
        return NGX_OK;
    }

    if (!ngx_http_evbus_cors_allowed(cors, &origin->value)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "evbus: origin \"%V\" is not allowed",
                      &origin->value);
        return NGX_HTTP_FORBIDDEN;
    }

    preflight = (r->method & NGX_HTTP_OPTIONS)
                && ngx_http_evbus_header_in(r,
                                      "Access-Control-Request-Method",
                                      sizeof("Access-Control-Request-Method")
                                      - 1);

    if (ngx_http_evbus_cors_add(r, &origin->value, preflight) != NGX_OK) {
        return NGX_ERROR;
    }

    return preflight ? NGX_DONE : NGX_OK;
}


ngx_int_t
ngx_http_evbus_cors_headers(ngx_http_request_t *r, void *conf)
{
    ngx_table_elt_t        *origin;
    ngx_http_evbus_cors_t  *cors = conf;

    origin = ngx_http_evbus_header_in(r, "Origin", sizeof("Origin") - 1);

    if (origin == NULL || !ngx_http_evbus_cors_allowed(cors, &origin->value))
    {
        return NGX_OK;
    }

    return ngx_http_evbus_cors_add(r, &origin->value, 0);
}


static ngx_int_t
ngx_http_evbus_cors_allowed(ngx_http_evbus_cors_t *cors, ngx_str_t *origin)
{
    u_char                        *p, *last;
    ngx_uint_t                     i;
    ngx_http_evbus_cors_origin_t  *o;

    if (cors->any) {
        return 1;
    }

    o = cors->origins.elts;

    for (i = 0; i < cors->origins.nelts; i++) {

        if (!o[i].wildcard) {
            if (origin->len == o[i].prefix.len
                && ngx_strncasecmp(origin->data, o[i].prefix.data,
                                   origin->len) == 0)
            {
                return 1;
            }

            continue;
        }

        /* at least one character of host before the suffix */

        if (origin->len <= o[i].prefix.len + o[i].suffix.len
            || ngx_strncasecmp(origin->data, o[i].prefix.data,
                               o[i].prefix.len) != 0
            || ngx_strncasecmp(origin->data + origin->len - o[i].suffix.len,
                               o[i].suffix.data, o[i].suffix.len) != 0)
        {
            continue;
        }

        p = origin->data + o[i].prefix.len;
        last = origin->data + origin->len - o[i].suffix.len;

        while (p < last) {
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                  || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
            {
                break;
            }

            p++;
        }

        if (p == last && origin->data[o[i].prefix.len] != '.') {
            return 1;
        }
    }

    return 0;
}


/*
 * The request's own origin is echoed, never "*": beacons are sent with
 * credentials, and a wildcard would not do for them.
 */

static ngx_int_t
ngx_http_evbus_cors_add(ngx_http_request_t *r, ngx_str_t *origin,
    ngx_uint_t preflight)
{
    static ngx_str_t  methods = ngx_string("POST, OPTIONS");
    static ngx_str_t  headers = ngx_string("Content-Type, Content-Encoding,"
                                           " Authorization, X-Write-Key,"
                                           " X-Sent-At, traceparent,"
                                           " tracestate");
    static ngx_str_t  max_age = ngx_string(NGX_HTTP_EVBUS_CORS_MAX_AGE);
    static ngx_str_t  yes = ngx_string("true");
    static ngx_str_t  expose = ngx_string("Retry-After");

#define ngx_http_evbus_cors_out(name, value)                                  \
    if (ngx_http_evbus_header_out(r, name, sizeof(name) - 1, value)           \
        != NGX_OK)                                                            \
    {                                                                         \
        return NGX_ERROR;                                                     \
    }

    ngx_http_evbus_cors_out("Access-Control-Allow-Origin", origin);
    ngx_http_evbus_cors_out("Access-Control-Allow-Credentials", &yes);

    if (preflight) {
        ngx_http_evbus_cors_out("Access-Control-Allow-Methods", &methods);
        ngx_http_evbus_cors_out("Access-Control-Allow-Headers", &headers);
        ngx_http_evbus_cors_out("Access-Control-Max-Age", &max_age);

    } else {
        /* a browser SDK must see when to retry a 503 or 429 */
        ngx_http_evbus_cors_out("Access-Control-Expose-Headers", &expose);
    }

#undef ngx_http_evbus_cors_out

    return NGX_OK;
}
