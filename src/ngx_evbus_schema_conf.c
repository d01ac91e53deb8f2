
/*
 * Copyright (C) ngx_evbus authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_evbus_module.h"
#include "ngx_evbus_schema.h"
#include "ngx_evbus_schema_conf.h"


/*
 * Schemas are loaded and compiled while nginx reads its configuration,
 * into the configuration's pool: `nginx -t` reports a broken file, a
 * reload loads the directory afresh, and a reload that fails leaves the
 * old cycle, with its schemas, serving.  Patterns go to nginx's regex
 * engine in UTF mode, so that "." and lengths count characters.
 */


typedef struct {
    ngx_str_t             path;
    ngx_evbus_schemas_t  *set;
} ngx_evbus_schema_set_t;


static ngx_evbus_schemas_t *ngx_http_evbus_schemas_load(ngx_conf_t *cf,
    ngx_str_t *path);
static void *ngx_http_evbus_schema_alloc(void *ctx, size_t size);
static void *ngx_http_evbus_schema_regex_compile(void *ctx,
    const unsigned char *pattern, size_t len, char *err, size_t err_len);
static int ngx_http_evbus_schema_regex_match(void *ctx, void *regex,
    const unsigned char *s, size_t len);


char *
ngx_http_evbus_schemas(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_evbus_loc_conf_t *elcf = conf;

    ngx_str_t                   *value, path;
    ngx_uint_t                   i;
    ngx_evbus_schema_set_t      *s;
    ngx_http_evbus_main_conf_t  *emcf;

    if (elcf->schemas != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        elcf->schemas = NULL;
        return NGX_CONF_OK;
    }

    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    emcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_evbus_module);

    if (emcf->schema_sets == NULL) {
        emcf->schema_sets = ngx_array_create(cf->pool, 2,
                                             sizeof(ngx_evbus_schema_set_t));
        if (emcf->schema_sets == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    /* one directory is loaded once, however many locations use it */

    s = emcf->schema_sets->elts;

    for (i = 0; i < emcf->schema_sets->nelts; i++) {
        if (s[i].path.len == path.len
            && ngx_strncmp(s[i].path.data, path.data, path.len) == 0)
        {
            elcf->schemas = s[i].set;
            return NGX_CONF_OK;
        }
    }

    s = ngx_array_push(emcf->schema_sets);
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    s->path = path;
    s->set = ngx_http_evbus_schemas_load(cf, &path);

    if (s->set == NULL) {
        emcf->schema_sets->nelts--;
        return NGX_CONF_ERROR;
    }

    elcf->schemas = s->set;

    return NGX_CONF_OK;
}


static ngx_evbus_schemas_t *
ngx_http_evbus_schemas_load(ngx_conf_t *cf, ngx_str_t *path)
{
    char                    err[NGX_EVBUS_SCHEMA_ERR_LEN], *dir;
    ngx_evbus_schemas_t    *set;
    ngx_evbus_schema_env_t  env;

    dir = ngx_pnalloc(cf->pool, path->len + 1);
    if (dir == NULL) {
        return NULL;
    }

    (void) ngx_cpystrn((u_char *) dir, path->data, path->len + 1);

    env.alloc = ngx_http_evbus_schema_alloc;
    env.alloc_ctx = cf->pool;
    env.regex_compile = ngx_http_evbus_schema_regex_compile;
    env.regex_match = ngx_http_evbus_schema_regex_match;
    env.regex_ctx = cf;

    set = ngx_evbus_schemas_create(&env);
    if (set == NULL) {
        return NULL;
    }

    if (ngx_evbus_schemas_load(set, dir, err, sizeof(err)) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "evbus_schemas: %s", err);
        return NULL;
    }

    ngx_conf_log_error(NGX_LOG_DEBUG, cf, 0,
                       "evbus_schemas: %uz schemas of %uz event types"
                       " from \"%V\"", ngx_evbus_schemas_count(set),
                       ngx_evbus_schemas_types(set), path);

    return set;
}


static void *
ngx_http_evbus_schema_alloc(void *ctx, size_t size)
{
    return ngx_palloc(ctx, size);
}


static void *
ngx_http_evbus_schema_regex_compile(void *ctx, const unsigned char *pattern,
    size_t len, char *err, size_t err_len)
{
    u_char               *p, errstr[NGX_MAX_CONF_ERRSTR];
    ngx_conf_t           *cf;
    ngx_regex_compile_t   rc;

    cf = ctx;

    ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

    rc.pattern.len = sizeof("(*UTF)") - 1 + len;
    rc.pattern.data = ngx_pnalloc(cf->pool, rc.pattern.len);
    if (rc.pattern.data == NULL) {
        (void) ngx_cpystrn((u_char *) err, (u_char *) "out of memory",
                           err_len);
        return NULL;
    }

    p = ngx_cpymem(rc.pattern.data, "(*UTF)", sizeof("(*UTF)") - 1);
    ngx_memcpy(p, pattern, len);

    rc.pool = cf->pool;
    rc.err.len = NGX_MAX_CONF_ERRSTR;
    rc.err.data = errstr;

    if (ngx_regex_compile(&rc) != NGX_OK) {
        p = ngx_snprintf((u_char *) err, err_len - 1, "%V", &rc.err);
        *p = '\0';
        return NULL;
    }

#if (NGX_PCRE2)

    /*
     * nginx JIT-compiles only with "pcre_jit on"; schema patterns run for
     * every event, and JIT halves their cost.  Without JIT support, or
     * when it fails, pcre2_match() interprets as before.
     */

    (void) pcre2_jit_compile(rc.regex, PCRE2_JIT_COMPLETE);

#endif

    return rc.regex;
}


static int
ngx_http_evbus_schema_regex_match(void *ctx, void *regex,
    const unsigned char *s, size_t len)
{
    ngx_int_t  rc;
    ngx_str_t  str;

    str.data = (u_char *) s;
    str.len = len;

    rc = ngx_regex_exec(regex, &str, NULL, 0);

    if (rc >= 0) {
        return 1;
    }

    return (rc == NGX_REGEX_NO_MATCHED) ? 0 : -1;
}
