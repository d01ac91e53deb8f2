
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_json.h"
#include "ngx_evbus_event.h"
#include "ngx_evbus_metadata.h"


typedef struct {
    ngx_str_t                   name_json;
    ngx_http_complex_value_t    value;
} ngx_http_evbus_metadata_item_t;


typedef struct {
    ngx_array_t                 items;    /* ngx_http_evbus_metadata_item_t */
    ngx_array_t                 names;    /* ngx_evbus_name_t */
} ngx_http_evbus_metadata_conf_t;


/* the members the module writes itself */
static ngx_str_t  ngx_http_evbus_metadata_builtin[] = {
    ngx_string("event_version"),
    ngx_string("ingest_timestamp"),
    ngx_string("source_service"),
    ngx_string("client_ip"),
    ngx_string("user_agent"),
    ngx_string("request_id"),
    ngx_string("write_key"),
    ngx_string("corrected_timestamp"),
    ngx_null_string
};


char *
ngx_http_evbus_metadata(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t                         *value, *b;
    ngx_uint_t                         i;
    ngx_evbus_name_t                  *name;
    ngx_http_evbus_metadata_conf_t    *mc, **field;
    ngx_http_evbus_metadata_item_t    *item;
    ngx_http_compile_complex_value_t   ccv;

    field = (ngx_http_evbus_metadata_conf_t **) (p + cmd->offset);
    value = cf->args->elts;

    if (value[1].len == 0) {
        return "has an empty name";
    }

    for (b = ngx_http_evbus_metadata_builtin; b->len; b++) {
        if (b->len == value[1].len
            && ngx_strncmp(b->data, value[1].data, b->len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" is a built-in metadata member",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    mc = *field;

    if (mc == NGX_CONF_UNSET_PTR) {
        mc = ngx_pcalloc(cf->pool, sizeof(ngx_http_evbus_metadata_conf_t));
        if (mc == NULL) {
            return NGX_CONF_ERROR;
        }

        if (ngx_array_init(&mc->items, cf->pool, 4,
                           sizeof(ngx_http_evbus_metadata_item_t))
            != NGX_OK
            || ngx_array_init(&mc->names, cf->pool, 4,
                              sizeof(ngx_evbus_name_t))
               != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        *field = mc;
    }

    name = mc->names.elts;

    for (i = 0; i < mc->names.nelts; i++) {
        if (name[i].len == value[1].len
            && ngx_strncmp(name[i].data, value[1].data, value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate metadata member \"%V\"",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    name = ngx_array_push(&mc->names);
    item = ngx_array_push(&mc->items);
    if (name == NULL || item == NULL) {
        return NGX_CONF_ERROR;
    }

    name->data = value[1].data;
    name->len = value[1].len;

    item->name_json.data = ngx_pnalloc(cf->pool,
                                       ngx_evbus_json_escape_len(value[1].len));
    if (item->name_json.data == NULL) {
        return NGX_CONF_ERROR;
    }

    item->name_json.len = ngx_evbus_json_escape(item->name_json.data,
                                                value[1].data, value[1].len)
                          - item->name_json.data;

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[2];
    ccv.complex_value = &item->value;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_evbus_metadata_members(ngx_http_request_t *r, void *conf,
    ngx_str_t *out)
{
    u_char                          *p;
    size_t                           len;
    ngx_str_t                       *v;
    ngx_uint_t                       i;
    ngx_http_evbus_metadata_conf_t  *mc = conf;
    ngx_http_evbus_metadata_item_t  *item;

    item = mc->items.elts;

    v = ngx_palloc(r->pool, mc->items.nelts * sizeof(ngx_str_t));
    if (v == NULL) {
        return NGX_ERROR;
    }

    len = 0;

    for (i = 0; i < mc->items.nelts; i++) {
        if (ngx_http_complex_value(r, &item[i].value, &v[i]) != NGX_OK) {
            return NGX_ERROR;
        }

        /* copied into every event of the request: bounded */

        v[i].len = ngx_evbus_json_cut(v[i].data, v[i].len,
                                      NGX_HTTP_EVBUS_METADATA_VALUE_MAX);

        len += sizeof(",\"\":\"\"") - 1 + item[i].name_json.len
               + (v[i].len ? ngx_evbus_json_escape_len(v[i].len)
                           : sizeof("null") - 1);
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    for (i = 0; i < mc->items.nelts; i++) {
        *p++ = ',';
        *p++ = '"';
        p = ngx_cpymem(p, item[i].name_json.data, item[i].name_json.len);
        *p++ = '"';
        *p++ = ':';

        if (v[i].len == 0) {
            p = ngx_cpymem(p, "null", sizeof("null") - 1);
            continue;
        }

        *p++ = '"';
        p = ngx_evbus_json_escape(p, v[i].data, v[i].len);
        *p++ = '"';
    }

    out->len = p - out->data;

    return NGX_OK;
}


size_t
ngx_http_evbus_metadata_max(void *conf)
{
    size_t                           len;
    ngx_uint_t                       i;
    ngx_http_evbus_metadata_conf_t  *mc = conf;
    ngx_http_evbus_metadata_item_t  *item;

    if (mc == NULL) {
        return 0;
    }

    len = 0;
    item = mc->items.elts;

    for (i = 0; i < mc->items.nelts; i++) {
        len += sizeof(",\"\":\"\"") - 1 + item[i].name_json.len
               + ngx_evbus_json_escape_len(NGX_HTTP_EVBUS_METADATA_VALUE_MAX);
    }

    return len;
}


const ngx_evbus_name_t *
ngx_http_evbus_metadata_names(void *conf, size_t *n)
{
    ngx_http_evbus_metadata_conf_t  *mc = conf;

    *n = mc->names.nelts;

    return mc->names.elts;
}
