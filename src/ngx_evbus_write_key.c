
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <xxhash.h>

#include "ngx_evbus_module.h"
#include "ngx_evbus_json.h"
#include "ngx_evbus_headers.h"
#include "ngx_evbus_write_key.h"


#define NGX_HTTP_EVBUS_WRITE_KEYS_FILE_MAX  (1024 * 1024)


typedef struct {
    ngx_str_t           key;
    ngx_str_t           label;
    ngx_str_t           label_json;
} ngx_http_evbus_write_key_t;


static char *ngx_http_evbus_write_keys_parse(ngx_conf_t *cf,
    ngx_array_t *keys, ngx_str_t *file, u_char *p, u_char *last);
static ngx_int_t ngx_http_evbus_write_key_get(ngx_http_request_t *r,
    ngx_str_t *key);
static ngx_uint_t ngx_http_evbus_write_key_equal(ngx_str_t *a, ngx_str_t *b);


char *
ngx_http_evbus_write_keys(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    u_char           *text;
    ssize_t           n;
    ngx_str_t        *value, name;
    ngx_file_t        file;
    ngx_array_t      *keys, **field;
    ngx_file_info_t   fi;

    field = (ngx_array_t **) (p + cmd->offset);

    if (*field != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
        *field = NULL;
        return NGX_CONF_OK;
    }

    name = value[1];

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = name;
    file.log = cf->log;

    file.fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &name);
        return NGX_CONF_ERROR;
    }

    text = NULL;
    n = NGX_ERROR;

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", &name);
        goto close;
    }

    if (ngx_file_size(&fi) > NGX_HTTP_EVBUS_WRITE_KEYS_FILE_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "write keys file \"%V\" is larger than %d bytes",
                           &name, NGX_HTTP_EVBUS_WRITE_KEYS_FILE_MAX);
        goto close;
    }

    text = ngx_pnalloc(cf->pool, (size_t) ngx_file_size(&fi) + 1);
    if (text == NULL) {
        goto close;
    }

    n = ngx_read_file(&file, text, (size_t) ngx_file_size(&fi), 0);

close:

    if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed", &name);
    }

    if (text == NULL || n == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    keys = ngx_array_create(cf->pool, 8, sizeof(ngx_http_evbus_write_key_t));
    if (keys == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_evbus_write_keys_parse(cf, keys, &name, text, text + n)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (keys->nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no write key in \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    *field = keys;

    return NGX_CONF_OK;
}


/*
 * One key a line, then an optional label: "wk_live_abc123 web-shop";
 * '#' starts a comment.  A key without a label gets "wk-" and 8 hex
 * digits of its hash, so that the key itself is never recorded.
 */

static char *
ngx_http_evbus_write_keys_parse(ngx_conf_t *cf, ngx_array_t *keys,
    ngx_str_t *file, u_char *p, u_char *last)
{
    u_char                      *eol, *s;
    uint64_t                     hash;
    ngx_str_t                    word[3];
    ngx_uint_t                   line, nw, i;
    ngx_http_evbus_write_key_t  *k, *all;

    for (line = 1; p < last; line++, p = eol + 1) {

        eol = ngx_strlchr(p, last, '\n');
        if (eol == NULL) {
            eol = last;
        }

        nw = 0;
        s = p;

        while (s < eol && *s != '#') {

            if (*s == ' ' || *s == '\t' || *s == '\r') {
                s++;
                continue;
            }

            if (nw == 3) {
                nw++;
                break;
            }

            word[nw].data = s;

            while (s < eol && *s != ' ' && *s != '\t' && *s != '\r'
                   && *s != '#')
            {
                s++;
            }

            word[nw].len = s - word[nw].data;
            nw++;
        }

        if (nw == 0) {
            continue;
        }

        if (nw > 2) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid line %ui in \"%V\":"
                               " expected \"key [label]\"", line, file);
            return NGX_CONF_ERROR;
        }

        if (word[0].len > NGX_HTTP_EVBUS_WRITE_KEY_MAX
            || ngx_strlchr(word[0].data, word[0].data + word[0].len, ':'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid write key on line %ui in \"%V\":"
                               " at most %d bytes, without \":\"",
                               line, file, NGX_HTTP_EVBUS_WRITE_KEY_MAX);
            return NGX_CONF_ERROR;
        }

        all = keys->elts;

        for (i = 0; i < keys->nelts; i++) {
            if (all[i].key.len == word[0].len
                && ngx_strncmp(all[i].key.data, word[0].data, word[0].len)
                   == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate write key on line %ui"
                                   " in \"%V\"", line, file);
                return NGX_CONF_ERROR;
            }
        }

        k = ngx_array_push(keys);
        if (k == NULL) {
            return NGX_CONF_ERROR;
        }

        k->key = word[0];

        if (nw == 2) {
            k->label = word[1];

        } else {
            hash = XXH3_64bits(word[0].data, word[0].len);

            k->label.data = ngx_pnalloc(cf->pool, sizeof("wk-12345678") - 1);
            if (k->label.data == NULL) {
                return NGX_CONF_ERROR;
            }

            k->label.len = ngx_sprintf(k->label.data, "wk-%08xD",
                                       (uint32_t) (hash >> 32))
                           - k->label.data;
        }

        k->label_json.data = ngx_pnalloc(cf->pool,
                                       ngx_evbus_json_escape_len(k->label.len));
        if (k->label_json.data == NULL) {
            return NGX_CONF_ERROR;
        }

        k->label_json.len = ngx_evbus_json_escape(k->label_json.data,
                                                  k->label.data, k->label.len)
                            - k->label_json.data;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_evbus_write_key(ngx_http_request_t *r, void *conf,
    ngx_str_t *label, ngx_str_t *json)
{
    ngx_str_t  key;

    if (ngx_http_evbus_write_key_get(r, &key) != NGX_OK) {
        return NGX_DECLINED;
    }

    return ngx_http_evbus_write_key_lookup(conf, &key, label, json);
}


size_t
ngx_http_evbus_write_key_max(void *conf)
{
    size_t                       max;
    ngx_uint_t                   i;
    ngx_array_t                 *keys = conf;
    ngx_http_evbus_write_key_t  *k;

    if (keys == NULL) {
        return 0;
    }

    max = 0;
    k = keys->elts;

    for (i = 0; i < keys->nelts; i++) {
        max = ngx_max(max, k[i].label_json.len);
    }

    return sizeof(",\"write_key\":\"\"") - 1 + max;
}


ngx_int_t
ngx_http_evbus_write_key_lookup(void *conf, ngx_str_t *key, ngx_str_t *label,
    ngx_str_t *json)
{
    ngx_uint_t                   i, eq;
    ngx_array_t                 *keys = conf;
    ngx_http_evbus_write_key_t  *k, *found;

    /* every key is compared, each in constant time */

    found = NULL;
    k = keys->elts;

    for (i = 0; i < keys->nelts; i++) {
        eq = ngx_http_evbus_write_key_equal(key, &k[i].key);
        found = (ngx_http_evbus_write_key_t *)
                    (((uintptr_t) &k[i] & (0 - (uintptr_t) eq))
                     | ((uintptr_t) found & ((uintptr_t) eq - 1)));
    }

    if (found == NULL) {
        return NGX_ABORT;
    }

    *label = found->label;

    if (json) {
        *json = found->label_json;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_evbus_write_key_get(ngx_http_request_t *r, ngx_str_t *key)
{
    u_char           *p, *last;
    ngx_str_t         b64, dec;
    ngx_table_elt_t  *h;

    h = r->headers_in.authorization;

    if (h && h->value.len > sizeof("Basic ") - 1
        && ngx_strncasecmp(h->value.data, (u_char *) "Basic ",
                           sizeof("Basic ") - 1) == 0)
    {
        b64.data = h->value.data + sizeof("Basic ") - 1;
        b64.len = h->value.len - (sizeof("Basic ") - 1);

        while (b64.len && *b64.data == ' ') {
            b64.data++;
            b64.len--;
        }

        if (b64.len == 0
            || b64.len > 4 * (NGX_HTTP_EVBUS_WRITE_KEY_MAX + 3) / 3 + 8)
        {
            return NGX_DECLINED;
        }

        dec.data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(b64.len));
        if (dec.data == NULL) {
            return NGX_DECLINED;
        }

        if (ngx_decode_base64(&dec, &b64) != NGX_OK) {
            return NGX_DECLINED;
        }

        /* "key:", the password part empty or ignored */

        p = dec.data;
        last = ngx_strlchr(p, p + dec.len, ':');

        key->data = p;
        key->len = (last ? last : p + dec.len) - p;

        return key->len ? NGX_OK : NGX_DECLINED;
    }

    h = ngx_http_evbus_header_in(r, "X-Write-Key", sizeof("X-Write-Key") - 1);

    if (h && h->value.len) {
        *key = h->value;
        return NGX_OK;
    }

    if (r->args.len
        && ngx_http_arg(r, (u_char *) "writeKey", sizeof("writeKey") - 1, key)
           == NGX_OK
        && key->len)
    {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


static ngx_uint_t
ngx_http_evbus_write_key_equal(ngx_str_t *a, ngx_str_t *b)
{
    size_t      i;
    ngx_uint_t  d;

    if (a->len > NGX_HTTP_EVBUS_WRITE_KEY_MAX) {
        return 0;
    }

    d = a->len ^ b->len;

    for (i = 0; i < a->len; i++) {
        d |= a->data[i] ^ b->data[i % b->len];
    }

    return d == 0;
}


ngx_int_t
ngx_http_evbus_write_key_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                   label;
    ngx_http_evbus_loc_conf_t  *elcf;

    elcf = ngx_http_get_module_loc_conf(r, ngx_http_evbus_module);

    if (elcf == NULL || elcf->write_keys == NULL
        || ngx_http_evbus_write_key(r, elcf->write_keys, &label, NULL)
           != NGX_OK)
    {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = label.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = label.data;

    return NGX_OK;
}
